"""An skhp estimator in a scikit-learn pipeline with preprocessing, tuned end to end.

Breast-cancer data: scaling, PCA and an MLP in one Pipeline; a
NarrowingSearchCV tunes the PCA size and the network's learning rate and
label smoothing together, with stratified folds and ROC AUC scoring (both need
correct classifier tags).

Run: ``python examples/pipeline.py`` (``--trials``, ``--epochs``).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skhp import KerasClassifier  # noqa: E402
from skhp.search import Integer, NarrowingSearchCV, Real  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    pipe = Pipeline([("scale", StandardScaler()), ("pca", PCA()),
                     ("mlp", KerasClassifier(hidden_layer_sizes=(32,), epochs=args.epochs,
                                             batch_size=32, random_state=0))])
    space = {"pca__n_components": Integer(2, 20), "mlp__learning_rate": Real(1e-4, 1e-1, log=True),
             "mlp__smoothing": [0.0, 0.1]}
    search = NarrowingSearchCV(pipe, space, n_iter=args.trials, n_initial=max(1, args.trials // 2),
                               round_size=max(1, args.trials // 4), scoring="roc_auc", cv=5,
                               random_state=0).fit(X_train, y_train)
    print(f"breast cancer, scaler -> PCA -> MLP (32,), {args.trials} trials, 5 stratified folds")
    print(f"best CV ROC AUC {search.best_score_:.4f} with {search.best_params_}")
    print(f"test ROC AUC {search.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
