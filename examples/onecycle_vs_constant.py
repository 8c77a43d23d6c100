"""1cycle vs a constant learning rate, the peak chosen by the LR range test.

The LR range test suggests a rate; a constant schedule trains at it, 1cycle
uses it as its peak (momentum cycling 0.95 -> 0.85 -> 0.95). Prints test
accuracy and final training loss for both, over a few seeds.

Run: ``python examples/onecycle_vs_constant.py`` (``--epochs``, ``--seeds``).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skhp import KerasClassifier, lr_find  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.3, random_state=0)
    base = dict(hidden_layer_sizes=(64,), optimizer="sgd", epochs=args.epochs)
    result = lr_find(KerasClassifier(**base, random_state=0), X_train, y_train)
    if result.diverged:
        lr = result.suggestions["divergence"]
        print(f"LR range test (SGD): the loss blows up near {lr * 10:.3g}; peak / constant rate {lr:.3g}")
    else:
        lr = result.suggestions["minimum"]
        print(f"LR range test (SGD): no blow-up in the range; peak / constant rate {lr:.3g} "
              "(10x below the minimum)")
    for name, params in (("constant", dict(learning_rate=lr, momentum=0.9)),
                         ("1cycle", dict(learning_rate=lr, schedule="onecycle"))):
        acc, loss = [], []
        for seed in range(args.seeds):
            est = KerasClassifier(**base, **params, random_state=seed).fit(X_train, y_train)
            acc.append(est.score(X_test, y_test))
            loss.append(est.history_["loss"][-1])
        print(f"{name:<9} test accuracy {np.mean(acc):.4f}  final training loss {np.mean(loss):.4f}")


if __name__ == "__main__":
    main()
