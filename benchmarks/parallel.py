"""Speed-up of a search with n_jobs=2 over n_jobs=1, measured in one run.

First scikit-learn's GridSearchCV, then skhp's NarrowingSearchCV with its
trials stored in SQLite (a new file each run; one round of all candidates, so
the round's candidates x folds run in parallel as without storage).

The same GridSearchCV (skhp MLP on digits, candidates x 3 folds, no refit: the
refit is one fit in the main process whatever n_jobs is) runs with n_jobs=1,
then twice with n_jobs=2: "cold" includes starting the joblib
workers (each imports TensorFlow), "warm" reuses them as a second search in the
same session does. Each worker trains with its share of the cores
(``skhp.runtime``); without that, every worker's TensorFlow takes all cores
and the workers slow each other down.

Last, the main job (``skhp tune --seed 0``, its built-in default, every fold packed) in
fresh processes with ``[search] n_jobs = 1`` and ``2``, alternating, twice each: its
rounds are answered in the search's process, so ``n_jobs=2`` must cost nothing.

Run: ``python benchmarks/parallel.py`` (``--candidates``, ``--epochs``, ``--only-main-job``).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from skhp import KerasClassifier  # noqa: E402
from skhp.search import NarrowingSearchCV, Real  # noqa: E402


def run(n_jobs, X, y, grid, epochs):
    search = GridSearchCV(KerasClassifier(hidden_layer_sizes=(64,), epochs=epochs, random_state=0),
                          grid, cv=3, n_jobs=n_jobs, refit=False)
    tic = time.perf_counter()
    search.fit(X, y)
    return time.perf_counter() - tic, search.best_score_


def run_stored(n_jobs, X, y, n_candidates, epochs, folder):
    db = os.path.join(folder, f"trials-{n_jobs}-{time.perf_counter_ns()}.db")
    search = NarrowingSearchCV(
        KerasClassifier(hidden_layer_sizes=(64,), epochs=epochs, random_state=0),
        {"learning_rate": Real(1e-3, 3e-2, log=True), "smoothing": [0.0, 0.1]},
        n_iter=n_candidates, n_initial=n_candidates, cv=3, n_jobs=n_jobs, random_state=0,
        refit=False, storage=f"sqlite:///{db}")
    tic = time.perf_counter()
    search.fit(X, y)
    return time.perf_counter() - tic, search.best_score_


def main_job(n_jobs):
    """One ``skhp tune --seed 0`` with ``n_jobs`` workers in a fresh folder: (seconds, best CV)."""
    with tempfile.TemporaryDirectory() as folder:
        config = os.path.join(folder, "jobs.toml")
        with open(config, "w") as f:
            f.write(f"[search]\nn_jobs = {n_jobs}\n")
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "skhp", "tune", "--seed", "0", "--quiet",
                               "--config", config, "--output", os.path.join(folder, "out")],
                              capture_output=True, text=True, cwd=folder, check=True)
        seconds = time.perf_counter() - start
    return seconds, float(re.search(r"best score ([0-9.]+)", done.stdout).group(1))


def main_job_rows():
    runs = {1: [], 2: []}
    for n_jobs in (1, 2, 1, 2):
        runs[n_jobs].append(main_job(n_jobs))
    print("The main job (skhp tune --seed 0), fresh processes, alternating")
    for n_jobs, values in runs.items():
        print(f"n_jobs={n_jobs}            " + " / ".join(f"{t:5.1f} s" for t, _ in values)
              + f"   best {values[0][1]:.4f}")
    one, two = (sum(t for t, _ in runs[n]) for n in (1, 2))
    print(f"n_jobs=2 takes {two / one:.2f} of n_jobs=1's time")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=8, choices=[2, 4, 6, 8])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--only-main-job", action="store_true", help="run the last comparison only")
    args = parser.parse_args()
    if args.only_main_job:
        return main_job_rows()
    X, y = load_digits(return_X_y=True)
    X = X / 16
    rates = [1e-3, 3e-3, 1e-2, 3e-2][: max(1, args.candidates // 2)]
    grid = {"learning_rate": rates, "smoothing": [0.0, 0.1]}
    n_fits = len(rates) * 2 * 3

    serial, score1 = run(1, X, y, grid, args.epochs)
    cold, score2 = run(2, X, y, grid, args.epochs)
    warm, _ = run(2, X, y, grid, args.epochs)
    print(f"GridSearchCV, {n_fits} fits (digits MLP (64,), {args.epochs} epochs), "
          f"{os.cpu_count()} cores")
    print(f"n_jobs=1            {serial:6.1f} s   best {score1:.4f}")
    print(f"n_jobs=2 (cold)     {cold:6.1f} s   best {score2:.4f}   speed-up {serial / cold:.2f}x")
    print(f"n_jobs=2 (warm)     {warm:6.1f} s                 speed-up {serial / warm:.2f}x")
    with tempfile.TemporaryDirectory() as folder:
        stored1, score1 = run_stored(1, X, y, args.candidates, args.epochs, folder)
        stored2, score2 = run_stored(2, X, y, args.candidates, args.epochs, folder)
    print(f"NarrowingSearchCV with storage, {args.candidates * 3} fits in one round")
    print(f"n_jobs=1            {stored1:6.1f} s   best {score1:.4f}")
    print(f"n_jobs=2 (warm)     {stored2:6.1f} s   best {score2:.4f}   speed-up {stored1 / stored2:.2f}x")
    main_job_rows()


if __name__ == "__main__":
    main()
