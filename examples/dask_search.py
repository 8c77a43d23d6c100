"""A NarrowingSearchCV on a Dask cluster.

Starts a local cluster of worker processes (loopback only) and runs the search
through joblib's Dask backend: each round's packs train on the workers (the
search's data is sent to them once), and the script reports how many
(trial, fold) jobs each worker trained. With ``--pruning halving`` the rounds
train rung by rung on the workers, the pruning decided here between rungs.
Against a real cluster, give its scheduler's address instead:
``--scheduler tcp://host:8786``.

Run: ``python examples/dask_search.py`` (``--workers``, ``--trials``, ``--epochs``,
``--pruning``).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import joblib  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from skhp import KerasClassifier  # noqa: E402
from skhp.search import Integer, NarrowingSearchCV, Real  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scheduler", help="address of a running scheduler (default: a local cluster)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--pruning", choices=["halving", "median"], help="prune between rungs")
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    cluster = None if args.scheduler else LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None)
    with Client(args.scheduler or cluster) as client:
        print(f"Dask cluster: {len(client.scheduler_info()['workers'])} workers")
        search = NarrowingSearchCV(
            KerasClassifier(hidden_layer_sizes=(64,), epochs=args.epochs, random_state=0),
            {"learning_rate": Real(1e-4, 1e-1, log=True), "batch_size": Integer(16, 128, base=2)},
            n_iter=args.trials, n_initial=max(1, args.trials // 2), round_size=max(1, args.trials // 4),
            cv=3, random_state=0, n_jobs=-1, pruning=args.pruning)
        tic = time.perf_counter()
        with joblib.parallel_backend("dask"):
            search.fit(X / 16, y)
        print(f"{len(search.cv_results_['params'])} trials x 3 folds in {time.perf_counter() - tic:.0f} s; "
              f"best CV accuracy {search.best_score_:.4f} with {search.best_params_}")
        if args.pruning:
            print(f"{int(sum(search.cv_results_['pruned']))} trials pruned between rungs")
        for worker, jobs in sorted(search.pack_workers_.items()):
            print(f"  {worker}: {jobs} (trial, fold) jobs trained in packs")
    if cluster is not None:
        cluster.close()


if __name__ == "__main__":
    main()
