"""A real tuning task: NarrowingSearchCV against SamplerSearchCV("tpe") on a Keras MLP.

skhp's built-in MLP (``KerasClassifier``) on scikit-learn's digits, 3-fold
CV (packed: a candidate's folds train as one pack), four hyperparameters:
``learning_rate`` (log range), ``batch_size`` (powers of 2),
``hidden_layer_sizes`` (the width of its one hidden layer, a log integer
range) and ``weight_decay`` (log range). Both searches propose rounds of 5
candidates (TPE in its constant-liar mode) from the same seed-dependent
start; each search runs once per seed with the largest budget and the best
mean CV accuracy is read after the first 30 and 120 candidates (neither
search depends on its budget). Printed: per seed and budget each search's
best CV accuracy, then the medians and the number of seeds where narrowing
is at least as good.

Needs ``pip install -e ".[bench]"`` (Optuna).
Run: ``python benchmarks/keras_task.py [--seeds 5] [--first-seed 0] [--budgets 30 120]
[--epochs 8]``.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from skhp import KerasClassifier  # noqa: E402
from skhp.search import Integer, NarrowingSearchCV, Real, SamplerSearchCV  # noqa: E402

SPACE = {
    "learning_rate": Real(1e-4, 1.0, log=True),
    "batch_size": Integer(8, 256, base=2),
    "hidden_layer_sizes": Integer(8, 256, log=True),
    "weight_decay": Real(1e-6, 1e-1, log=True),
}


def searches(n_iter, seed, epochs):
    """The two searches, configured alike."""
    estimator = KerasClassifier(epochs=epochs, random_state=0)
    common = dict(n_iter=n_iter, round_size=5, cv=StratifiedKFold(3, shuffle=True, random_state=0),
                  random_state=seed, refit=False)
    return {"narrowing": NarrowingSearchCV(estimator, SPACE, **common),
            "tpe": SamplerSearchCV(estimator, SPACE, sampler="tpe", **common)}


def best_after(search, budgets):
    """The best mean CV score among the first ``b`` candidates, for each ``b``."""
    scores = np.nan_to_num(search.cv_results_["mean_test_score"], nan=-np.inf)
    return [float(np.max(scores[:b])) for b in budgets]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budgets", type=int, nargs="+", default=[30, 120])
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    results = {"narrowing": [], "tpe": []}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name, search in searches(max(args.budgets), seed, args.epochs).items():
            tic = time.perf_counter()
            search.fit(X, y)
            results[name].append(best_after(search, args.budgets))
            print(f"seed {seed} {name:>9}: best CV " + "  ".join(
                f"@{b} {s:.4f}" for b, s in zip(args.budgets, results[name][-1]))
                + f"  ({time.perf_counter() - tic:.0f} s)", flush=True)
    narrowing, tpe = np.array(results["narrowing"]), np.array(results["tpe"])
    print(f"\n{'candidates':>10} {'narrowing':>10} {'tpe':>10} {'narrowing >= tpe':>17}")
    for j, b in enumerate(args.budgets):
        print(f"{b:>10} {np.median(narrowing[:, j]):>10.4f} {np.median(tpe[:, j]):>10.4f} "
              f"{int(np.sum(narrowing[:, j] >= tpe[:, j])):>11}/{args.seeds}")
    print("(medians over seeds of the best mean CV accuracy)")


if __name__ == "__main__":
    main()
