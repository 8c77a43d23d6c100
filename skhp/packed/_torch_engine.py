"""The pack engine on PyTorch: K copies of one Keras model, trained by Keras' own stateless API.

Each slot's step is :class:`skhp.packed._stateless.StatelessProgram`'s
(Keras' stateless call, the gradient from ``torch.func.grad_and_value``,
Keras' ``stateless_apply``); ``torch.func.vmap`` runs the slots side by
side, one call per step. Keras' PyTorch optimizers update their variables in
place with ``torch._foreach_*`` operations, which ``vmap`` cannot batch: the
pack's optimizer takes Keras' backend-neutral update (each optimizer's own
``update_step``, the same formula, and Keras' decoupled weight decay). A model
whose layers ``vmap`` cannot carry is found before any slot trains, and its jobs
train as ordinary fits: so is a model with random layers (Dropout), which draw
from PyTorch's one global generator in the order separate fits take it.
"""

import types

import keras
import numpy as np
from keras.src.optimizers.base_optimizer import BaseOptimizer  # (Keras' backend-neutral update)

from skhp.packed._engine import _epoch_rows, short_error
from skhp.packed._stateless import StatelessPackRun, StatelessProgram

__all__ = ["TorchPackRun"]


def _install_vmappable_convolutions(torch):
    """Keras' PyTorch convolution lays channels-last inputs and kernels out in memory as
    such (faster for one model) through a copy ``vmap`` cannot batch; a pack's tensors
    (functorch's wrapped ones, never an ordinary fit's) keep their layout instead, and
    ``vmap`` runs the slots' convolutions as one grouped convolution. Installed once."""
    from keras.src.backend.torch import nn

    original = getattr(nn, "_maybe_convert_to_channels_last", None)
    if original is None or getattr(original, "skhp_vmappable", False):
        return

    def laid_out(tensor):
        if torch._C._functorch.is_functorch_wrapped_tensor(tensor):
            return tensor
        return original(tensor)

    laid_out.skhp_vmappable = True
    nn._maybe_convert_to_channels_last = laid_out


class _TorchProgram(StatelessProgram):
    """One pack structure's vectorized step and evaluation on PyTorch."""

    def __init__(self, *args):
        import torch

        self.torch = torch
        _install_vmappable_convolutions(torch)
        super().__init__(*args)
        # the optimizer's own backend-neutral update (Nadam's updates its momentum product
        # there) and Keras' decoupled weight decay, in place of PyTorch's in-place versions
        generic = getattr(keras.optimizers, type(self.optimizer).__name__)
        for name, source in (("_backend_update_step", generic),
                             ("_apply_weight_decay", BaseOptimizer)):
            setattr(self.optimizer, name, types.MethodType(getattr(source, name), self.optimizer))
        # a random layer (Dropout) draws from PyTorch's one global generator, in an order no
        # pack can share out as separate fits draw it: it raises, and the jobs fit one by one
        self._step = torch.func.vmap(self._one_step, randomness="error")
        self._evaluation = torch.func.vmap(self.evaluation_of, randomness="error")

    def _tensors(self, arrays):
        return [self.torch.as_tensor(np.asarray(a)) for a in arrays]

    def _samples(self, x):
        """``x`` as the engine hands it (shared by every slot, or stacked) in tensors."""
        if isinstance(x, dict):
            return {"shared": self.torch.as_tensor(x["shared"])}
        return self.torch.as_tensor(x)

    def _batch(self, x, y, take):
        """Lanes' rows ``take`` (lanes, rows) of ``x`` (shared or per lane) and of ``y``."""
        lanes = self.torch.arange(take.shape[0])[:, None]
        xb = x["shared"][take] if isinstance(x, dict) else x[lanes, take]
        return xb, y[lanes, take]

    def run_epoch(self, weights, x, y, idx, w, n, rows, rate, momentum, valid, l2, numbers=None):
        """One epoch of every lane (``idx``, ``w`` of shape (steps, lanes, batch)), a step per
        call, a last batch of fewer rows as Keras' fit takes it. Returns the lanes' state after
        it and their summed training losses."""
        torch = self.torch
        x, y = self._samples(x), torch.as_tensor(y)
        params, model_state, opt_state = (self._tensors(weights[k]) for k in
                                          ("params", "model_state", "opt_state"))
        l2 = torch.as_tensor(l2)
        total = torch.zeros(idx.shape[1])
        for s in np.flatnonzero(valid.any(axis=1)):
            b = int(rows[s])
            take = torch.as_tensor(idx[s, :, :b].astype("int64"))
            xb, yb = self._batch(x, y, take)
            params, model_state, opt_state, loss = self._step(
                params, model_state, opt_state, xb, yb, *(torch.as_tensor(a[s]) for a in (
                    w[:, :, :b], n, rate, momentum, valid)), l2)
            total = total + loss
        state = {k: [v.numpy() for v in values] for k, values in
                 (("params", params), ("model_state", model_state), ("opt_state", opt_state))}
        return state, total.numpy()

    def evaluate(self, params, model_state, x, y, idx, w, n, l2):
        """Each lane's loss (inference mode) on its samples ``idx`` (lanes, rows)."""
        torch = self.torch
        xb, yb = self._batch(self._samples(x), torch.as_tensor(y),
                             torch.as_tensor(np.asarray(idx, "int64")))
        return self._evaluation(self._tensors(params), self._tensors(model_state), xb, yb,
                                *self._tensors((w, n, l2))).numpy()

    def _one_step(self, params, model_state, opt_state, xb, yb, wb, nb, lr, mom, keep, l2):
        """One slot's step: its state after it (unchanged where ``keep`` is False) and its
        loss times its rows."""
        torch = self.torch
        grads, (loss, new_model_state) = torch.func.grad_and_value(self.loss_of, has_aux=True)(
            params, model_state, xb, yb, wb, nb, l2, True)
        new_params, new_opt = self.apply(opt_state, grads, params, lr, mom)

        def kept(new, old):
            return [torch.where(keep, a, b) for a, b in zip(new, old)]

        return (kept(new_params, params), kept(new_model_state, model_state),
                kept(new_opt, opt_state), torch.where(keep, loss * nb, 0.0))


class TorchPackRun(StatelessPackRun):
    """:class:`~skhp.packed._engine.PackRun` on PyTorch: the same slots, epochs, early
    stopping, pruning and results, each step Keras' own stateless call and optimizer update.

    Parameters are :class:`~skhp.packed._engine.PackRun`'s.

    Examples
    --------
    Used as :class:`~skhp.packed._engine.PackRun` is (see its example): where Keras runs on
    PyTorch, :func:`skhp.packed.pack_engine` gives this class, and every pack trains with it.
    """

    program_class = _TorchProgram

    def check(self):
        """None when one step of the first slot runs under ``torch.func.vmap``, else why not."""
        reason = super().check()
        if reason is not None:
            return reason
        try:
            lanes = np.array([0])
            x, y = self.data(lanes)
            idx = _epoch_rows(self.slots[0].train, 0)[:self.batch_size][None, None]
            b, one = idx.shape[2], np.ones((1, 1), "float32")
            with self._placed():
                self.program().run_epoch(self._gathered(lanes), x, y, idx, np.ones_like(idx, "float32"),
                                         one * b, np.array([b]), one * 1e-3, one * 0,
                                         one.astype(bool), self._numbers(self.slots[:1])[1])
        except Exception as error:  # noqa: BLE001  (any failure: the jobs train the ordinary way)
            if "randomness" in str(error):
                return ("its random layers (Dropout, noise) draw from PyTorch's one global "
                        "generator, which a pack cannot share out as separate fits draw it")
            return f"the model does not train in a pack on PyTorch ({short_error(error)})"
        return None
