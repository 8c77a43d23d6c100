"""skhp's fit time against a plain Keras ``model.fit`` of the same model, data and epochs.

Both sides build, compile and train the same MLP (64 ReLU units, softmax,
Adam, categorical cross-entropy, accuracy) on digits for the same epochs and
batch size, with the same ``steps_per_execution`` (skhp's default: 32 steps,
or an epoch's worth when shorter); each side is timed ``--repeats`` times,
alternating, and the median ratio is printed. Two cases:

- ``long``: all 1797 samples, 20 epochs, batch 32;
- ``short``: the fixed cost of the short fits a search is made of — 673
  samples, 5 epochs, batch 16 (about a CV fold of a small problem). Here the
  per-fit work outside ``model.fit`` (parameter checks, building, compiling,
  the session reset) weighs most.

Run: ``python benchmarks/overhead.py`` (``--case long|short|both``).
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from skhp import KerasClassifier  # noqa: E402
from skhp.models import build_mlp  # noqa: E402

CASES = {"long": dict(samples=1797, epochs=20, batch_size=32),
         "short": dict(samples=673, epochs=5, batch_size=16)}


def plain_keras(X, onehot, epochs, batch_size):
    steps = int(np.ceil(len(X) / batch_size))
    keras.backend.clear_session(free_memory=False)  # both sides start from a clean Keras state
    model = build_mlp(X.shape[1:], onehot.shape[1], (64,), "relu", output_activation="softmax")
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.CategoricalCrossentropy(),
                  metrics=["accuracy"], steps_per_execution=min(32, steps))
    model.fit(X, onehot, epochs=epochs, batch_size=batch_size, verbose=0)


def skhp_fit(X, y, epochs, batch_size):
    KerasClassifier(hidden_layer_sizes=(64,), epochs=epochs, batch_size=batch_size).fit(X, y)


def compare(X, y, epochs, batch_size, repeats):
    """Median seconds of plain Keras and of skhp, timed alternately."""
    onehot = np.eye(10, dtype="float32")[y]
    keras_times, skhp_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        plain_keras(X, onehot, epochs, batch_size)
        keras_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        skhp_fit(X, y, epochs, batch_size)
        skhp_times.append(time.perf_counter() - start)
    return statistics.median(keras_times), statistics.median(skhp_times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=["long", "short", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    plain_keras(X, np.eye(10, dtype="float32")[y], 1, 32)  # warm TensorFlow up once for both
    skhp_fit(X, y, 1, 32)
    for name in ["long", "short"] if args.case == "both" else [args.case]:
        case = CASES[name]
        n = case["samples"]
        k, s = compare(X[:n], y[:n], case["epochs"], case["batch_size"], args.repeats)
        print(f"{name}: digits {X[:n].shape}, {case['epochs']} epochs, batch {case['batch_size']}, "
              f"{args.repeats} repeats")
        print(f"  plain Keras fit : {k:.3f} s (median)")
        print(f"  skhp fit        : {s:.3f} s (median)")
        print(f"  ratio skhp/Keras: {s / k:.3f}  (target <= 1.05)")


if __name__ == "__main__":
    main()
