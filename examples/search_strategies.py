"""Grid vs random vs narrowing vs guided search, same estimator, same budget.

An MLP on digits; learning rate and batch size (plus label smoothing for the
searches that can take it). Prints each search's trials, best CV accuracy and
time, and the guided search's decisions.

Run: ``python examples/search_strategies.py`` (``--trials``, ``--epochs``).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from scipy.stats import loguniform  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV  # noqa: E402

from skhp import KerasClassifier  # noqa: E402
from skhp.search import GuidedSearchCV, Integer, NarrowingSearchCV, Real  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=9)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    X = X / 16
    est = KerasClassifier(hidden_layer_sizes=(64,), epochs=args.epochs, random_state=0)
    side = max(1, int(args.trials ** 0.5))
    lr_grid = [1e-4, 1e-3, 1e-2, 1e-1][:side] if side < 4 else [1e-4, 1e-3, 1e-2, 1e-1]
    searches = {
        "grid": GridSearchCV(est, {"learning_rate": lr_grid,
                                   "batch_size": [32, 64, 128][:max(1, args.trials // len(lr_grid))]},
                             cv=3),
        "random": RandomizedSearchCV(est, {"learning_rate": loguniform(1e-4, 1e-1),
                                           "batch_size": [16, 32, 64, 128, 256]},
                                     n_iter=args.trials, cv=3, random_state=0),
        "narrowing": NarrowingSearchCV(est, {"learning_rate": Real(1e-4, 1e-1, log=True),
                                             "batch_size": Integer(16, 256, base=2)},
                                       n_iter=args.trials, n_initial=max(1, args.trials // 2),
                                       round_size=max(1, args.trials // 4), cv=3, random_state=0),
        "guided": GuidedSearchCV(est, {"learning_rate": Real(1e-4, 1e-1, log=True),
                                       "batch_size": Integer(16, 256, base=2)},
                                 n_iter=args.trials, cv=3),
    }
    print(f"digits, MLP (64,), {args.epochs} epochs per trial, cv=3, about {args.trials} trials each")
    print(f"{'search':<10}{'trials':>7}{'best CV acc':>13}{'time s':>8}  best parameters")
    for name, search in searches.items():
        tic = time.perf_counter()
        search.fit(X, y)
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in search.best_params_.items())
        print(f"{name:<10}{len(search.cv_results_['params']):>7}{search.best_score_:>13.4f}"
              f"{time.perf_counter() - tic:>8.0f}  {params}")
    print("guided search's decisions:")
    for line in searches["guided"].trace_:
        print(f"  {line}")


if __name__ == "__main__":
    main()
