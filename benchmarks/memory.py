"""Peak memory of a packed search against scikit-learn's GridSearchCV on the same work.

Each search runs in a fresh process and reports its own peak resident
memory (``ru_maxrss``): a grid of 8 candidates x 3 folds of skhp's MLP on
50,000 x 200 random floats, packed (skhp's ``GridSearchCV``) and one fit at a
time (scikit-learn's). Prints both peaks and their ratio (goal: packed <= 1.2x).

Run: ``python benchmarks/memory.py [--rows 50000] [--features 200] [--epochs 2]``.
"""

import argparse
import subprocess
import sys

CHILD = """
import numpy as np, resource, sys, time
from sklearn.model_selection import GridSearchCV as Plain
from skhp import KerasClassifier
from skhp.search import GridSearchCV as Packed
rows, features, epochs, which = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(0)
X = rng.normal(size=(rows, features))
y = (X[:, :5].sum(axis=1) > 0).astype(int) + (X[:, 5] > 1)
est = KerasClassifier(hidden_layer_sizes=(64,), epochs=epochs, batch_size=256, random_state=0)
grid = {"learning_rate": [1e-3, 3e-3, 1e-2, 3e-2], "smoothing": [0.0, 0.1]}
start = time.perf_counter()
search = (Packed if which == "packed" else Plain)(est, grid, cv=3).fit(X, y)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
print(f"{which} {peak:.0f} {time.perf_counter() - start:.1f} {search.best_score_:.4f}")
"""


def peak(which, rows, features, epochs):
    """``(peak MiB, seconds, best score)`` of one search in a fresh process."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(rows), str(features), str(epochs), which],
                          capture_output=True, text=True, check=True)
    mib, seconds, best = done.stdout.split()[-3:]
    return float(mib), float(seconds), float(best)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    plain = peak("plain", args.rows, args.features, args.epochs)
    packed = peak("packed", args.rows, args.features, args.epochs)
    print(f"{args.rows} x {args.features} floats, 8 candidates x 3 folds, {args.epochs} epochs")
    print(f"scikit-learn GridSearchCV: peak {plain[0]:7.0f} MiB, {plain[1]:5.1f} s, best {plain[2]:.4f}")
    print(f"skhp packed GridSearchCV:  peak {packed[0]:7.0f} MiB, {packed[1]:5.1f} s, best {packed[2]:.4f}")
    print(f"packed / scikit-learn: memory {packed[0] / plain[0]:.2f}x, time {packed[1] / plain[1]:.2f}x")


if __name__ == "__main__":
    main()
