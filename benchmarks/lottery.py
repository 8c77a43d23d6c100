"""Cost of one lottery draw against one plain training epoch, and against rebuilding.

skhp builds and compiles the model once and only redraws the weights for each
draw. The script times, in one run on the same data and model:

- one plain training epoch (from the difference of two fits, so build and
  compile costs cancel out);
- one lottery draw (from fits with and without ``lottery``);
- one draw done naively: a fresh model built, compiled and briefly trained.

Run: ``python benchmarks/lottery.py`` (``--samples``, ``--draws``).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402

from skhp import KerasClassifier  # noqa: E402


def timed(make, X, y, repeats):
    """Median seconds of ``make().fit(X, y)`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        est = make()
        tic = time.perf_counter()
        est.fit(X, y)
        times.append(time.perf_counter() - tic)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    X, y = make_classification(args.samples, 20, n_informative=10, n_classes=3, random_state=0)
    common = dict(hidden_layer_sizes=(64, 64), batch_size=32, random_state=0)
    lottery = dict(lottery_epochs=3, lottery_steps=100)

    one = timed(lambda: KerasClassifier(epochs=1, **common), X, y, args.repeats)
    three = timed(lambda: KerasClassifier(epochs=3, **common), X, y, args.repeats)
    with_draws = timed(lambda: KerasClassifier(epochs=1, lottery=args.draws, **lottery, **common),
                       X, y, args.repeats)
    epoch = (three - one) / 2
    draw = (with_draws - one) / args.draws
    # The naive way: every draw a new model, built, compiled, trained on as many steps.
    subset = slice(0, lottery["lottery_steps"] * common["batch_size"])
    naive = timed(lambda: KerasClassifier(epochs=lottery["lottery_epochs"], learning_rate=1e-4,
                                          **common), X[subset], y[subset], args.repeats)

    steps = int(np.ceil(args.samples / common["batch_size"]))
    print(f"data {args.samples} x 20, MLP (64, 64), batch 32: {steps} steps per epoch; "
          f"a draw trains {lottery['lottery_epochs']} x {lottery['lottery_steps']} steps")
    print(f"one plain epoch            {epoch:7.3f} s")
    print(f"one lottery draw (skhp)    {draw:7.3f} s   = {draw / epoch:.2f} epochs")
    print(f"one draw, rebuilt model    {naive:7.3f} s   = {naive / epoch:.2f} epochs")
    print(f"skhp draw / rebuilt draw   {draw / naive:7.2f}")


if __name__ == "__main__":
    main()
