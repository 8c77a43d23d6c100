"""The pack engine on JAX: K copies of one Keras model, trained by Keras' own stateless API.

A step of one slot is Keras' ``model.stateless_call`` (the model's own
layers), the gradient of its loss from ``jax.value_and_grad``, and Keras'
own ``optimizer.stateless_apply``: no optimizer formula is written here.
Each slot's learning rate, momentum (``beta_1``) and other optimizer numbers
are variables of its optimizer's state, set before every step from its
tables. ``jax.vmap`` runs the slots side by side and ``jax.lax.scan`` an
epoch's steps, jitted; the epoch loop, shuffling, hold-out, early stopping
and pruning's continued training are the TensorFlow engine's
(:class:`skhp.packed._engine.PackRun`), so both engines train a slot the same way.

JAX compiles per shape: slot counts are rounded up to a power of two (the
extra lanes idle), and an epoch's full batches and its last, partial one
compile once each per pack structure.
"""

import contextlib
import math

import keras
import numpy as np
from scipy import sparse

from skhp.callbacks import OptimizerSetting
from skhp.packed._engine import PackRun, _per_sample, _stacked, kept_program

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


# Settings a pack's slots may differ in, per optimizer (the momentum setting included).
_PER_SLOT = ("momentum", "beta_1", "beta_2", "epsilon", "rho", "weight_decay")


class _JaxProgram:
    """The jitted epoch and evaluation of one pack structure (model, loss, optimizer)."""

    def __init__(self, model, loss, optimizer, structural, decayed, decoupled):
        import jax

        self.jax, self.model, self.loss = jax, model, _per_sample(loss)
        nesterov, amsgrad, centered = structural
        flags = {"nesterov": nesterov} if optimizer == "SGD" else \
            {"amsgrad": amsgrad} if optimizer in ("Adam", "AdamW") else \
            {"centered": centered} if optimizer == "RMSprop" else {}
        self.optimizer = getattr(keras.optimizers, optimizer)(learning_rate=0.0, **flags)
        accepted = set(self.optimizer.get_config())
        self.settings = [name for name in _PER_SLOT if name in accepted
                         and (name != "weight_decay" or decoupled)]
        for name in self.settings:  # before build: SGD and RMSprop build momentum when it is on
            setattr(self.optimizer, name, OptimizerSetting(0.0, dtype="float32", trainable=False,
                                                           name=f"skhp_{name}"))
        self.optimizer.build(model.trainable_variables)
        variables = self.optimizer.variables
        self.positions = {name: variables.index(getattr(self.optimizer, name))
                          for name in self.settings}
        self.positions["learning_rate"] = next(i for i, v in enumerate(variables)
                                               if v.name == "learning_rate")
        self.momentum = next((name for name in ("beta_1", "momentum") if name in self.settings),
                             None)
        self.accumulators = [i for i, v in enumerate(variables) if "accumulator" in v.name]
        self.decayed = list(decayed)
        # a batch's statistics (BatchNormalization) see its rows: a short batch keeps its size
        self.by_batch = any(isinstance(layer, keras.layers.BatchNormalization)
                            for layer in model._flatten_layers())
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

    def initial_state(self, slots):
        """Each slot's optimizer variables, stacked: Keras' initial values, the slot's numbers."""
        values = [np.stack([np.asarray(v.value)] * len(slots)) for v in self.optimizer.variables]
        for name in self.settings:
            if name != self.momentum:
                values[self.positions[name]] = np.array(
                    [float(s.settings.get(name, 0.0)) for s in slots], "float32")
        for i in self.accumulators:  # Adagrad's accumulators start at each slot's own value
            start = np.array([float(s.settings.get("initial_accumulator_value", 0.1))
                              for s in slots], "float32")
            values[i] = np.broadcast_to(start.reshape([-1] + [1] * (values[i].ndim - 1)),
                                        values[i].shape).astype(values[i].dtype)
        return values

    def _loss(self, params, model_state, xb, yb, wb, nb, l2, training):
        jnp = self.jax.numpy
        out, new_state, extra = self.model.stateless_call(params, model_state, xb,
                                                          training=training, return_losses=True)
        losses = self.loss(yb, out)
        if losses.ndim > 1:
            losses = jnp.mean(losses, axis=tuple(range(1, losses.ndim)))
        value = jnp.sum(losses.astype("float32") * wb) / jnp.maximum(nb, 1.0)
        for e in extra:
            value = value + e.astype("float32")
        kernels = [p for p, decay in zip(params, self.decayed) if decay]
        if kernels:
            value = value + l2 * sum(jnp.sum(jnp.square(k)) for k in kernels)
        return value, new_state

    def _epoch(self, params, model_state, opt_state, x, y, idx, w, n, rate, momentum, valid, l2):
        """One slot's steps ``idx`` (steps, batch) of an epoch: its state after them, and its
        summed training loss (each step's mean loss times its rows)."""
        jax, jnp = self.jax, self.jax.numpy
        grad = jax.value_and_grad(self._loss, has_aux=True)

        def step(carry, inputs):
            params, model_state, opt_state, total = carry
            take, wb, nb, lr, mom, keep = inputs
            (loss, new_model_state), grads = grad(params, model_state, x[take], y[take], wb, nb,
                                                  l2, True)
            opt_state = list(opt_state)
            opt_state[self.positions["learning_rate"]] = lr
            if self.momentum is not None:
                opt_state[self.positions[self.momentum]] = mom
            new_params, new_opt = self.optimizer.stateless_apply(opt_state, grads, params)

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
        value, _ = self._loss(params, model_state, x[idx], y[idx], w, n, l2, False)
        return value


def _program(key, model, loss, optimizer, structural, decayed, decoupled):
    """A pack structure's program, reused while its ``key`` recurs (compiling is the larger
    part of a short pack's time)."""
    key = ("jax", key, optimizer, tuple(structural), tuple(decayed), decoupled)
    return kept_program(key, lambda: _JaxProgram(model, loss, optimizer, structural, decayed,
                                                 decoupled))


class JaxPackRun(PackRun):
    """:class:`~skhp.packed._engine.PackRun` on JAX: the same slots, epochs, early stopping,
    pruning and results, each step Keras' own stateless call and optimizer update.

    Parameters are :class:`~skhp.packed._engine.PackRun`'s.

    Examples
    --------
    Used as :class:`~skhp.packed._engine.PackRun` is (see its example): where Keras runs on
    JAX, :func:`skhp.packed.pack_engine` gives this class, and every pack trains with it.
    """

    def _start_optimizer(self):  # Keras' own optimizer variables, per slot
        self.opt_state = self.program().initial_state(self.slots)

    def _optimizer_state(self, j):
        return {"opt_state": [v[j].copy() for v in self.opt_state]}

    def _restore_optimizer(self, j, state):
        for v, value in zip(self.opt_state, state["opt_state"]):
            v[j] = value

    def program(self):
        penalized = any(s.l2 for s in self.slots)
        decoupled = any(s.settings.get("weight_decay", 0.0) for s in self.slots)
        return _program(self.program_key, self.model, self.loss, self.optimizer, self.structural,
                        self.decayed if penalized else (False,) * len(self.decayed), decoupled)

    def check(self):
        if any(sparse.issparse(s.X) for s in self.slots):
            return "sparse X packs on the TensorFlow backend only"
        return None

    def _placed(self):
        return keras.device(self.device) if self.device is not None else contextlib.nullcontext()

    def _lanes(self, members):
        """Slots ``members``, then idle copies of the first up to a power of two (one program
        serves packs of 2**n slots)."""
        k = 1 << max(0, int(math.ceil(math.log2(max(len(members), 1)))))
        return np.concatenate([members, np.repeat(members[:1], k - len(members))])

    def _gathered(self, lanes):
        return dict(params=[p[lanes] for p in self.params],
                    model_state=[v[lanes] for v in self.model_state],
                    opt_state=[v[lanes] for v in self.opt_state])

    def _scattered(self, members, weights):
        real = len(members)
        for p, new in zip([*self.params, *self.model_state, *self.opt_state],
                          [*weights["params"], *weights["model_state"], *weights["opt_state"]]):
            p[members] = np.asarray(new)[:real]

    def _numbers(self, slots):
        return None, np.array([float(s.l2) for s in slots], "float32")

    def data(self, members):
        rows = max(len(s.targets) for s in self.slots)
        slots = [self.slots[j] for j in members]
        y = _stacked([s.targets for s in slots], rows)
        shared = self.slots[0].X
        if all(s.X is shared for s in self.slots):
            return {"shared": np.asarray(shared)}, y  # one copy of X: every slot indexes it
        return _stacked([s.X for s in slots], rows), y
