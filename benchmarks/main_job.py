"""The main job (``skhp tune``, its built-in default) over several seeds; prints each run.

For every ``--seed`` the README's first command runs in a fresh process and an
empty folder, exactly as a user runs it: best CV score, the untuned baselines
it prints beside itself on the same folds (``SVC()``, ``MLPClassifier`` or
``Ridge()``, ``MLPRegressor``), the seconds of the search and of the whole
command. Then: how many seeds beat every untuned baseline and the mean best CV.
``--data`` runs the default job on other bundled data sets (``[data] name = ...``
and the defaults otherwise), one table for all.

Run: ``python benchmarks/main_job.py [--seeds 0 1 2 3 4] [--data digits iris wine
breast_cancer diabetes] [--config FILE]``.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time


def run(seed, config=None, data=None):
    """One ``skhp tune --seed seed`` in a fresh folder: (best, baselines, search s, command s)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "skhp", "tune", "--seed", str(seed), "--quiet",
                   "--output", os.path.join(folder, "out")]
        if data:
            config = os.path.join(folder, "data.toml")
            with open(config, "w") as fh:
                fh.write(f"[data]\nname = '{data}'\n")
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
    parser.add_argument("--data", nargs="+", default=[None],
                        help="bundled data sets to run the default job on (default: digits, "
                             "the built-in default)")
    parser.add_argument("--config", help="a config file passed to every run")
    args = parser.parse_args()
    print("data           seed  best CV  baselines                              beats all  "
          "search s  command s")
    for data in args.data:
        bests, beaten, slowest = [], 0, 0.0
        for seed in args.seeds:
            best, baselines, search_s, command_s = run(seed, args.config, data)
            bests.append(best)
            beats = all(best > score for score in baselines.values())
            beaten += beats
            slowest = max(slowest, command_s)
            shown = ", ".join(f"{name} {score:.4f}" for name, score in baselines.items())
            print(f"{data or 'digits':13s}  {seed:4d}  {best:.4f}   {shown:38s} {'yes' if beats else 'NO':9s}"
                  f"  {search_s:8.0f}  {command_s:9.1f}", flush=True)
        print(f"{data or 'digits'}: {beaten} of {len(bests)} seeds beat every untuned baseline; "
              f"mean best CV {sum(bests) / len(bests):.4f}; slowest command {slowest:.1f} s",
              flush=True)


if __name__ == "__main__":
    main()
