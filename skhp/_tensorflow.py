"""Keras (and TensorFlow) imported without TensorFlow's C++ start-up lines.

TensorFlow writes its oneDNN, CUDA-driver and CPU-feature lines straight to
file descriptor 2 while it loads, before its logging honours
``TF_CPP_MIN_LOG_LEVEL``. skhp's modules import this one before Keras, so
the first ``import skhp.estimators`` (and the first fit, see
:func:`skhp.runtime.configure`) prints none of them. Setting
``TF_CPP_MIN_LOG_LEVEL=0`` keeps them; a process that imported TensorFlow
itself first has already printed them.
"""

import contextlib
import os
import sys

__all__ = ["quiet_start", "stderr_closed"]


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
