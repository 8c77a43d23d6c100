"""Lottery draws: several random draws of weights, briefly trained, the best one kept.

Prints every draw's loss after its brief training, the draw kept, and the test
accuracy after full training, with and without the lottery, over a few seeds.

Run: ``python examples/lottery_draws.py`` (``--draws``, ``--epochs``, ``--seeds``).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skhp import KerasClassifier  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.3, random_state=0)
    plain, lottery = [], []
    for seed in range(args.seeds):
        common = dict(hidden_layer_sizes=(64, 64), epochs=args.epochs, random_state=seed)
        plain.append(KerasClassifier(**common).fit(X_train, y_train).score(X_test, y_test))
        est = KerasClassifier(lottery=args.draws, **common).fit(X_train, y_train)
        lottery.append(est.score(X_test, y_test))
        losses = " ".join(f"{v:.3f}" for v in est.lottery_losses_)
        print(f"seed {seed}: draw losses {losses} -> kept draw {est.lottery_best_}")
    print(f"test accuracy after {args.epochs} epochs: one draw {np.mean(plain):.4f}, "
          f"best of {args.draws} draws {np.mean(lottery):.4f} (mean of {args.seeds} seeds)")


if __name__ == "__main__":
    main()
