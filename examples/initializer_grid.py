"""Which weight initializer? A grid search over initializers, with GridSearchCV.

He-normal suits ReLU networks, Glorot (Keras' default) suits tanh; the script
searches four initializers for each of the two activations on digits and
prints the CV accuracy of every pair.

Run: ``python examples/initializer_grid.py`` (``--epochs``).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from skhp import KerasClassifier  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    grid = {"initializer": ["he_normal", "glorot_uniform", "lecun_normal", "random_uniform"],
            "activation": ["relu", "tanh"]}
    search = GridSearchCV(KerasClassifier(hidden_layer_sizes=(64, 64), epochs=args.epochs,
                                          random_state=0), grid, cv=3).fit(X / 16, y)
    res = search.cv_results_
    print(f"digits, MLP (64, 64), {args.epochs} epochs, cv=3")
    print(f"{'initializer':<16}{'relu':>8}{'tanh':>8}")
    for init in grid["initializer"]:
        row = [res["mean_test_score"][i] for i, p in enumerate(res["params"]) if p["initializer"] == init]
        acts = [p["activation"] for p in res["params"] if p["initializer"] == init]
        by_act = dict(zip(acts, row))
        print(f"{init:<16}{by_act['relu']:>8.4f}{by_act['tanh']:>8.4f}")
    print("best:", search.best_params_, f"{search.best_score_:.4f}")


if __name__ == "__main__":
    main()
