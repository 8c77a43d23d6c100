"""Packed against ordinary training, measured in one run; prints ratios.

Grids through ``skhp.search.GridSearchCV`` (packed) against scikit-learn's
``GridSearchCV`` on the same estimator, grid and folds (cv=3, digits, n_jobs=1):
wall time and the mean CV score of both (packing changes only the shuffling
streams, so the scores agree within noise):

(a) a user's builder, Dense-BatchNormalization-Dropout: 16 candidates
    (units x dropout x learning rate), 5 epochs, over 3 seeds;
(b) the built-in MLP (64,): 16 candidates (learning rate x weight decay), 5 epochs;
(c) a user's CNN builder (3x3 convolution, pooling) on 8x8 images: 8 candidates, 3 epochs;
(d) a user's recurrent builder (LSTM or GRU over the 8 rows of a digit): 8 candidates, 3 epochs.

Then:

(e) K slots of one shape (digits, 10 epochs, batch 32; the MLP (64,), then
    the built-in experiment's convolutional network): seconds per
    slot-epoch for K = 1, 2, 4, ... 64, against one ordinary fit's; on a GPU
    (when TensorFlow sees one) it goes on to K = 512;
(f) the MLP experiment's search (``DEFAULT_CONFIG`` of ``skhp.experiment``)
    with ``packing="auto"`` and ``packing=False``;
(g) the book's lottery — 10 draws x 3 epochs x 100 steps of an MLP (64, 64)
    on 20,000 x 20 samples — drawn as one pack against one draw after another;
(h) a small packed grid (4 learning rates x 3 folds) with n_jobs=2 against
    n_jobs=1, each in a fresh process (workers cold): every fold packs, so no
    worker should start and n_jobs=2 must not be slower;
(i) a narrowing search over learning rate, batch size, width (8-256) and weight
    decay of the built-in MLP (120 candidates x 3 folds, 8 epochs), each in a
    fresh process: hidden widths padded to buckets (one program per bucket)
    against a program per width (the padding switched off).

Run: ``python benchmarks/packing.py [--quick] [--backend {tensorflow,jax,torch}]``
(``--quick``: one seed, fewer slots, no (f), for a smoke run). On PyTorch a model
with a random layer (Dropout: case (a)) trains as ordinary fits (see ``skhp.packed``).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402


def _digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype("float32"), y


def dense_builder(meta, units=32, dropout=0.0):
    import keras

    return keras.Sequential([
        keras.Input((meta["n_features_in_"],)), keras.layers.Dense(units, activation="relu"),
        keras.layers.BatchNormalization(), keras.layers.Dropout(dropout),
        keras.layers.Dense(meta["n_classes_"], activation="softmax")])


def cnn_builder(meta, filters=8):
    import keras

    return keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(filters, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(), keras.layers.Flatten(),
        keras.layers.Dense(meta["n_classes_"], activation="softmax")])


def recurrent_builder(meta, cell="lstm", units=16):
    import keras

    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    return keras.Sequential([keras.Input((8, 8)), layer(units),
                             keras.layers.Dense(meta["n_classes_"], activation="softmax")])


def grid_case(label, estimator, grid, X, y, seeds=(0,)):
    """skhp's packed GridSearchCV against scikit-learn's on the same estimator; prints the ratios.

    Both searches end with the same refit (one ordinary fit of the best
    candidate on all the data); the ratio is printed with it and without it,
    and the most it could be with that refit: scikit-learn's time over the
    refit's, the speed-up of a cross-validation that took no time at all.
    """
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV as SklearnGridSearchCV
    from sklearn.model_selection import StratifiedKFold

    from skhp.search import GridSearchCV

    ratios, cv_ratios, ceilings, gaps = [], [], [], []
    for seed in seeds:
        est = clone(estimator).set_params(random_state=seed)
        cv = StratifiedKFold(3, shuffle=True, random_state=seed)
        times, means = {}, {}
        refits = {}
        for name, cls in (("skhp", GridSearchCV), ("sklearn", SklearnGridSearchCV)):
            start = time.perf_counter()
            search = cls(est, grid, cv=cv).fit(X, y)
            times[name] = time.perf_counter() - start
            refits[name] = search.refit_time_
            means[name] = float(np.mean(search.cv_results_["mean_test_score"]))
            if name == "skhp":
                packed = list(search.cv_results_["packing"]).count("packed")
        ratios.append(times["sklearn"] / times["skhp"])
        cv_ratios.append((times["sklearn"] - refits["sklearn"]) / (times["skhp"] - refits["skhp"]))
        ceilings.append(times["sklearn"] / refits["skhp"])
        gaps.append(means["skhp"] - means["sklearn"])
        print(f"  seed {seed}: skhp {times['skhp']:.1f} s ({packed}/{len(search.cv_results_['params'])} "
              f"candidates packed; its refit, one ordinary fit, {refits['skhp']:.1f} s), "
              f"scikit-learn {times['sklearn']:.1f} s: {ratios[-1]:.1f}x, the cross-validation "
              f"alone {cv_ratios[-1]:.1f}x; mean CV {means['skhp']:.4f} vs {means['sklearn']:.4f}")
    print(f"({label}) speed-up {np.mean(ratios):.1f}x with the refit, {np.mean(cv_ratios):.1f}x "
          f"the cross-validation alone (mean of {len(seeds)}; at most {np.mean(ceilings):.0f}x "
          f"with this refit); mean CV difference {np.mean(gaps):+.4f}")


def grids(quick):
    from skhp import KerasClassifier

    X, y = _digits()
    seeds = (0,) if quick else (0, 1, 2)
    rates = [1e-3, 3e-3, 1e-2, 3e-2]
    print("(a) a user's builder, Dense-BatchNormalization-Dropout, 16 candidates x 3 folds")
    grid_case("a", KerasClassifier(model=dense_builder, epochs=5, batch_size=32),
              {"model__units": [32, 64], "model__dropout": [0.0, 0.2], "learning_rate": rates},
              X, y, seeds)
    print("(b) the built-in MLP (64,), 16 candidates x 3 folds")
    grid_case("b", KerasClassifier(hidden_layer_sizes=(64,), epochs=5, batch_size=32),
              {"learning_rate": rates, "weight_decay": [0.0, 1e-5, 1e-4, 1e-3]}, X, y)
    print("(c) a user's CNN builder on 8x8 images, 8 candidates x 3 folds")
    grid_case("c", KerasClassifier(model=cnn_builder, epochs=3, batch_size=32),
              {"model__filters": [4, 8], "learning_rate": rates}, X.reshape(-1, 8, 8, 1), y)
    print("(d) a user's recurrent builder (LSTM, GRU) over a digit's 8 rows, 8 candidates x 3 folds")
    grid_case("d", KerasClassifier(model=recurrent_builder, epochs=3, batch_size=32),
              {"model__cell": ["lstm", "gru"], "learning_rate": rates}, X.reshape(-1, 8, 8), y)


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
    import keras

    from skhp import KerasClassifier
    from skhp.packed import advance_packs, start_packs
    from skhp.runtime import visible_gpus

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype("float32")[:1198]
    y = y[:1198]
    params = dict(hidden_layer_sizes=(64,), epochs=10, batch_size=32, **shape)
    start = time.perf_counter()
    KerasClassifier(**params, random_state=0).fit(X, y)
    ordinary = (time.perf_counter() - start) / 10
    gpu = visible_gpus() > 0
    print(f"\n(e) {network} on the {'GPU' if gpu else 'CPU'} ({keras.backend.backend()}); one "
          f"ordinary fit: {ordinary * 1e3:.1f} ms per epoch")
    print("    K   s/slot-epoch   speed-up vs ordinary   first epoch (planning, tracing)")
    rng = np.random.default_rng(0)
    sizes = [1, 2, 4, 8] if quick else [1, 2, 4, 8, 16, 32, 64] + ([128, 256, 512] if gpu else [])
    for k in sizes:
        jobs = [(KerasClassifier(**params, learning_rate=float(10 ** rng.uniform(-4, -1)),
                                 random_state=i), X, y, None) for i in range(k)]
        start = time.perf_counter()
        runs, where = start_packs(jobs)
        if any(isinstance(w, str) for w in where):
            print(f"  {k:3d}   not packed: {next(w for w in where if isinstance(w, str))}")
            break
        advance_packs(runs, lambda run: 1)
        first = time.perf_counter() - start
        advance_packs(runs, lambda run: run.epochs)
        per = (time.perf_counter() - start) / (k * 10)
        print(f"  {k:3d}   {per * 1e3:9.2f} ms   {ordinary / per:6.1f}x{'':16s}{first:6.2f} s")


def lottery_case(draws=10, repeats=3):
    import statistics

    from sklearn.datasets import make_classification

    from skhp import KerasClassifier
    from skhp.lottery import draw_lottery, train_lottery

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
            optimizer = est.fit_settings().lottery_optimizer
            draw = dict(draws=draws, batch_size=32, epochs=3, steps=100, seed=repeat)
            if way == "packed":
                train_lottery(est.model_, X, onehot, loss=est.model_.loss, optimizer=optimizer,
                              lottery_lr=est.lottery_lr, **draw)
            else:
                draw_lottery(est.model_, X, onehot, compile_kwargs={"loss": est.model_.loss},
                             optimizer=optimizer.build(est.lottery_lr), **draw)
            times[way].append(time.perf_counter() - start)
    packed, sequential = (statistics.median(times[w]) for w in ("packed", "sequential"))
    print(f"\n(g) lottery of {draws} draws x 3 epochs x 100 steps, MLP (64, 64), batch 32 "
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
    print("\n(h) small packed grid (4 x 3 folds), fresh process each, workers cold")
    print(f"  n_jobs=1 {seconds[1]:.2f} s, n_jobs=2 {seconds[2]:.2f} s: n_jobs=2 takes "
          f"{seconds[2] / seconds[1]:.2f}x the time of n_jobs=1 (best CV {best:.4f} both)")


WIDTH_SEARCH = """
import sys, time
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold
import skhp.packed._plan
from skhp import KerasClassifier
from skhp.search import Integer, NarrowingSearchCV, Real
if sys.argv[1] == "per-width":  # every width its own program, as before the padding
    skhp.packed._plan.widened = lambda model, signature: None
X, y = load_digits(return_X_y=True)
space = {"learning_rate": Real(1e-4, 1.0, log=True), "batch_size": Integer(8, 256, base=2),
         "hidden_layer_sizes": Integer(8, 256, log=True), "weight_decay": Real(1e-6, 1e-1, log=True)}
search = NarrowingSearchCV(KerasClassifier(epochs=8, random_state=0), space, n_iter=int(sys.argv[2]),
                           round_size=5, cv=StratifiedKFold(3, shuffle=True, random_state=0),
                           random_state=0, refit=False)
start = time.perf_counter()
search.fit((X / 16).astype("float32"), y)
widths = len({str(w) for w in search.cv_results_["param_hidden_layer_sizes"]})
print(time.perf_counter() - start, search.best_score_, widths)
"""


def width_search(quick):
    import subprocess
    import sys

    n_iter, out = 30 if quick else 120, {}
    for mode in ("bucketed", "per-width"):
        run = subprocess.run([sys.executable, "-c", WIDTH_SEARCH, mode, str(n_iter)],
                             capture_output=True, text=True, check=True)
        out[mode] = [float(v) for v in run.stdout.split()[-3:]]
    (fast, best, widths), (slow, best_slow, _) = out["bucketed"], out["per-width"]
    print(f"\n(i) narrowing search over width (and rate, batch size, weight decay), {n_iter} "
          f"candidates x 3 folds, {widths:.0f} widths, fresh process each")
    print(f"  widths padded to buckets {fast:.1f} s, a program per width {slow:.1f} s: "
          f"{slow / fast:.2f}x (best CV {best:.4f} vs {best_slow:.4f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backend", choices=["tensorflow", "jax", "torch"],
                        help="Keras' backend (default: KERAS_BACKEND, else tensorflow)")
    args = parser.parse_args()
    quick = args.quick
    if args.backend:  # before anything imports Keras
        os.environ["KERAS_BACKEND"] = args.backend
    grids(quick)
    slots_table(quick)
    slots_table(quick, "convolutional (16, 32) + (64,)", conv_layers=(16, 32), image_shape=(8, 8))
    print("\n(f) the MLP experiment's search, packed vs ordinary")
    for n_jobs in () if quick else (1, 2):
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
    lottery_case(repeats=1 if quick else 3)
    small_grid_n_jobs()
    width_search(quick)


if __name__ == "__main__":
    main()
