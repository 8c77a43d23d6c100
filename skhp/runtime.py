"""Where and how training runs: CPU threads per worker, GPU choice, mixed precision.

TensorFlow gives every process as many threads as the machine has cores, so
parallel workers (joblib's ``n_jobs``, Dask) fight over the same cores and a
search gets no faster. skhp gives each process its share instead: before
TensorFlow's runtime starts in a process, the first skhp fit sets its intra- and
inter-op threads to ``SKHP_NUM_THREADS`` if set, else to the ``OMP_NUM_THREADS``
that joblib (``cores // n_jobs``) and Dask's nanny (1 per worker process) give
their workers. A process with neither keeps TensorFlow's default. The first fit
also turns on GPU memory growth, so that several workers can share a card.

Examples
--------
>>> resolve_device("auto", n_gpus=0)
'cpu:0'
>>> resolve_device("auto", n_gpus=2, worker=3)
'gpu:1'
"""

import contextlib
import logging
import os
import random
import re

from skhp._tensorflow import quiet_start, stderr_closed  # before Keras: TensorFlow starts quietly
import keras
import numpy as np

from skhp._validation import check_number

__all__ = ["configure", "resolve_device", "device_scope", "worker_index", "thread_budget", "seed_from", "seeded",
           "PRECISIONS"]

#: Values of the estimators' ``precision`` parameter.
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")

_configured = False


def thread_budget(environ=None):
    """Threads this process should use: ``SKHP_NUM_THREADS`` or ``OMP_NUM_THREADS``, else None.

    Examples
    --------
    >>> thread_budget({"OMP_NUM_THREADS": "2"}), thread_budget({}), thread_budget(
    ...     {"SKHP_NUM_THREADS": "3", "OMP_NUM_THREADS": "1"})
    (2, None, 3)
    """
    environ = os.environ if environ is None else environ
    for name in ("SKHP_NUM_THREADS", "OMP_NUM_THREADS"):
        value = environ.get(name, "").strip()
        if value:
            try:
                n = int(value)
            except ValueError:
                raise ValueError(f"{name}={value!r} must be a positive whole number.") from None
            if n < 1:
                raise ValueError(f"{name}={value!r} must be a positive whole number.")
            return n
    return None


def configure():
    """Apply the thread budget and GPU memory growth, once per process.

    Called by every skhp fit; on TensorFlow effective only before it runs its
    first operation in the process (later calls leave the settings as they
    are). On PyTorch the budget sets its intra-op threads (it reads
    ``OMP_NUM_THREADS`` itself, not ``SKHP_NUM_THREADS``); JAX's threads are
    fixed when it starts.

    Returns
    -------
    bool
        Whether this call configured the process.
    """
    global _configured
    if _configured:
        return False
    _configured = True
    backend = keras.backend.backend()
    if backend not in ("tensorflow", "torch"):
        return False
    threads = thread_budget()
    if backend == "torch":
        if threads:
            import torch

            torch.set_num_threads(threads)
        return bool(threads)
    import tensorflow as tf

    _quiet_retracing_warnings(tf)
    quiet = stderr_closed() if quiet_start() else contextlib.nullcontext()
    with quiet:  # the runtime's CUDA and CPU-feature lines (see skhp._tensorflow)
        try:
            if threads:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            for gpu in tf.config.list_physical_devices("GPU"):
                tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the runtime started before skhp's first fit: keep its settings
            return False
        tf.config.list_logical_devices()  # starts the runtime now, inside the block
    return True


class _KerasRetracingFilter(logging.Filter):
    """Drops TensorFlow warnings that say nothing about the user's code.

    Every fit builds a new model, and with it new step functions that trace
    once each; TensorFlow counts those traces together and warns of
    "excessive retracing" after a handful of fits in one process. And a
    pack's random layers (Dropout) draw per slot in a loop, which
    TensorFlow's vectorization announces for each random op it traces.
    """

    def filter(self, record):
        message = record.getMessage()
        return not (("triggered tf.function retracing" in message
                     and "TensorFlowTrainer._make_function" in message)
                    or ("Using a while_loop for converting" in message
                        and "StatelessRandom" in message))


def _quiet_retracing_warnings(tf):
    logger = tf.get_logger()
    if not any(isinstance(f, _KerasRetracingFilter) for f in logger.filters):
        logger.addFilter(_KerasRetracingFilter())


def worker_index():
    """A small number that differs between the parallel workers of one machine.

    A Dask worker's position in its cluster when there is one, else the
    process id (loky starts its workers one after another, so consecutive ids
    spread them round-robin over the GPUs).
    """
    try:
        from distributed import get_worker

        name = get_worker().name
        if isinstance(name, int) or (isinstance(name, str) and name.isdigit()):
            return int(name)
        return abs(hash(name))
    except (ImportError, ValueError):
        return os.getpid()


def resolve_device(device, n_gpus, worker=0):
    """The Keras device name a fit runs on.

    Parameters
    ----------
    device : {"auto", "cpu", "gpu"} or "gpu:N"
        ``"auto"``: a GPU when there is one (worker ``w`` of several gets GPU
        ``w % n_gpus``), else the CPU. ``"gpu"``: the same but a GPU is
        required. ``"gpu:N"``: GPU number N.
    n_gpus : int
        GPUs visible to this process.
    worker : int, default=0
        This worker's index (see :func:`worker_index`).

    Returns
    -------
    str
        ``"cpu:0"`` or ``"gpu:N"``.

    Examples
    --------
    >>> resolve_device("gpu:1", n_gpus=2)
    'gpu:1'
    """
    if not isinstance(device, str) or not re.fullmatch(r"auto|cpu|gpu(:\d+)?", device.lower()):
        raise ValueError(f"device={device!r} is not valid; use 'auto', 'cpu', 'gpu' or 'gpu:N'.")
    device = device.lower()
    if device == "cpu" or (device == "auto" and n_gpus == 0):
        return "cpu:0"
    if n_gpus == 0:
        raise ValueError(f"device={device!r} asks for a GPU, but Keras' "
                         f"{keras.backend.backend()} backend sees none here; "
                         "use device='auto' or 'cpu'.")
    if ":" in device:
        index = int(device.split(":")[1])
        if index >= n_gpus:
            raise ValueError(f"device={device!r}: there are {n_gpus} GPUs here, "
                             f"numbered 0 to {n_gpus - 1}.")
        return f"gpu:{index}"
    return f"gpu:{worker % n_gpus}"


def device_scope(device):
    """Keras' device scope for a device name of :func:`resolve_device`.

    On PyTorch a CPU takes no index: its tensors live on ``"cpu"``, and
    Keras would copy every variable it creates under ``"cpu:0"`` into a
    tensor that gradients do not reach.

    Examples
    --------
    >>> with device_scope("cpu:0"):
    ...     pass
    """
    if keras.backend.backend() == "torch" and device.lower().startswith("cpu"):
        device = "cpu"
    return keras.device(device)


def visible_gpus():
    """Number of GPUs Keras' backend sees (0 on a CPU build).

    TensorFlow's physical GPUs, JAX's ``gpu`` devices, or PyTorch's CUDA devices.

    Examples
    --------
    >>> visible_gpus() >= 0
    True
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return len(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        try:
            return len(jax.devices("gpu"))
        except RuntimeError:  # no GPU backend in this jaxlib
            return 0
    if backend == "torch":
        import torch

        return torch.cuda.device_count()
    return 0


def seed_from(random_state):
    """An int seed (or None) from an int, a RandomState (left unchanged) or None.

    Examples
    --------
    >>> seed_from(7), seed_from(None)
    (7, None)
    """
    if isinstance(random_state, np.random.RandomState):
        copy = np.random.RandomState()
        copy.set_state(random_state.get_state())
        return int(copy.randint(2**31 - 1))
    if random_state is None:
        return None
    return int(check_number(random_state, "random_state", low=0, integer=True))


@contextlib.contextmanager
def seeded(seed):
    """Seed Python, NumPy and Keras for one fit; give Python and NumPy their state back.

    Examples
    --------
    >>> import numpy as np
    >>> with seeded(0):
    ...     a = np.random.rand()
    >>> with seeded(0):
    ...     b = np.random.rand()
    >>> bool(a == b)
    True
    """
    if seed is None:
        yield
        return
    python_state, numpy_state = random.getstate(), np.random.get_state()
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
