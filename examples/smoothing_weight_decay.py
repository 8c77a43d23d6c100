"""Label smoothing and weight decay, searched together.

A GridSearchCV over ``smoothing`` and ``weight_decay`` on wine (a small data
set where regularization matters), with test accuracy and the mean largest
predicted probability (label smoothing keeps it away from 1).

Run: ``python examples/smoothing_weight_decay.py`` (``--epochs``).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from sklearn.datasets import load_wine  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skhp import KerasClassifier  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    X, y = load_wine(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    pipe = make_pipeline(StandardScaler(), KerasClassifier(hidden_layer_sizes=(64,), epochs=args.epochs,
                                                           batch_size=16, random_state=0))
    grid = {"kerasclassifier__smoothing": [0.0, 0.1], "kerasclassifier__weight_decay": [0.0, 5e-4, 1e-2]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X_train, y_train)
    print(f"wine, MLP (64,), {args.epochs} epochs")
    print(f"{'smoothing':>9} {'weight_decay':>12} {'CV acc':>7} {'test acc':>8} {'mean max p':>10}")
    for params in search.cv_results_["params"]:
        est = pipe.set_params(**params).fit(X_train, y_train)
        i = search.cv_results_["params"].index(params)
        confidence = est.predict_proba(X_test).max(axis=1).mean()
        print(f"{params['kerasclassifier__smoothing']:>9} {params['kerasclassifier__weight_decay']:>12} "
              f"{search.cv_results_['mean_test_score'][i]:>7.4f} {est.score(X_test, y_test):>8.4f} "
              f"{confidence:>10.4f}")


if __name__ == "__main__":
    main()
