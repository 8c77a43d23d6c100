"""How many slots fit a pack: one slot's bytes against a memory budget."""

import os
import subprocess

import numpy as np

from skhp.packed._engine import state_count

__all__ = ["slot_bytes", "pack_memory", "gpu_free_memory", "auto_pack_size"]


def _size(shape):
    return int(np.prod([d for d in shape if d is not None]))


def slot_bytes(model, optimizer, batch_size, n_rows, structural=(False, False, False)):
    """Bytes one slot of a pack of ``model`` takes where the pack runs (float32).

    Weights, their gradients and the optimizer's state, the model's own
    state; a batch's activations (every layer's output), their gradients
    and their vectorized copies; the slot's own copy of its samples and targets.

    Parameters
    ----------
    model : keras.Model
        A built model (its layers' outputs give the activations' sizes).
    optimizer : str
        A key of :data:`skhp.fit_spec.OPTIMIZER_SETTINGS`.
    batch_size, n_rows : int
        Minibatch size; samples the slot holds.
    structural : tuple of bool
        ``(nesterov, amsgrad, centered)``.

    Examples
    --------
    >>> import keras
    >>> mlp = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64), keras.layers.Dense(10)])
    >>> slot_bytes(mlp, "Adam", batch_size=32, n_rows=1198)
    484560
    """
    params = sum(_size(v.shape) for v in model.trainable_variables)
    state = sum(_size(v.shape) for v in model.non_trainable_variables)
    weights = (2 + state_count(optimizer, structural)) * params + state
    try:
        widths = [_size(layer.output.shape[1:]) for layer in model.layers]
        inputs = sum(_size(i.shape[1:]) for i in model.inputs)
        outputs = _size(model.outputs[0].shape[1:])
    except (AttributeError, ValueError, IndexError, TypeError):  # a subclassed model: no graph
        widths, inputs, outputs = [params // 8], 0, 0
    activations = 3 * batch_size * (inputs + sum(widths))
    data = n_rows * (inputs + outputs)
    return max(1, 4 * (weights + activations + data))


def gpu_free_memory(index=0):
    """Free memory of visible GPU ``index`` in bytes, as ``nvidia-smi`` reports it; None when
    it cannot say (no NVIDIA driver).

    ``index`` counts the GPUs TensorFlow sees (``"gpu:1"`` is the second of
    ``CUDA_VISIBLE_DEVICES``).

    Examples
    --------
    >>> free = gpu_free_memory(0)
    >>> free is None or free >= 0
    True
    """
    visible = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    gpu = visible[index] if index < len(visible) else str(index)
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits",
                              f"--id={gpu}"], capture_output=True, text=True, timeout=10, check=True)
        return int(float(out.stdout.split()[0]) * 2 ** 20)  # reported in MiB
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def pack_memory(device=None):
    """The memory budget of one pack in bytes.

    On a GPU (``device="gpu:N"``): a quarter of its free memory (other
    workers may share the card); elsewhere, or when the GPU's free memory
    is unknown: a quarter of the available host memory, at most 2 GiB.

    Examples
    --------
    >>> 0 < pack_memory() <= 2 ** 31
    True
    """
    if device is not None and str(device).lower().startswith("gpu"):
        index = str(device).partition(":")[2]
        free = gpu_free_memory(int(index) if index.isdigit() else 0)
        if free:
            return free // 4
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        available = 2 ** 33
    return int(min(2 ** 31, available // 4))


def auto_pack_size(bytes_per_slot, budget=None):
    """How many slots fit a pack: ``budget`` (default :func:`pack_memory`) over one slot's bytes.

    Examples
    --------
    >>> auto_pack_size(500_000, budget=2 ** 30), auto_pack_size(3 * 2 ** 30, budget=2 ** 30)
    (2147, 1)
    """
    budget = pack_memory() if budget is None else budget
    return max(1, int(budget // bytes_per_slot))
