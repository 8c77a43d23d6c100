"""skhp on Keras 3's other backends, in a process where TensorFlow cannot be imported.

Each installed backend (JAX comes with the test extra; PyTorch where it is
installed) runs ``tests/backends/user_workflow.py`` and its packs against its
ordinary fits (``tests/backends/packs_match.py``): the estimators with
warm-up, 1cycle, the lottery, early stopping, smoothing and weight decay;
pickling and cloning; errors before training; ``stabilize``; ``lr_find``; a
grid search; a pruned narrowing search with storage, resumed; and ``skhp tune``.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a fresh process per backend

HERE = Path(__file__).resolve().parent / "backends"
STEPS = ["classifier", "regressor", "errors", "stabilize", "lr_find", "grid search",
         "pruned narrowing search with storage", "skhp tune", "no tensorflow"]


def _without_tensorflow(script, backend, folder):
    """Run ``tests/backends/<script>`` on ``backend`` in a process where TensorFlow cannot be
    imported; the finished process and the steps it printed as done (``ok <step>``)."""
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import no_tensorflow, runpy; "
            f"runpy.run_path({str(HERE / script)!r}, run_name='__main__')")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=900, cwd=folder,
                         env={**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": "",
                              "SKHP_NUM_THREADS": "1"})
    return run, [line[3:] for line in run.stdout.splitlines() if line.startswith("ok ")]


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_user_workflow_runs_without_tensorflow(backend, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install 'skhp[{backend}]')")
    run, done = _without_tensorflow("user_workflow.py", backend, tmp_path)
    assert run.returncode == 0 and done == STEPS, (done, run.stderr[-3000:])


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_packs_train_what_the_backends_ordinary_fits_train(backend, tmp_path):
    """The backend's engine (Keras' stateless call and optimizer update per slot) against
    its ordinary fits: every optimizer, 1cycle, smoothing, weight decay, early stopping,
    class weights, lottery draws, a builder with BatchNormalization (and Dropout, but on
    PyTorch, where such a model trains as ordinary fits); slots of one pack equal their
    own packs of one; packed and pruned searches."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install 'skhp[{backend}]')")
    run, done = _without_tensorflow("packs_match.py", backend, tmp_path)
    assert run.returncode == 0 and len(done) == 4, (done, run.stderr[-3000:])


LOADS_NOTHING = """
import sys
from sklearn.datasets import load_iris
from skhp import KerasClassifier
from skhp.search import GridSearchCV
X, y = load_iris(return_X_y=True)
KerasClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=0).fit(X, y)
GridSearchCV(KerasClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=0),
             {"learning_rate": [0.01, 0.1]}, cv=2).fit(X, y)
print("tensorflow loaded:", "tensorflow" in sys.modules)
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_another_backend_leaves_an_installed_tensorflow_unloaded(backend, tmp_path):
    """TensorFlow installed, Keras on another backend: a fit and a packed search load no
    TensorFlow (scikeras and Keras' serialization would), and print none of its lines."""
    if importlib.util.find_spec(backend) is None or importlib.util.find_spec("tensorflow") is None:
        pytest.skip(f"needs {backend} and TensorFlow installed")
    env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    run = subprocess.run([sys.executable, "-c", LOADS_NOTHING], capture_output=True, text=True,
                         timeout=600, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "tensorflow loaded: False" in run.stdout and "I0000" not in run.stderr, run.stderr[-2000:]


def test_the_command_runs_on_jax_where_tensorflow_is_missing(tmp_path):
    """No ``--backend`` and no ``KERAS_BACKEND``: without TensorFlow the command takes JAX."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed (pip install 'skhp[jax]')")
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import no_tensorflow\n"
            "from skhp.cli import main\n"
            "assert main(['tune', '--dry-run']) == 0\n"
            "import keras; print('backend', keras.backend.backend())")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, cwd=tmp_path, env=env)
    assert run.returncode == 0 and "backend jax" in run.stdout, run.stderr[-2000:]


def test_the_no_tensorflow_guard_works():
    """The guard the workflow runs under does make TensorFlow unimportable."""
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import no_tensorflow\n"
            "import importlib.util; print('spec', importlib.util.find_spec('tensorflow'))\n"
            "try:\n    import tensorflow\nexcept ModuleNotFoundError as e:\n    print(e)\n"
            "import json; print('json', json.dumps([1]))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.stdout.splitlines() == ["spec None", "No module named 'tensorflow'", "json [1]"], run


def test_the_gpu_benchmark_runs_on_the_cpu_with_tiny_sizes(tmp_path):
    """``benchmarks/gpu.py`` (run on a GPU machine under JAX) stays runnable where none is."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed (pip install 'skhp[jax]')")
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu.py"
    run = subprocess.run([sys.executable, str(script), "--tiny"], capture_output=True, text=True,
                         timeout=900, cwd=tmp_path, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [line.split() for line in run.stdout.splitlines() if re.match(r"\s+[24]\s", line)]
    assert len(rows) == 4 and all(float(row[2]) > 0 for row in rows), run.stdout

