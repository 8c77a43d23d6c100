"""The pack engine on JAX: K copies of one Keras model, trained by Keras' own stateless API.

Each slot's step is :class:`skhp.packed._stateless.StatelessProgram`'s
(Keras' stateless call, the gradient from ``jax.value_and_grad``, Keras'
``stateless_apply``). ``jax.vmap`` runs the slots side by side and
``jax.lax.scan`` an epoch's steps, jitted.

JAX compiles per shape: slot counts are rounded up to a power of two (the
extra lanes idle), and an epoch's full batches and its last, partial one
compile once each per pack structure.
"""

import math

import numpy as np

from skhp.packed._stateless import StatelessPackRun, StatelessProgram

__all__ = ["JaxPackRun"]


#: An epoch's steps run in scans of a multiple of this many (the rest idle).
_STEP_BUCKET = 16


def _padded(array, length):
    """``array`` (lanes, steps, ...) with idle steps (zeros, False) up to ``length``."""
    extra = length - array.shape[1]
    if not extra:
        return array
    return np.concatenate([array, np.zeros((array.shape[0], extra, *array.shape[2:]),
                                           array.dtype)], axis=1)


class _JaxProgram(StatelessProgram):
    """The jitted epoch and evaluation of one pack structure (model, loss, optimizer)."""

    def __init__(self, *args):
        import jax

        super().__init__(*args)
        self.jax = jax
        # X shared by every slot (one copy), or each slot's own (stacked): one variant each
        self._epochs = {shared: jax.jit(jax.vmap(self._epoch, in_axes=(
            0, 0, 0, None if shared else 0, 0, 0, 0, 0, 0, 0, 0, 0))) for shared in (True, False)}
        self._evaluations = {shared: jax.jit(jax.vmap(self._evaluate, in_axes=(
            0, 0, None if shared else 0, 0, 0, 0, 0, 0))) for shared in (True, False)}

    def run_epoch(self, weights, x, y, idx, w, n, rows, rate, momentum, valid, l2, numbers=None):
        """One epoch of every lane (``idx``, ``w`` of shape (steps, lanes, batch)): full batches
        in one scan, a last batch of fewer rows in its own, as Keras' fit takes it. Returns
        the lanes' state after it and their summed training losses."""
        shared = isinstance(x, dict)
        x = x["shared"] if shared else x
        params, model_state, opt_state = (weights["params"], weights["model_state"],
                                          weights["opt_state"])
        if not self.by_batch:  # a short batch is a full one with rows of weight 0: one shape
            rows = np.full_like(rows, idx.shape[2])
        total = 0.0
        for part in np.split(np.arange(len(rows)), np.flatnonzero(np.diff(rows)) + 1):
            b = int(rows[part[0]])
            # scans of a few lengths (idle steps after the real ones): few compilations
            length = _STEP_BUCKET * int(math.ceil(len(part) / _STEP_BUCKET))
            lanes_first = [_padded(np.swapaxes(a[part], 0, 1), length)
                           for a in (idx[:, :, :b], w[:, :, :b], n, rate, momentum, valid)]
            params, model_state, opt_state, summed = self._epochs[shared](
                params, model_state, opt_state, x, y, *lanes_first, l2)
            total = total + np.asarray(summed)
        return dict(params=params, model_state=model_state, opt_state=opt_state), total

    def evaluate(self, params, model_state, x, y, idx, w, n, l2):
        """Each lane's loss (inference mode) on its samples ``idx`` (lanes, rows)."""
        shared = isinstance(x, dict)
        return self._evaluations[shared](params, model_state, x["shared"] if shared else x, y,
                                         idx, w, n, l2)

    def _epoch(self, params, model_state, opt_state, x, y, idx, w, n, rate, momentum, valid, l2):
        """One slot's steps ``idx`` (steps, batch) of an epoch: its state after them, and its
        summed training loss (each step's mean loss times its rows)."""
        jax, jnp = self.jax, self.jax.numpy
        grad = jax.value_and_grad(self.loss_of, has_aux=True)

        def step(carry, inputs):
            params, model_state, opt_state, total = carry
            take, wb, nb, lr, mom, keep = inputs
            (loss, new_model_state), grads = grad(params, model_state, x[take], y[take], wb, nb,
                                                  l2, True)
            new_params, new_opt = self.apply(opt_state, grads, params, lr, mom)

            def kept(new, old):
                return [jnp.where(keep, a, b) for a, b in zip(new, old)]

            return (kept(new_params, params), kept(new_model_state, model_state),
                    kept(new_opt, opt_state), total + jnp.where(keep, loss * nb, 0.0)), None

        (params, model_state, opt_state, total), _ = jax.lax.scan(
            step, (params, model_state, opt_state, jnp.zeros((), "float32")),
            (idx, w, n, rate, momentum, valid))
        return params, model_state, opt_state, total

    def _evaluate(self, params, model_state, x, y, idx, w, n, l2):
        """One slot's loss (inference mode) on its samples ``idx``, weighted by ``w``."""
        return self.evaluation_of(params, model_state, x[idx], y[idx], w, n, l2)


class JaxPackRun(StatelessPackRun):
    """:class:`~skhp.packed._engine.PackRun` on JAX: the same slots, epochs, early stopping,
    pruning and results, each step Keras' own stateless call and optimizer update.

    Parameters are :class:`~skhp.packed._engine.PackRun`'s.

    Examples
    --------
    Used as :class:`~skhp.packed._engine.PackRun` is (see its example): where Keras runs on
    JAX, :func:`skhp.packed.pack_engine` gives this class, and every pack trains with it.
    """

    program_class = _JaxProgram

    def _lanes(self, members):
        """Slots ``members``, then idle copies of the first up to a power of two (one program
        serves packs of 2**n slots)."""
        k = 1 << max(0, int(math.ceil(math.log2(max(len(members), 1)))))
        return np.concatenate([members, np.repeat(members[:1], k - len(members))])
