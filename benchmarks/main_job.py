"""The main job (``skhp tune``, its built-in default) over several seeds; prints each run.

For every ``--seed`` the README's first command runs in a fresh process and an
empty folder, exactly as a user runs it: best CV score, the untuned baselines
it prints beside itself on the same folds (``SVC()``, ``MLPClassifier``), the
seconds of the search and of the whole command. Then: how many seeds beat the
untuned ``SVC()`` and the mean best CV.

Run: ``python benchmarks/main_job.py [--seeds 0 1 2 3 4] [--config FILE]``.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time


def run(seed, config=None):
    """One ``skhp tune --seed seed`` in a fresh folder: (best, baselines, search s, command s)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "skhp", "tune", "--seed", str(seed), "--quiet",
                   "--output", os.path.join(folder, "out")]
        if config:
            command += ["--config", os.path.abspath(config)]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=folder, check=True)
        seconds = time.perf_counter() - start
    best = re.search(r"best score (\S+) in (\d+) s", done.stdout)
    baselines = dict((name, float(score)) for name, score in re.findall(
        r"(\w+\(.*?\)) (0\.\d+) \(", done.stdout.split("untuned baselines", 1)[-1]))
    return float(best.group(1)), baselines, float(best.group(2)), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--config", help="a config file passed to every run")
    args = parser.parse_args()
    print("seed  best CV  SVC()   MLPClassifier  search s  command s")
    bests, beaten = [], 0
    for seed in args.seeds:
        best, baselines, search_s, command_s = run(seed, args.config)
        svc = baselines.get("SVC()", float("nan"))
        mlp = next((v for k, v in baselines.items() if k.startswith("MLP")), float("nan"))
        bests.append(best)
        beaten += best > svc
        print(f"{seed:4d}  {best:.4f}   {svc:.4f}  {mlp:.4f}         {search_s:6.0f}  {command_s:9.1f}",
              flush=True)
    print(f"{beaten} of {len(bests)} seeds beat the untuned SVC(); mean best CV "
          f"{sum(bests) / len(bests):.4f}")


if __name__ == "__main__":
    main()
