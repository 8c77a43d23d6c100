"""Packed against ordinary training, measured in one run; prints ratios.

(a) the MLP experiment's search (``DEFAULT_CONFIG`` of ``skhp.experiment``:
    digits, MLP (256,), 60 pruned narrowing trials, cv=3) with
    ``packing="auto"`` and ``packing=False``, n_jobs=1 and 2 (workers started
    beforehand): wall time, and the mean CV score difference over the
    candidates both searches tried;
(b) K slots of one shape (digits, 10 epochs, batch 32; the MLP (64,), then
    the built-in experiment's convolutional network: 3x3 convolutions of 16
    and 32 filters, each pooled, and a hidden layer of 64): seconds per
    slot-epoch for K = 1, 2, 4, ... 64, against one ordinary fit's;
    On a GPU (when TensorFlow sees one) the table runs there and goes on to
    K = 512, to show how many slots saturate the card (d);
(c) the book's lottery — 10 draws x 3 epochs x 100 steps of an MLP (64, 64)
    on 20,000 x 20 samples — drawn as one pack against one draw after another
    on the same model (skhp's ordinary way: one compiled model, redrawn);
(e) a small packed grid (4 learning rates x 3 folds, MLP (32,), 3 epochs) with
    n_jobs=2 against n_jobs=1, each in a fresh process (workers cold, as a
    user's first search meets them): every fold packs, so no worker should
    start and n_jobs=2 must not be slower.

Run: ``python benchmarks/packing.py [--quick]`` (``--quick``: fewer slots and
one n_jobs, for a smoke run).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402


def default_search(packing, n_jobs):
    """The MLP experiment's search, run as ``skhp tune`` runs it; (seconds, search)."""
    from skhp.experiment import (DEFAULT_CONFIG, load_data, make_estimator, make_model,
                                 make_search)

    config = {**DEFAULT_CONFIG, "search": {**DEFAULT_CONFIG["search"], "n_jobs": n_jobs}}
    X, y, task, _ = load_data(config["data"])
    model, prefix = make_model(make_estimator(config["model"], task), X, task, config["data"])
    search = make_search(config, model, None, None, prefix).set_params(packing=packing)
    start = time.perf_counter()
    search.fit(X, y)
    return time.perf_counter() - start, search


def warm_workers(n_jobs):
    """Start joblib's workers and import skhp (and TensorFlow) in them; returns the seconds taken.

    Workers are started once per process and reused: warmed up before both
    searches, neither pays their start-up.
    """
    import importlib

    from joblib import Parallel, delayed

    start = time.perf_counter()
    Parallel(n_jobs=n_jobs)(delayed(importlib.import_module)("skhp.estimators") for _ in range(2 * n_jobs))
    return time.perf_counter() - start


def slots_table(quick, network="MLP (64,)", **shape):
    from skhp import KerasClassifier
    from skhp.packed import train_packs
    from skhp.runtime import visible_gpus

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype("float32")[:1198]
    y = y[:1198]
    params = dict(hidden_layer_sizes=(64,), epochs=10, batch_size=32, **shape)
    start = time.perf_counter()
    KerasClassifier(**params, random_state=0).fit(X, y)
    ordinary = (time.perf_counter() - start) / 10
    gpu = visible_gpus() > 0
    print(f"\n({'d' if gpu else 'b'}) {network} on the {'GPU' if gpu else 'CPU'}; one ordinary "
          f"fit: {ordinary * 1e3:.1f} ms per epoch")
    print("    K   s/slot-epoch   speed-up vs ordinary")
    rng = np.random.default_rng(0)
    sizes = [1, 2, 4, 8] if quick else [1, 2, 4, 8, 16, 32, 64] + ([128, 256, 512] if gpu else [])
    for k in sizes:
        jobs = [(KerasClassifier(**params, learning_rate=float(10 ** rng.uniform(-4, -1)),
                                 random_state=i), X, y, None) for i in range(k)]
        start = time.perf_counter()
        train_packs(jobs)
        per = (time.perf_counter() - start) / (k * 10)
        print(f"  {k:3d}   {per * 1e3:9.2f} ms   {ordinary / per:6.1f}x")


def lottery_case(draws=10, repeats=3):
    import statistics

    from sklearn.datasets import make_classification

    from skhp import KerasClassifier
    from skhp._training import optimizer_class
    from skhp.initializers import draw_lottery
    from skhp.packed import train_lottery

    X, y = make_classification(20000, 20, n_informative=10, n_classes=3, random_state=0)
    X = X.astype("float32")
    times = {"packed": [], "sequential": []}
    for repeat in range(repeats):
        est = KerasClassifier(hidden_layer_sizes=(64, 64), batch_size=32, lottery=draws,
                              lottery_epochs=3, lottery_steps=100, random_state=repeat)
        for way in ("packed", "sequential"):
            est.initialize(X, y)
            onehot = est.target_encoder_.transform(y)
            start = time.perf_counter()
            if way == "packed":
                train_lottery(est, X, onehot, 32)
            else:
                cls, config = optimizer_class(est.optimizer)
                draw_lottery(est.model_, X, onehot, draws=draws,
                             compile_kwargs=est._compile_kwargs_for_fit(),
                             optimizer=cls.from_config({**config, "learning_rate": est.lottery_lr}),
                             batch_size=32, epochs=3, steps=100, seed=repeat)
            times[way].append(time.perf_counter() - start)
    packed, sequential = (statistics.median(times[w]) for w in ("packed", "sequential"))
    print(f"\n(c) lottery of {draws} draws x 3 epochs x 100 steps, MLP (64, 64), batch 32 "
          f"(median of {repeats})")
    print(f"  one after another {sequential:.2f} s, one pack {packed:.2f} s, "
          f"speed-up {sequential / packed:.1f}x (the first pack, which traces its program: "
          f"{times['packed'][0]:.2f} s, {times['sequential'][0] / times['packed'][0]:.1f}x)")


SMALL_GRID = """
import sys, time
from sklearn.datasets import load_digits
import skhp
from skhp.search import GridSearchCV
X, y = load_digits(return_X_y=True)
search = GridSearchCV(skhp.KerasClassifier(hidden_layer_sizes=(32,), epochs=3, random_state=0),
                      {"learning_rate": [1e-3, 3e-3, 1e-2, 3e-2]}, cv=3, n_jobs=int(sys.argv[1]))
start = time.perf_counter()
search.fit(X / 16, y)
print(time.perf_counter() - start, search.best_score_)
"""


def small_grid_n_jobs():
    import subprocess
    import sys

    seconds = {}
    for n_jobs in (1, 2):
        run = subprocess.run([sys.executable, "-c", SMALL_GRID, str(n_jobs)], capture_output=True,
                             text=True, check=True)
        seconds[n_jobs], best = map(float, run.stdout.split()[-2:])
    print("\n(e) small packed grid (4 x 3 folds), fresh process each, workers cold")
    print(f"  n_jobs=1 {seconds[1]:.2f} s, n_jobs=2 {seconds[2]:.2f} s: n_jobs=2 takes "
          f"{seconds[2] / seconds[1]:.2f}x the time of n_jobs=1 (best CV {best:.4f} both)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    print("(a) the MLP experiment's search, packed vs ordinary")
    for n_jobs in (1,) if quick else (1, 2):
        if n_jobs > 1:
            print(f"  (starting {n_jobs} workers, once per process: {warm_workers(n_jobs):.1f} s)")
        packed_s, packed = default_search("auto", n_jobs)
        plain_s, plain = default_search(False, n_jobs)
        # Later rounds follow each search's own results; candidates both tried are compared.
        scores = [{repr(sorted(p.items())): m for p, m in zip(s.cv_results_["params"],
                                                            s.cv_results_["mean_test_score"])}
                  for s in (packed, plain)]
        both = sorted(set(scores[0]) & set(scores[1]))
        diff = np.nanmean([scores[0][c] - scores[1][c] for c in both])
        print(f"  n_jobs={n_jobs}: packed {packed_s:.1f} s, ordinary {plain_s:.1f} s, "
              f"speed-up {plain_s / packed_s:.1f}x; best CV {packed.best_score_:.4f} vs "
              f"{plain.best_score_:.4f}; mean CV score difference over the {len(both)} "
              f"candidates both tried {diff:+.4f}")
    slots_table(quick)
    slots_table(quick, "convolutional (16, 32) + (64,)", conv_layers=(16, 32), image_shape=(8, 8))
    lottery_case(repeats=1 if quick else 3)
    small_grid_n_jobs()


if __name__ == "__main__":
    main()
