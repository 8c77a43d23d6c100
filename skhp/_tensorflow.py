"""Keras (and TensorFlow) imported without TensorFlow's C++ start-up lines.

TensorFlow writes its oneDNN, CUDA-driver and CPU-feature lines straight to
file descriptor 2 while it loads, before its logging honours
``TF_CPP_MIN_LOG_LEVEL``. skhp's modules import this one before Keras, so
the first ``import skhp.estimators`` (and the first fit, see
:func:`skhp.runtime.configure`) prints none of them. Setting
``TF_CPP_MIN_LOG_LEVEL=0`` keeps them; a process that imported TensorFlow
itself first has already printed them.

On another Keras backend (JAX, PyTorch) nothing of skhp imports TensorFlow;
scikeras (for TensorFlow's seeds) and Keras' serialization (``get_config``
asks whether TensorFlow is there) import it where it is installed, so both
are asked here first with TensorFlow hidden: a JAX or PyTorch process that
has not imported TensorFlow itself does not load it (nor let it claim a GPU).
"""

import contextlib
import os
import sys

__all__ = ["quiet_start", "stderr_closed", "tensorflow_hidden"]


def quiet_start():
    """Whether TensorFlow's start-up lines are to be silenced (not asked for with level 0)."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") != "0"


@contextlib.contextmanager
def stderr_closed():
    """File descriptor 2 goes to the null device during the block (Python's errors still show)."""
    try:
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):  # no real stderr (an embedded interpreter): nothing to close
        yield
        return
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


if "keras" not in sys.modules and quiet_start():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with stderr_closed():
        import keras  # noqa: F401


class _TensorFlowHidden:
    """A ``sys.meta_path`` finder that finds no TensorFlow (see :func:`tensorflow_hidden`)."""

    def find_spec(self, name, path, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


@contextlib.contextmanager
def tensorflow_hidden():
    """``import tensorflow`` fails inside the block unless TensorFlow is already loaded."""
    finder = _TensorFlowHidden()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


if "scikeras" not in sys.modules and "tensorflow" not in sys.modules:
    import keras

    if keras.backend.backend() != "tensorflow":
        with tensorflow_hidden():
            import scikeras.wrappers  # noqa: F401
            from keras.src.utils import module_utils

            module_utils.tensorflow.available  # noqa: B018  (Keras keeps the answer)
