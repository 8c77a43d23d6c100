"""The built-in default job: tune a small network on scikit-learn's digits data.

Run it with ``python -m skhp``. It grid-searches four skhp parameters with
3-fold cross-validation and prints the best parameters and score.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    """Run the default grid search and print its result."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV

    from skhp import KerasClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    grid = {
        "initializer": ["he_normal", "glorot_uniform"],
        "smoothing": [0.0, 0.1],
        "learning_rate": [1e-3, 3e-3],
        "batch_size": [32, 64],
    }
    estimator = KerasClassifier(hidden_layer_sizes=(64,), epochs=10, random_state=0)
    print(f"GridSearchCV on digits {X.shape}: {len(grid)} parameters, 16 candidates x 3 folds")
    start = time.perf_counter()
    search = GridSearchCV(estimator, grid, cv=3).fit(X, y)
    print(f"done in {time.perf_counter() - start:.0f} s")
    print("best parameters:", search.best_params_)
    print(f"best cross-validated accuracy: {search.best_score_:.4f}")


if __name__ == "__main__":
    main()
