"""How many slots fit a pack: one slot's bytes against a memory budget."""

import os

import numpy as np

from skhp.packed._engine import state_count

__all__ = ["slot_bytes", "pack_memory", "auto_pack_size"]


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
        A key of :data:`skhp.packed.OPTIMIZER_SETTINGS`.
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


def pack_memory():
    """The memory budget of one pack in bytes: a quarter of the available memory, at most 2 GiB.

    Examples
    --------
    >>> 0 < pack_memory() <= 2 ** 31
    True
    """
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
