"""What the JAX and PyTorch pack engines share: Keras' own stateless API, per slot.

A step of one slot is Keras' ``model.stateless_call`` (the model's own
layers), the gradient of its loss, and Keras' own
``optimizer.stateless_apply``: no optimizer formula is written here. Each
slot's learning rate, momentum (``beta_1``) and other optimizer numbers are
variables of its optimizer's state, set before every step from its tables.
Each backend's engine vectorizes that step over the slots its own way
(``jax.vmap`` in a jitted scan; ``torch.func.vmap`` step by step); the epoch
loop, shuffling, hold-out, early stopping and pruning's continued training
are the TensorFlow engine's (:class:`skhp.packed._engine.PackRun`), so every
engine trains a slot the same way.
"""

import contextlib

import keras
import numpy as np
from scipy import sparse

from skhp.callbacks import OptimizerSetting
from skhp.runtime import device_scope
from skhp.packed._engine import PackRun, _per_sample, _stacked, kept_program

__all__ = ["StatelessProgram", "StatelessPackRun"]

# Settings a pack's slots may differ in, per optimizer (the momentum setting included).
_PER_SLOT = ("momentum", "beta_1", "beta_2", "epsilon", "rho", "weight_decay")


class StatelessProgram:
    """A pack structure's model, loss and Keras optimizer, whose per-slot numbers are
    optimizer variables; a backend's program adds its vectorized epoch and evaluation.

    Parameters
    ----------
    model : keras.Model
    loss : str, keras.losses.Loss or callable
    optimizer : str
        A Keras optimizer's class name.
    structural : tuple of bool
        ``(nesterov, amsgrad, centered)``.
    decayed : sequence of bool
        Per trainable variable: whether the slots' L2 penalty applies to it.
    decoupled : bool
        Whether some slot has a decoupled weight decay (an optimizer variable then).
    """

    def __init__(self, model, loss, optimizer, structural, decayed, decoupled):
        self.model, self.loss = model, _per_sample(loss)
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

    def initial_state(self, slots):
        """Each slot's optimizer variables, stacked: Keras' initial values, the slot's numbers."""
        values = [np.stack([keras.ops.convert_to_numpy(v.value)] * len(slots))
                  for v in self.optimizer.variables]
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

    def loss_of(self, params, model_state, xb, yb, wb, nb, l2, training):
        """One slot's mean loss on a batch (weights ``wb`` over ``nb`` rows, the model's own
        losses and the L2 penalty added) and the model's state after the call."""
        ops = keras.ops
        out, new_state, extra = self.model.stateless_call(params, model_state, xb,
                                                          training=training, return_losses=True)
        losses = self.loss(yb, out)
        if len(losses.shape) > 1:
            losses = ops.mean(losses, axis=tuple(range(1, len(losses.shape))))
        value = ops.sum(ops.cast(losses, "float32") * wb) / ops.maximum(nb, 1.0)
        for e in extra:
            value = value + ops.cast(e, "float32")
        kernels = [p for p, decay in zip(params, self.decayed) if decay]
        if kernels:
            value = value + l2 * sum(ops.sum(ops.square(k)) for k in kernels)
        return value, new_state

    def evaluation_of(self, params, model_state, xb, yb, wb, nb, l2):
        """One slot's loss on a batch in inference mode (see :meth:`loss_of`)."""
        return self.loss_of(params, model_state, xb, yb, wb, nb, l2, False)[0]

    def apply(self, opt_state, grads, params, lr, momentum):
        """Keras' own update of one slot: its rate (and momentum) of this step set first."""
        opt_state = list(opt_state)
        opt_state[self.positions["learning_rate"]] = lr
        if self.momentum is not None:
            opt_state[self.positions[self.momentum]] = momentum
        return self.optimizer.stateless_apply(opt_state, grads, params)


class StatelessPackRun(PackRun):
    """:class:`~skhp.packed._engine.PackRun` whose slots keep Keras' optimizer variables;
    a backend's engine names its program class (``program_class``)."""

    program_class = None

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
        decayed = self.decayed if penalized else (False,) * len(self.decayed)
        key = (self.program_class.__name__, self.program_key, self.optimizer,
               tuple(self.structural), tuple(decayed), decoupled)
        return kept_program(key, lambda: self.program_class(
            self.model, self.loss, self.optimizer, self.structural, decayed, decoupled))

    def check(self):
        if any(sparse.issparse(s.X) for s in self.slots):
            return "sparse X packs on the TensorFlow backend only"
        return None

    def _placed(self):
        return device_scope(self.device) if self.device is not None else contextlib.nullcontext()

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

