"""skhp's fit time against a plain Keras ``model.fit`` of the same model, data and epochs.

Both sides build, compile and train the same MLP (64 ReLU units, softmax,
Adam, categorical cross-entropy, accuracy) on digits for the same epochs and
batch size; each side is timed ``--repeats`` times, alternating, and the
median ratio is printed. Run: ``python benchmarks/overhead.py``.
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


def plain_keras(X, onehot, epochs, batch_size):
    model = build_mlp(X.shape[1:], onehot.shape[1], (64,), "relu", output_activation="softmax")
    model.compile(
        keras.optimizers.Adam(1e-3), keras.losses.CategoricalCrossentropy(), metrics=["accuracy"]
    )
    model.fit(X, onehot, epochs=epochs, batch_size=batch_size, verbose=0)


def skhp_fit(X, y, epochs, batch_size):
    KerasClassifier(hidden_layer_sizes=(64,), epochs=epochs, batch_size=batch_size).fit(X, y)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    onehot = np.eye(10, dtype="float32")[y]
    plain_keras(X, onehot, 1, args.batch_size)  # warm TensorFlow up once for both
    keras_times, skhp_times = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        plain_keras(X, onehot, args.epochs, args.batch_size)
        keras_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        skhp_fit(X, y, args.epochs, args.batch_size)
        skhp_times.append(time.perf_counter() - start)
    k, s = statistics.median(keras_times), statistics.median(skhp_times)
    print(f"digits {X.shape}, {args.epochs} epochs, batch {args.batch_size}, {args.repeats} repeats")
    print(f"plain Keras fit : {k:.3f} s (median)")
    print(f"skhp fit        : {s:.3f} s (median)")
    print(f"ratio skhp/Keras: {s / k:.3f}  (target <= 1.05)")


if __name__ == "__main__":
    main()
