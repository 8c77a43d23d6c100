"""The LR range test: find a learning rate before training, and look at the curve.

Runs ``skhp.lr_find`` for Adam and for SGD on digits, prints the suggestions,
saves both curves, then trains with ``learning_rate="auto"``.

Run: ``python examples/lr_range_test.py`` (``--plots FOLDER``, ``--epochs``).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skhp import KerasClassifier, lr_find  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plots", default=".", help="folder for the curves")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.3, random_state=0)
    os.makedirs(args.plots, exist_ok=True)
    for optimizer in ("adam", "sgd"):
        est = KerasClassifier(hidden_layer_sizes=(64,), optimizer=optimizer, random_state=0)
        result = lr_find(est, X_train, y_train)
        path = result.plot(os.path.join(args.plots, f"lr_find_{optimizer}.png"))
        tips = ", ".join(f"{k} {v:.3g}" if v is not None else f"{k} none"
                         for k, v in result.suggestions.items())
        print(f"{optimizer}: {len(result.lrs)} steps; suggestions: {tips}; curve in {path}")
    auto = KerasClassifier(hidden_layer_sizes=(64,), learning_rate="auto", epochs=args.epochs,
                           random_state=0).fit(X_train, y_train)
    print(f'learning_rate="auto" trained at {auto.learning_rate_:.3g}: '
          f"test accuracy {auto.score(X_test, y_test):.4f} after {args.epochs} epochs")


if __name__ == "__main__":
    main()
