"""One build function, tuned by KerasTuner's Hyperband and by skhp's: scores and wall time.

The same ``build(hp)`` functions (an MLP and a small CNN on digits, each
with its rate and widths declared through ``hp``) are tuned by
``kt.Hyperband(build, objective="val_accuracy", max_epochs=9, factor=3)``
on one held-out validation split (20 %), then the best hyperparameters
are built and trained on the whole training set, as KerasTuner's users do;
and by ``skhp.search.HyperbandSearchCV(KerasClassifier(model=build),
space_from(build), max_epochs=9, factor=3, cv=3)``, which cross-validates
every candidate, trains them in packs and continues each rung's survivors,
then refits. Printed per seed and as means: the best validation score
(KerasTuner) or CV score (skhp), the test accuracy of the refit model (mean
of ``REFITS`` retrainings), and wall-time seconds (search and one refit)
with their ratio, measured in one run.

``--same-time`` gives skhp KerasTuner's wall time: its search starts new
rounds (``--strategy hyperband``: Hyperband iterations; ``narrowing``: rounds
of a ``NarrowingSearchCV`` pruned by successive halving) until KerasTuner's
search-and-refit seconds, less KerasTuner's refit, have passed, spending what
packing saves on more candidates.

Needs ``pip install -e ".[bench]"`` (keras-tuner).
Run: ``python benchmarks/keras_tuner.py [--seeds 3] [--first-seed 0] [--builds mlp cnn]
[--max-epochs 9] [--same-time --strategy narrowing]``.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# this file's name is the package's: "import keras_tuner" must not find the script itself
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402


#: The chosen hyperparameters are trained this many times (seeds seed, seed + 1, ...) on the
#: whole training set; the test accuracy is their mean, so one unlucky retraining decides nothing.
REFITS = 3


def mlp(hp):
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(hp.Int("units", 32, 128, step=32), activation="relu"),
        keras.layers.Dropout(hp.Float("dropout", 0.0, 0.5, step=0.25)),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def cnn(hp):
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(hp.Int("conv1", 16, 48, step=16), 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(hp.Int("units", 32, 96, step=32), activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(hp.Choice("learning_rate", [1e-1, 1e-2, 1e-3])),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def keras_tuner_run(kt, build, X_train, y_train, X_test, y_test, max_epochs, seed):
    folder = tempfile.mkdtemp()
    start = time.perf_counter()
    tuner = kt.Hyperband(build, objective="val_accuracy", max_epochs=max_epochs, factor=3,
                         seed=seed, directory=folder, project_name="kt", overwrite=True)
    tuner.search(X_train, y_train, validation_split=0.2, verbose=0)
    best_trial = tuner.oracle.get_best_trials(1)[0]
    tests = []
    searched = time.perf_counter() - start
    for refit in range(REFITS):  # the first refit is part of the wall time, as skhp's refit is
        keras.utils.set_random_seed(seed + refit)
        model = tuner.hypermodel.build(best_trial.hyperparameters)
        model.fit(X_train, y_train, epochs=max_epochs, verbose=0)
        seconds = seconds if refit else time.perf_counter() - start
        tests.append(float(np.mean(np.argmax(model.predict(X_test, verbose=0), 1) == y_test)))
    shutil.rmtree(folder, ignore_errors=True)
    keras.backend.clear_session()
    return (float(best_trial.score), float(np.mean(tests)), seconds, len(tuner.oracle.trials),
            searched)


def skhp_run(build, X_train, y_train, X_test, y_test, max_epochs, seed, strategy="hyperband",
             time_budget=None):
    """skhp's search of ``build`` (``strategy``: ``"hyperband"``, one Hyperband iteration, or
    ``"narrowing"``, a pruned narrowing search) and its refit; with ``time_budget``, new
    Hyperband iterations or narrowing rounds start until that many seconds have passed."""
    from skhp import KerasClassifier
    from skhp.search import HyperbandSearchCV, NarrowingSearchCV, space_from

    start = time.perf_counter()
    estimator = KerasClassifier(model=build, epochs=max_epochs, random_state=seed)
    if strategy == "hyperband":
        search = HyperbandSearchCV(estimator, space_from(build), max_epochs=max_epochs, factor=3,
                                   cv=3, random_state=seed, time_budget=time_budget,
                                   hyperband_iterations=1 if time_budget is None else 1000)
    else:
        search = NarrowingSearchCV(estimator, space_from(build), n_iter=30 if time_budget is None
                                   else 100_000, pruning="halving", cv=3, random_state=seed,
                                   time_budget=time_budget)
    search.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    packed = float(np.mean(np.asarray(search.cv_results_["packing"]) == "packed"))
    tests = [search.score(X_test, y_test)] + [
        clone(search.best_estimator_).set_params(random_state=seed + refit).fit(X_train, y_train)
        .score(X_test, y_test) for refit in range(1, REFITS)]
    return (search.best_score_, float(np.mean(tests)), seconds, len(search.cv_results_["params"]),
            packed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--builds", nargs="+", choices=["mlp", "cnn"], default=["mlp", "cnn"])
    parser.add_argument("--max-epochs", type=int, default=9)
    parser.add_argument("--same-time", action="store_true",
                        help="give skhp's search KerasTuner's wall time")
    parser.add_argument("--strategy", choices=["hyperband", "narrowing"], default="hyperband")
    args = parser.parse_args()
    try:
        import keras_tuner as kt
    except ImportError:
        print("skipped: keras-tuner is not installed (pip install -e \".[bench]\")")
        return
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype("float32").reshape(-1, 8, 8, 1)
    for name, build in (("MLP", mlp), ("CNN", cnn)):
        if name.lower() not in args.builds:
            continue
        rows = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                                random_state=seed)
            theirs = keras_tuner_run(kt, build, X_train, y_train, X_test, y_test, args.max_epochs, seed)
            # the same wall time: KerasTuner's search time, less about what the round running
            # at the budget's end then takes (one refit's time); skhp's refit follows
            budget = theirs[4] - (theirs[2] - theirs[4]) if args.same_time else None
            ours = skhp_run(build, X_train, y_train, X_test, y_test, args.max_epochs, seed,
                            args.strategy, budget)
            rows.append((theirs, ours))
            print(f"  {name} seed {seed}: KerasTuner val {theirs[0]:.4f} test {theirs[1]:.4f} "
                  f"{theirs[2]:.1f} s ({theirs[3]} trials, one split); skhp CV {ours[0]:.4f} "
                  f"test {ours[1]:.4f} {ours[2]:.1f} s ({ours[3]} candidates x 3 folds, "
                  f"{ours[4]:.0%} packed); time ratio {theirs[2] / ours[2]:.2f}x", flush=True)
        mean = lambda side, i: float(np.mean([r[side][i] for r in rows]))  # noqa: E731
        print(f"{name}, digits, max_epochs={args.max_epochs}, factor 3, means over {args.seeds} seeds: "
              f"KerasTuner val {mean(0, 0):.4f} test {mean(0, 1):.4f} {mean(0, 2):.1f} s | skhp "
              f"3-fold CV {mean(1, 0):.4f} test {mean(1, 1):.4f} {mean(1, 2):.1f} s | test "
              f"difference {mean(1, 1) - mean(0, 1):+.4f}, skhp's wall time "
              f"{mean(1, 2) / mean(0, 2):.2f} of KerasTuner's ({mean(0, 2) / mean(1, 2):.1f}x faster)",
              flush=True)


if __name__ == "__main__":
    main()
