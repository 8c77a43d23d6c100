"""Pruning against full training, and skhp's Hyperband against KerasTuner's; prints ratios.

(a) the MLP experiment (``DEFAULT_CONFIG`` of ``skhp.experiment``: digits, MLP (256,),
    27 epochs — rungs 1, 3, 9, 27 —, narrowing over its six-parameter space,
    cv=3), and (b) a second problem (breast cancer,
    MLP (32,), 27 epochs, cv=3): an unpruned narrowing search of ``--trials``
    candidates against the same search with ``pruning="halving"`` and
    ``"median"`` and three times the candidates. For each seed: the fold-epochs
    and seconds the pruned search needs to reach the unpruned search's best CV
    score (its best-so-far after every round), as a fraction of the unpruned
    search's; medians over seeds.
(c) KerasTuner's ``Hyperband`` against skhp's ``HyperbandSearchCV`` (same
    MLP, space, ``max_epochs``, ``factor``, KerasTuner's validation split of
    20 % as skhp's one split) and skhp's narrowing with halving at no more
    epochs: held-out test accuracy of the best parameters retrained on the
    whole training set (mean of three retrainings), epochs and seconds of the
    search; medians over seeds. Needs
    ``pip install -e ".[bench]"`` (keras-tuner); skipped without it.

Run: ``python benchmarks/pruning.py [--seeds 3] [--trials 20] [--quick]``.
"""

import argparse
import os
import shutil
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits  # noqa: E402
from sklearn.model_selection import ShuffleSplit, train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


#: (c): the chosen parameters are retrained this many times (seeds 0, 1, ...) on the whole
#: training set; the test accuracy is their mean, so that one unlucky retraining decides nothing.
REFITS = 3


class Trajectory:
    """Best CV score, fold-epochs and seconds after every round of a search."""

    def __init__(self, n_splits):
        self.n_splits, self.start, self.points = n_splits, time.perf_counter(), []

    def __call__(self, results):
        scores = np.asarray(results[next(k for k in results if k.startswith("mean_test_"))], float)
        epochs = np.asarray(results["epochs_trained"], float) if "epochs_trained" in results else None
        self.points.append((time.perf_counter() - self.start,
                            None if epochs is None else float(np.nansum(epochs)) * self.n_splits,
                            float(np.nanmax(scores)) if np.isfinite(scores).any() else -np.inf))

    def reach(self, target):
        """(fold-epochs, seconds) at the first round whose best is >= target, else None."""
        for seconds, epochs, best in self.points:
            if best >= target - 1e-12:
                return epochs, seconds
        return None


def problem(name):
    if name == "digits":  # the MLP experiment (DEFAULT_CONFIG): data, space and model
        from skhp.experiment import DEFAULT_CONFIG, load_data, make_estimator, make_model, make_space

        config = DEFAULT_CONFIG
        X, y, task, _ = load_data(config["data"])
        model, prefix = make_model(make_estimator(config["model"], task), X, task, config["data"])
        space = {prefix + k: v for k, v in make_space(config["search"]["space"]).items()}
        return X, y, model, space
    from sklearn.pipeline import make_pipeline

    from skhp import KerasClassifier
    from skhp.search import Real

    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), KerasClassifier(hidden_layer_sizes=(32,), epochs=27,
                                                            random_state=0))
    space = {"kerasclassifier__learning_rate": Real(1e-4, 1.0, log=True),
             "kerasclassifier__batch_size": [8, 16, 32, 64, 128],
             "kerasclassifier__weight_decay": [0.0, 1e-4, 1e-3, 1e-2]}
    return X, y, model, space


def pruning_case(name, seeds, trials):
    from skhp.search import NarrowingSearchCV

    from skhp.search.hyperband import epochs_parameter

    X, y, model, space = problem(name)
    epochs = model.get_params(deep=True)[epochs_parameter(model)]
    rows = {"halving": [], "median": []}
    for seed in range(seeds):
        runs = {}
        for pruning, n in ((None, trials), ("halving", 3 * trials), ("median", 3 * trials)):
            trajectory = Trajectory(3)
            search = NarrowingSearchCV(model, space, n_iter=n, cv=3, random_state=seed,
                                       pruning=pruning, progress=trajectory, refit=False)
            search.fit(X, y)
            if pruning is None:
                total = epochs * n * 3  # every candidate, every fold, every epoch
                runs[None] = (search.best_score_, total, trajectory.points[-1][0])
            else:
                runs[pruning] = (search.best_score_, trajectory)
        best, total, seconds = runs[None]
        for pruning in ("halving", "median"):
            score, trajectory = runs[pruning]
            reached = trajectory.reach(best)
            rows[pruning].append((best, score, reached and reached[0] / total,
                                  reached and reached[1] / seconds,
                                  trajectory.points[-1][1] / total))
            print(f"  {name} seed {seed} {pruning:<8} unpruned best {best:.4f} ({total:.0f} fold-epochs, "
                  f"{seconds:.1f} s); pruned best {score:.4f} with {trajectory.points[-1][1]:.0f} "
                  f"fold-epochs; reached the unpruned best: "
                  + (f"after {reached[0]:.0f} fold-epochs ({reached[0] / total:.2f}x), "
                     f"{reached[1]:.1f} s ({reached[1] / seconds:.2f}x)" if reached else "no"),
                  flush=True)
    for pruning, values in rows.items():
        fractions = [v[2] for v in values if v[2] is not None]
        times = [v[3] for v in values if v[3] is not None]
        print(f"{name}, pruning={pruning}: reached the unpruned best in {len(fractions)}/{len(values)} "
              f"seeds; median epochs to reach it {np.median(fractions) if fractions else float('nan'):.2f}x "
              f"of the unpruned search's, time {np.median(times) if times else float('nan'):.2f}x; "
              f"median best {np.median([v[1] for v in values]):.4f} vs unpruned "
              f"{np.median([v[0] for v in values]):.4f}", flush=True)


def kerastuner_case(seeds, max_epochs):
    try:
        import keras_tuner as kt
    except ImportError:
        print("(c) skipped: keras-tuner is not installed (pip install -e \".[bench]\")")
        return
    import keras

    from skhp import KerasClassifier
    from skhp.search import HyperbandSearchCV, NarrowingSearchCV, Real
    from skhp.search.pruning import hyperband_brackets, rung_epochs

    X, y = load_digits(return_X_y=True)
    rates, batches = (1e-4, 1e-1), [16, 32, 64, 128]

    def build(hp):
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(keras.optimizers.Adam(hp.Float("learning_rate", *rates, sampling="log")),
                      "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    class MLP(kt.HyperModel):
        def build(self, hp):
            return build(hp)

        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, batch_size=hp.Choice("batch_size", batches), **kwargs)

    def epochs_of(sizes, rungs):  # n_r candidates continue from rung r - 1 to rung r
        return sum(n * (e - (rungs[r - 1] if r else 0)) for r, (n, e) in enumerate(zip(sizes, rungs)))

    budget = sum(epochs_of(b["sizes"], b["epochs"]) for b in hyperband_brackets(max_epochs, 3))
    # narrowing's rounds (10 candidates, then 5 a round) halved at rungs 1, 3, 9, ...: as many
    # candidates as the Hyperband budget allows
    rungs = rung_epochs(max_epochs, 1, 3)

    def halved(n):
        sizes = [n]
        while len(sizes) < len(rungs):
            sizes.append(max(1, sizes[-1] // 3))
        return epochs_of(sizes, rungs)

    n_iter, used = 10, halved(10)
    while used + halved(5) <= budget:
        n_iter, used = n_iter + 5, used + halved(5)
    rows = {"KerasTuner Hyperband": [], "skhp HyperbandSearchCV": [], "skhp narrowing+halving": []}
    for seed in range(seeds):
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                            random_state=seed)
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        # KerasTuner: its own validation split; best parameters retrained on all of X_train
        folder = tempfile.mkdtemp()
        start = time.perf_counter()
        tuner = kt.Hyperband(MLP(), objective="val_accuracy", max_epochs=max_epochs, factor=3,
                             seed=seed, directory=folder, project_name="kt", overwrite=True)
        tuner.search(X_train, y_train, validation_split=0.2, verbose=0)
        best = tuner.get_best_hyperparameters(1)[0]
        seconds = time.perf_counter() - start
        epochs = sum(t.hyperparameters.values.get("tuner/epochs", 0)
                     - t.hyperparameters.values.get("tuner/initial_epoch", 0)
                     for t in tuner.oracle.trials.values())
        accuracies = []
        for refit in range(REFITS):
            keras.utils.set_random_seed(refit)
            final = build(best)
            final.fit(X_train, y_train, epochs=max_epochs, batch_size=best.get("batch_size"), verbose=0)
            accuracies.append(np.mean(np.argmax(final.predict(X_test, verbose=0), 1) == y_test))
        rows["KerasTuner Hyperband"].append((float(np.mean(accuracies)), epochs, seconds))
        shutil.rmtree(folder, ignore_errors=True)
        keras.backend.clear_session()

        split = ShuffleSplit(1, test_size=0.2, random_state=seed)  # KerasTuner's one validation split
        space = {"learning_rate": Real(*rates, log=True), "batch_size": batches}
        estimator = KerasClassifier(hidden_layer_sizes=(64,), epochs=max_epochs, random_state=seed)
        for label, search in (
                ("skhp HyperbandSearchCV", HyperbandSearchCV(estimator, space, max_epochs=max_epochs,
                                                             cv=split, random_state=seed)),
                ("skhp narrowing+halving", NarrowingSearchCV(estimator, space, n_iter=n_iter, cv=split,
                                                             random_state=seed, pruning="halving"))):
            start = time.perf_counter()
            search.fit(X_train, y_train)
            seconds = time.perf_counter() - start
            epochs = int(np.sum(search.cv_results_["epochs_trained"]))
            if label.startswith("skhp narrowing") and epochs > budget:
                print(f"  (narrowing used {epochs} epochs, over the {budget} budget)")
            accuracy = np.mean([clone(search.best_estimator_).set_params(random_state=refit)
                                .fit(X_train, y_train).score(X_test, y_test) for refit in range(REFITS)])
            rows[label].append((float(accuracy), epochs, seconds))
        print(f"  seed {seed}: " + "; ".join(f"{k} {v[-1][0]:.4f} ({v[-1][1]} epochs, {v[-1][2]:.1f} s)"
                                             for k, v in rows.items()), flush=True)
    print(f"(c) digits, MLP (64,), max_epochs={max_epochs}, factor 3, Hyperband budget {budget} epochs; "
          f"medians over {seeds} seeds:")
    for label, values in rows.items():
        acc, epochs, seconds = (np.median([v[i] for v in values]) for i in range(3))
        print(f"  {label:<24} test accuracy {acc:.4f}  epochs {epochs:.0f}  {seconds:.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--max-epochs", type=int, default=27)
    parser.add_argument("--quick", action="store_true", help="one seed, 6 trials, max_epochs 9")
    parser.add_argument("--case", choices=("a", "b", "c", "all"), default="all")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.trials, args.max_epochs = 1, 6, 9
    if args.case in ("a", "all"):
        print("(a) the MLP experiment (digits, MLP (256,), 27 epochs):", flush=True)
        pruning_case("digits", args.seeds, args.trials)
    if args.case in ("b", "all"):
        print("(b) breast cancer, MLP (32,), 27 epochs:", flush=True)
        pruning_case("breast_cancer", args.seeds, args.trials)
    if args.case in ("c", "all"):
        kerastuner_case(args.seeds, args.max_epochs)


if __name__ == "__main__":
    main()
