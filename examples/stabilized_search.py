"""Random search, then a narrowed search: on fresh weights, then from stabilized weights.

The classic comparison: a few random trials over the whole space, then trials
narrowed around the best one (``NarrowingSearchCV`` does both, and its
``search_history_`` gives the best score after each), first on freshly drawn
weights and then after ``skhp.stabilize`` ran lottery draws and a warm-up
once, so that every candidate starts from the same stable weights.

Run: ``python examples/stabilized_search.py`` (``--trials``, ``--epochs``).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from scipy.stats import loguniform  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import skhp  # noqa: E402
from skhp.search import Integer, NarrowingSearchCV  # noqa: E402


def search(estimator, X, y, trials, seed):
    space = {"learning_rate": loguniform(1e-5, 1.0), "batch_size": Integer(16, 256, base=2),
             "smoothing": [0.0, 0.1]}
    n_initial = max(2, trials // 2)
    s = NarrowingSearchCV(estimator, space, n_iter=trials, n_initial=n_initial,
                          round_size=max(1, (trials - n_initial) // 2), cv=2, random_state=seed)
    s.fit(X, y)
    random_best = s.search_history_[0]["best_score"]
    return random_best, s.best_score_, s


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=2, help="epochs of every search trial")
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--lottery", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.3, random_state=0,
                                                        stratify=y)
    est = skhp.KerasClassifier(hidden_layer_sizes=(64, 64), initializer="he_normal",
                               epochs=args.epochs, random_state=args.seed)
    tic = time.perf_counter()
    fresh = search(est, X_train, y_train, args.trials, args.seed)
    t_fresh = time.perf_counter() - tic

    tic = time.perf_counter()
    stable_est = skhp.stabilize(est.set_params(learning_rate=1e-3), X_train, y_train,
                                warmup=args.warmup, warmup_lr=1e-4, lottery=args.lottery)
    t_stabilize = time.perf_counter() - tic
    tic = time.perf_counter()
    stable = search(stable_est, X_train, y_train, args.trials, args.seed)
    t_stable = time.perf_counter() - tic

    print(f"digits, MLP (64, 64), {args.epochs} epochs per trial, cv=2, {args.trials} trials")
    print(f"stabilization: {stable_est.initial_weights!r} in {t_stabilize:.0f} s")
    print(f"{'':<22}{'random rounds':>14}{'after narrowing':>17}{'test acc':>10}{'time s':>8}")
    for name, (random_best, best, s), t in (("fresh weights", fresh, t_fresh),
                                            ("stabilized weights", stable, t_stable)):
        print(f"{name:<22}{random_best:>14.4f}{best:>17.4f}"
              f"{s.score(X_test, y_test):>10.4f}{t:>8.0f}")
    print("best parameters, fresh:     ", fresh[2].best_params_)
    print("best parameters, stabilized:", stable[2].best_params_)


if __name__ == "__main__":
    main()
