"""Packs on a GPU, measured in one run; prints ratios.

For the built-in MLP (64,) and the default job's convolutional network on
digits (10 epochs, batch 32): K slots (a grid's candidates x folds, each its
own learning rate and seed) trained as packs with ``pack_size="auto"``
(sized from the device's free memory) against separate ordinary fits of the
same slots on the same device (a few fits timed, scaled to K), and against
the same packs on the CPU; then the main job (``skhp tune``, its built-in
default) on the GPU. Seconds per slot-epoch, and the time to a pack's first
epoch (planning and compiling).

Run: ``python benchmarks/gpu.py [--backend jax] [--sizes 64 128 256 512]
[--tiny]``. Without a GPU it runs on the CPU (``--tiny``: K = 2 and 4, two
epochs, a smoke run; ``tests/test_backends.py`` runs it).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def _data(rows):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16).astype("float32")[:rows], y[:rows]


def _jobs(k, X, y, params, device):
    from skhp import KerasClassifier

    rng = np.random.default_rng(0)
    return [(KerasClassifier(**params, learning_rate=float(10 ** rng.uniform(-4, -1)),
                             random_state=i, device=device), X, y, None) for i in range(k)]


def packed(k, X, y, params, device):
    """Seconds per slot-epoch of K slots in packs on ``device``, and to the first epoch."""
    from skhp.packed import advance_packs, start_packs

    start = time.perf_counter()
    runs, where = start_packs(_jobs(k, X, y, params, device), pack_size="auto")
    assert all(not isinstance(w, str) for w in where), where
    advance_packs(runs, lambda run: 1)
    first = time.perf_counter() - start
    advance_packs(runs, lambda run: run.epochs)
    return (time.perf_counter() - start) / (k * params["epochs"]), first, len(runs)


def separate(k, X, y, params, device, timed=3):
    """Seconds per slot-epoch of separate ordinary fits (``timed`` of them, the first one
    warming up left out)."""
    jobs = _jobs(timed + 1, X, y, params, device)
    jobs[0][0].fit(X, y)
    start = time.perf_counter()
    for est, X_, y_, _ in jobs[1:]:
        est.fit(X_, y_)
    return (time.perf_counter() - start) / (timed * params["epochs"])


def main_job(backend):
    """The README's main job on this machine's default device: best CV and seconds."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "skhp", "--backend", backend, "tune",
                               "--quiet", "--output", os.path.join(folder, "out")],
                              capture_output=True, text=True, cwd=folder)
        seconds = time.perf_counter() - start
    found = re.search(r"best score (\S+) in (\d+) s", done.stdout)
    if done.returncode or found is None:
        return None, seconds, done.stderr[-500:]
    return float(found.group(1)), seconds, ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="jax", choices=["jax", "tensorflow"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    os.environ["KERAS_BACKEND"] = args.backend  # before anything imports Keras
    import keras

    from skhp.runtime import visible_gpus

    gpus = visible_gpus()
    here = "gpu:0" if gpus else "cpu"
    sizes, epochs, rows = ([2, 4], 2, 300) if args.tiny else (args.sizes, 10, 1198)
    X, y = _data(rows)
    print(f"backend {keras.backend.backend()}, {gpus} GPU(s); packs on {here}"
          + (" (no GPU: the CPU stands in)" if not gpus else ""))
    networks = {"MLP (64,)": dict(hidden_layer_sizes=(64,)),
                "CNN (16, 32) + (64,)": dict(hidden_layer_sizes=(64,), conv_layers=(16, 32),
                                             image_shape=(8, 8))}
    for name, shape in networks.items():
        params = dict(epochs=epochs, batch_size=32, **shape)
        alone = separate(max(sizes), X, y, params, here, timed=1 if args.tiny else 3)
        print(f"\n{name}: a separate fit on {here} {alone * 1e3:.2f} ms per epoch")
        print("     K   packs   s/slot-epoch   vs separate   first epoch" +
              ("   CPU packs s/slot-epoch   GPU vs CPU" if gpus else ""))
        for k in sizes:
            per, first, n = packed(k, X, y, params, here)
            line = f"  {k:4d}   {n:5d}   {per * 1e3:9.3f} ms   {alone / per:9.1f}x   {first:8.2f} s"
            if gpus:
                cpu, _, _ = packed(k, X, y, params, "cpu")
                line += f"   {cpu * 1e3:16.3f} ms   {cpu / per:9.1f}x"
            print(line, flush=True)
    if not args.tiny:
        best, seconds, error = main_job(args.backend)
        print(f"\nmain job (skhp tune, its default) on {here}: "
              + (f"best CV {best:.4f} in {seconds:.1f} s" if best is not None else f"failed: {error}"))


if __name__ == "__main__":
    main()
