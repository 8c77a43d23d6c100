"""Packed searches on a Dask cluster: 2 workers against 1, and what a lost worker costs.

A ``LocalCluster`` of 2 worker processes x 1 thread (TensorFlow limited to
1 thread per worker by Dask's ``OMP_NUM_THREADS=1``) against one of 1 worker
x 1 thread, on a packed ``NarrowingSearchCV`` of ``--candidates`` candidates
x 3 folds on digits (rounds of 16 candidates): (a) the MLP (64,), (b) the
built-in experiment's convolutional network, each run through joblib's
``"dask"`` backend; both clusters are warmed up first (TensorFlow started
in every worker). Printed: seconds (the search with its refit, which
trains once in the search's process after the rounds, and without it), the
2-vs-1 ratio, how many (candidate, fold) jobs each worker trained, and both
runs' best CV score (slots packed differently round differently, and the
narrowing follows its scores, so the two runs' later rounds may propose
other candidates).
(c) The same MLP search on 2 workers with one worker killed while packs
train: the time it adds, and whether the scores still agree.
(d) The MLP search with ``pruning="halving"``: its rungs train on the
workers (slot states travel between rungs); 2 workers against 1, and with a
worker killed mid-rung.

On a machine with GPUs (those TensorFlow sees, or ``--gpus N``) each
worker has one GPU (``CUDA_VISIBLE_DEVICES``), as the scaling guide's real
cluster does: 1 worker on the first GPU against one worker per GPU (with
one GPU, the 1-worker row only: a ratio needs two).

The workers, the search's process and the scheduler share the machine's
cores: with fewer than 3 cores the ratio measures their contention as much
as the scaling (2 cores: 1.44x for the MLP; 16 cores: 1.75x). Timings on
a 2-core machine swing by 15-30 % from run to run: ``--repeats 3``
compares medians.

Run: ``python benchmarks/cluster.py [--candidates 64] [--epochs 10] [--mlp-only] [--repeats 1]
[--gpus N]``.
"""

import argparse
import os
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import joblib  # noqa: E402
import numpy as np  # noqa: E402
from distributed import Client, LocalCluster, Nanny, Scheduler, SpecCluster  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from skhp import KerasClassifier  # noqa: E402
from skhp.runtime import visible_gpus  # noqa: E402
from skhp.search import NarrowingSearchCV, Real  # noqa: E402


def make_search(model, candidates, pruning=None):
    return NarrowingSearchCV(model, {"learning_rate": Real(1e-4, 1e-1, log=True), "batch_size": [16, 32, 64]},
                             n_iter=candidates, n_initial=16, round_size=16, cv=3, random_state=0,
                             pruning=pruning)


def timed(client, model, X, y, candidates, pruning=None, kill=False):
    killed = []

    def kill_a_busy_worker():
        while not killed:
            busy = [w for w, tasks in client.processing().items() if tasks]
            if busy:
                killed.append(busy[0])
                try:
                    client.run(os._exit, 1, workers=busy[:1])
                except Exception:  # it died before answering
                    pass
            time.sleep(0.05)

    if kill:
        threading.Thread(target=kill_a_busy_worker, daemon=True).start()
    search = make_search(model, candidates, pruning)
    start = time.perf_counter()
    with joblib.parallel_backend("dask"):
        search.fit(X, y)
    return search, time.perf_counter() - start


def median(timings):
    """The ``(search, seconds)`` of the median time among ``timings``."""
    return sorted(timings, key=lambda run: run[1])[len(timings) // 2]


def cluster_of(workers, gpus=0):
    """A local cluster of ``workers`` one-thread worker processes; with ``gpus``, worker ``i``
    sees GPU ``i`` alone (Dask's own ``dask-cuda`` does the same with ``LocalCUDACluster``)."""
    if not gpus:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
    else:
        cluster = SpecCluster(
            scheduler={"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard_address": None}},
            workers={f"gpu{i}": {"cls": Nanny, "options": {
                "nthreads": 1, "host": "127.0.0.1", "env": {"CUDA_VISIBLE_DEVICES": str(i)}}}
                for i in range(workers)})
    client = Client(cluster)
    client.wait_for_workers(workers, timeout=120)
    return cluster, client


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--mlp-only", action="store_true", help="leave out (b), the CNN")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of each search per cluster (the median is compared)")
    parser.add_argument("--gpus", type=int, default=None,
                        help="GPUs to give one worker each (default: those TensorFlow sees)")
    args = parser.parse_args()
    gpus = visible_gpus() if args.gpus is None else args.gpus
    counts = (1, 2) if not gpus else (1, gpus) if gpus > 1 else (1,)
    many = counts[-1]
    if (os.cpu_count() or 1) < many + 1:
        print(f"note: {os.cpu_count()} cores for {many} workers and the search's process: "
              "they compete for cores", flush=True)
    X, y = load_digits(return_X_y=True)
    X = X / 16
    models = {
        "(a) MLP (64,)": KerasClassifier(hidden_layer_sizes=(64,), epochs=args.epochs, random_state=0),
        "(b) CNN conv (16, 32), (64,)": KerasClassifier(conv_layers=(16, 32), image_shape=(8, 8),
                                                        hidden_layer_sizes=(64,),
                                                        epochs=max(1, args.epochs // 2), random_state=0),
    }
    runs = {}
    for workers in counts:
        cluster, client = cluster_of(workers, gpus)
        with cluster, client:
            timed(client, models["(a) MLP (64,)"].set_params(epochs=1), X, y, 16)  # TensorFlow starts
            models["(a) MLP (64,)"].set_params(epochs=args.epochs)
            for name, model in models.items():
                if args.mlp_only and name != "(a) MLP (64,)":
                    continue
                runs[name, workers] = [timed(client, model, X, y, args.candidates)
                                       for _ in range(args.repeats)]
            runs["(d) MLP (64,), pruning='halving'", workers] = [timed(
                client, models["(a) MLP (64,)"], X, y, args.candidates, pruning="halving")
                for _ in range(args.repeats)]
            if workers == many > 1:
                runs["kill"] = timed(client, models["(a) MLP (64,)"], X, y, args.candidates, kill=True)
                client.wait_for_workers(many, timeout=120)
                runs["pruned kill"] = timed(client, models["(a) MLP (64,)"], X, y, args.candidates,
                                            pruning="halving", kill=True)
    where = ", a GPU per worker" if gpus else ""
    for name in [*(["(a) MLP (64,)"] if args.mlp_only else models),
                 "(d) MLP (64,), pruning='halving'"]:
        medians = [median(runs[name, n]) for n in counts]
        refitless = [float(np.median([t - s.refit_time_ for s, t in runs[name, n]])) for n in counts]
        each = "; ".join(f"{n} worker{'s' * (n > 1)} " + ", ".join(f"{t:.1f}" for _, t in runs[name, n])
                         for n in counts)
        (_, t1), (last, tn), r1, rn = medians[0], medians[-1], refitless[0], refitless[-1]
        versus = (f", {many} workers {tn:.1f} s: {t1 / tn:.2f}x (without the refit: {r1:.1f} s, "
                  f"{rn:.1f} s: {r1 / rn:.2f}x)" if many > 1 else f" (without the refit: {r1:.1f} s)")
        print(f"{name}, {args.candidates} candidates x 3 folds{where} (median of {args.repeats}): "
              f"1 worker {t1:.1f} s{versus} [{each} s]; jobs per worker "
              f"{sorted(last.pack_workers_.values())}; best CV "
              f"{' and '.join(f'{s.best_score_:.4f}' for s, _ in medians)}", flush=True)
    if many == 1:
        return
    for label, (kind, base_name) in {"(c) a worker killed mid-round": ("kill", "(a) MLP (64,)"),
                                     "(d) a worker killed mid-rung": (
                                         "pruned kill", "(d) MLP (64,), pruning='halving'")}.items():
        (base, tn), (killed, tk) = median(runs[base_name, many]), runs[kind]
        apart = np.nanmax(np.abs(base.cv_results_["mean_test_score"]
                                 - killed.cv_results_["mean_test_score"]))
        print(f"{label}: {tk:.1f} s against {tn:.1f} s (+{tk - tn:.1f} s); "
              f"mean CV scores at most {apart:.4f} apart; jobs per worker "
              f"{sorted(killed.pack_workers_.values())}")


if __name__ == "__main__":
    main()
