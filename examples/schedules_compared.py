"""Every schedule family, same network and epochs, on digits.

Constant, time decay, exponential decay, ramp, linear to zero, cosine
annealing, warm restarts and 1cycle each train the same MLP for the same
number of epochs from the same seeds; the script prints the mean test accuracy
over a few seeds and the final training loss, and saves a picture of every
schedule's curve.

Run: ``python examples/schedules_compared.py`` (``--epochs``, ``--seeds``).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skhp import KerasClassifier, plot_schedule  # noqa: E402

SETTINGS = {
    "constant": dict(schedule="constant", learning_rate=3e-3),
    "time": dict(schedule="time", learning_rate=3e-3, schedule__decay=1e-3),
    "exponential": dict(schedule="exponential", learning_rate=3e-3, schedule__decay=0.2),
    "ramp": dict(schedule="ramp", learning_rate=3e-3),
    "linear": dict(schedule="linear", learning_rate=3e-3),
    "cosine": dict(schedule="cosine", learning_rate=3e-3, warmup=1, warmup_lr=3e-4),
    "restarts": dict(schedule="restarts", learning_rate=3e-3, schedule__cycle_epochs=5),
    "1cycle": dict(schedule="onecycle", learning_rate=1e-2),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--plots", default=None, help="folder for the schedule pictures")
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.3, random_state=0, stratify=y)
    print(f"digits: {len(X_train)} train / {len(X_test)} test, MLP (64,), {args.epochs} epochs, {args.seeds} seeds")
    print(f"{'schedule':<10} {'test accuracy':>15} {'final train loss':>17}")
    for name, params in SETTINGS.items():
        accuracies, losses = [], []
        for seed in range(args.seeds):
            est = KerasClassifier(hidden_layer_sizes=(64,), epochs=args.epochs, random_state=seed, **params)
            est.fit(X_train, y_train)
            accuracies.append(est.score(X_test, y_test))
            losses.append(est.history_["loss"][-1])
        print(f"{name:<10} {np.mean(accuracies):>9.4f} ± {np.std(accuracies):.4f} {np.mean(losses):>17.4f}")
        if args.plots:
            os.makedirs(args.plots, exist_ok=True)
            steps = int(np.ceil(len(X_train) / 32))
            plot_schedule(est.schedule_, args.epochs, steps, path=os.path.join(args.plots, f"{name}.png"))


if __name__ == "__main__":
    main()
