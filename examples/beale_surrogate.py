"""A neural surrogate of the Beale surface, tuned by NarrowingSearchCV, then minimized.

1. Sample the Beale function at random points of [-4.5, 4.5]^2 (its values
   span five orders of magnitude, so the network learns log(1 + f)).
2. Tune an ``skhp.KerasRegressor`` with ``NarrowingSearchCV`` over learning
   rate, batch size and initializer.
3. Minimize the learned surface with scipy's differential evolution (one
   batched prediction per generation) and compare its minimum with the true
   optimum (3, 0.5) and with minimizing the true function directly.

Run: ``python examples/beale_surrogate.py`` (``--samples``, ``--trials``, ``--epochs``).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from scipy.optimize import differential_evolution  # noqa: E402

from skhp import KerasRegressor  # noqa: E402
from skhp.benchmarks.beale import BOUNDS, OPTIMUM, beale  # noqa: E402
from skhp.optimize import minimize  # noqa: E402
from skhp.search import Choice, Integer, NarrowingSearchCV, Real  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=9)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    X = rng.uniform(-4.5, 4.5, size=(args.samples, 2))
    y = np.log1p(beale(X.T))
    print(f"{args.samples} samples of log(1 + beale) on [-4.5, 4.5]^2")

    regressor = KerasRegressor(hidden_layer_sizes=(64, 64), activation="tanh",
                               epochs=args.epochs, random_state=args.seed)
    space = {"learning_rate": Real(1e-4, 3e-2, log=True), "batch_size": Integer(16, 256, base=2),
             "initializer": Choice(["glorot_uniform", "he_normal", "lecun_normal"])}
    search = NarrowingSearchCV(regressor, space, n_iter=args.trials, round_size=3, n_initial=6,
                               cv=3, random_state=args.seed).fit(X, y)
    print(f"NarrowingSearchCV, {args.trials} trials: best CV R^2 {search.best_score_:.4f} with "
          + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in search.best_params_.items()))
    for h in search.search_history_:
        print(f"  round {h['round']} {h['step']:<8} best so far {h['best_score']:.4f}  {h['space']}")

    surrogate = search.best_estimator_
    result = differential_evolution(lambda p: surrogate.predict(np.atleast_2d(p.T)),
                                    BOUNDS, vectorized=True, updating="deferred", polish=False,
                                    seed=args.seed)
    x = result.x
    print(f"surrogate minimum at ({x[0]:.3f}, {x[1]:.3f}): true f there {beale(x):.4g}, "
          f"distance to (3, 0.5) {np.linalg.norm(x - OPTIMUM):.3f}")
    direct = minimize(beale, BOUNDS, seed=args.seed)
    print(f"narrowing on the true function: ({direct.x[0]:.4f}, {direct.x[1]:.4f}), "
          f"f {direct.fun:.2e}, {direct.nfev} evaluations (the surrogate used {args.samples})")


if __name__ == "__main__":
    main()
