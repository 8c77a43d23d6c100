"""Warm-up: a high learning rate with and without a linear warm-up.

SGD at a rate that is too high for fresh weights; the warm-up raises the rate
from ``warmup_lr`` to it over a few epochs. Prints the learning rate and loss
of every epoch for both runs.

Run: ``python examples/warmup.py`` (``--epochs``, ``--warmup``).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from sklearn.datasets import load_digits  # noqa: E402

from skhp import KerasClassifier  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=4)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    common = dict(hidden_layer_sizes=(128, 128, 128), optimizer="sgd", momentum=0.9,
                  learning_rate=0.5, epochs=args.epochs, initializer="he_normal", random_state=0)
    runs = {"no warm-up": KerasClassifier(**common).fit(X / 16, y),
            f"{args.warmup}-epoch warm-up": KerasClassifier(warmup=args.warmup, warmup_lr=1e-3,
                                                            **common).fit(X / 16, y)}
    print("SGD (momentum 0.9) at learning rate 0.5, MLP (128, 128, 128), digits")
    for name, est in runs.items():
        print(f"{name}:")
        for epoch, (lr, loss) in enumerate(zip(est.history_["lr"], est.history_["loss"]), 1):
            print(f"  epoch {epoch:>2}  lr {lr:.4f}  loss {loss:.4f}")
        print(f"  training accuracy {est.score(X / 16, y):.4f}")


if __name__ == "__main__":
    main()
