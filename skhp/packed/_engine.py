"""The pack engine: K copies of one Keras model trained as one TensorFlow program.

A pack's slots share a model's structure; their weights, optimizer state
and the model's non-trainable state (BatchNormalization's statistics, the
seed of a Dropout layer) are stacked along a leading slot axis. A step runs
the model's own layers — ``model.stateless_call`` vectorized over the slots
with ``tf.vectorized_map`` — so any model whose layers vectorize packs, and
no layer is written twice (the slots' convolutions run as one grouped
convolution: :mod:`skhp.packed._tf_convolutions`). The gradient of every
slot's loss comes from one ``tf.GradientTape``; the optimizer update is
written over the stacked state with Keras' formulas (its TensorFlow
optimizers update one variable at a time and have no stateless form), each
slot with its own learning rate, momentum and other numbers at every step.

:class:`PackRun` trains the slots epoch range by epoch range (pruning's
rungs continue a run where it stopped); :func:`train_pack` trains them to
the end. The engine knows models and arrays, not estimators: what a slot
trains on and with comes planned (:mod:`skhp.packed._plan`).
"""

import contextlib
import dataclasses
import functools
import math
import warnings

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import keras
import numpy as np
from scipy import sparse

from skhp.fit_spec import OPTIMIZER_SETTINGS, OPTIMIZER_STATE
from skhp.packed import _tf_convolutions
from skhp.packed._kept import Kept
from skhp.packed._widths import cut

__all__ = ["PackedSlot", "PackRun", "short_error"]

#: A slot's optimizer numbers other than the rate and momentum (its tables), and their
#: defaults: every number of :data:`skhp.fit_spec.OPTIMIZER_SETTINGS` (no weight decay).
NUMBERS = {"weight_decay": 0.0}
for _settings in OPTIMIZER_SETTINGS.values():
    for _name, _value in _settings.items():
        if not isinstance(_value, bool) and _name not in ("momentum", "beta_1"):
            NUMBERS.setdefault(_name, _value)
del _settings, _name, _value


def state_count(optimizer, structural):
    """Optimizer state tensors per weight: momentum, second moments, ...

    Examples
    --------
    >>> state_count("Adam", (False, True, False)), state_count("SGD", (True, False, False))
    (3, 1)
    """
    _, amsgrad, centered = structural
    return OPTIMIZER_STATE[optimizer](amsgrad, centered)


@dataclasses.dataclass
class PackedSlot:
    """One network of a pack: its data, its initial state and every per-step number.

    Attributes
    ----------
    X : ndarray of shape (n_samples, ...) or sparse matrix of shape (n_samples, n_features)
        The samples the slot trains and validates on (its fold, preprocessed
        its way, or the whole search's X that every slot of the pack shares
        and indexes), as the model takes them; a sparse matrix is densified a
        batch at a time, on the device.
    train : ndarray of int
        Indices (into ``X``) the slot trains on, in their unshuffled order;
        of shape (epochs, rows) for another set each epoch.
    validation : ndarray of int or None
        Indices of its validation samples (early stopping watches their loss).
    targets : ndarray of shape (n_samples, ...)
        The slot's targets for every sample of ``X``, as its loss takes them.
    sample_weight : ndarray of shape (n_samples,)
        Weight of every sample of ``X`` in the slot's loss.
    weights : list of ndarray
        Initial values of the model's trainable variables, in their order.
    rates, momenta : ndarray of shape (epochs * steps,)
        Learning rate and momentum (``beta_1`` for the Adam family) of every step.
    settings : dict
        The optimizer's other numbers (``beta_2``, ``epsilon``, ``rho``,
        ``weight_decay``, ``initial_accumulator_value``).
    state : list of ndarray
        Initial values of the model's non-trainable variables (normalization
        statistics, random layers' seeds), in their order.
    l2 : float
        L2 penalty on the kernels the plan marks as decayed.
    patience : int
        Early stopping's patience in epochs (0: none).
    seed : int
        Seed of the slot's shuffling.
    shapes : list of tuple or None
        The shapes of the slot's own trainable and non-trainable variables
        where its weights are zero-padded to a wider model's
        (:mod:`skhp.packed._widths`); its results are cut back to them.
    """

    X: np.ndarray
    train: np.ndarray
    validation: object
    targets: np.ndarray
    sample_weight: np.ndarray
    weights: list
    rates: np.ndarray
    momenta: np.ndarray
    settings: dict
    state: list = dataclasses.field(default_factory=list)
    l2: float = 0.0
    patience: int = 0
    seed: int = 0
    shapes: object = None


def _per_sample(loss):
    """``loss`` (a name, a Keras loss or a callable) as a function of (targets, outputs) per sample."""
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        return loss.call
    return loss


class _Program:
    """The TensorFlow program of a pack's model: steps over stacked slots, optimizer update.

    Functional: a call takes the slots' weights and states (slots first) and
    returns them updated, so one trace serves packs of any number of slots
    (a pruned pack's surviving slots too) and any batch size.
    """

    def __init__(self, model, loss, optimizer, structural, decayed, decoupled=True):
        import tensorflow as tf

        _tf_convolutions.install()  # before the first trace (slots' convolutions grouped)
        self.tf, self.model, self.loss = tf, model, _per_sample(loss)
        self.optimizer = optimizer
        self.nesterov, self.amsgrad, self.centered = structural
        # steps skip the terms no slot has (each costs an elementwise pass over every weight)
        self.decayed, self.decoupled = list(decayed), decoupled
        # Traced without autograph (the step loop is an explicit while_loop): it traces faster.
        # Partials: TensorFlow counts traces per method's code, so every new program's one
        # trace would add up to an "excessive retracing" warning across programs.
        self.run_epoch = tf.function(functools.partial(type(self)._run_epoch, self),
                                     reduce_retracing=True, autograph=False)
        self.evaluate = tf.function(functools.partial(type(self)._evaluate, self),
                                    reduce_retracing=True, autograph=False)

    def signature(self, x, y):
        """Input specs with the slots, rows, steps and batch rows left open (for tracing once)."""
        tf = self.tf
        spec = lambda shape, dtype="float32": tf.TensorSpec(shape, dtype)  # noqa: E731
        open_ = lambda t: spec((None, None, *t.shape[2:]), t.dtype)  # noqa: E731
        if isinstance(x, tuple):
            x_spec = (tf.RaggedTensorSpec([None, None], "int64", 1, "int64"),
                      tf.RaggedTensorSpec([None, None], "float32", 1, "int64"), spec((), "int64"))
        elif isinstance(x, dict):
            x_spec = {"shared": spec((None, *x["shared"].shape[1:]), x["shared"].dtype)}
        else:
            x_spec = open_(x)
        variables = lambda vs: [spec((None, *v.shape), v.dtype) for v in vs]  # noqa: E731
        params = variables(self.model.trainable_variables)
        n_state = state_count(self.optimizer, (self.nesterov, self.amsgrad, self.centered))
        slots = spec((None,))
        weights = dict(params=params, model_state=variables(self.model.non_trainable_variables),
                       state=[[p] * n_state for p in params], iterations=slots, u_product=slots)
        per_step = spec((None, None))
        epoch = dict(x=x_spec, y=open_(y), idx=spec((None, None, None), "int32"),
                     w=spec((None, None, None)), n=per_step, rows=spec((None,), "int32"),
                     rate=per_step, momentum=per_step, valid=spec((None, None), "bool"), l2=slots,
                     numbers={name: slots for name in NUMBERS})
        evaluation = dict(x=x_spec, y=open_(y), idx=spec((None, None), "int32"),
                          w=spec((None, None)), n=slots, l2=slots)
        return weights, epoch, evaluation

    def _slot_losses(self, params, model_state, x, y, w, n, training):
        """Each slot's weighted mean loss plus its model's own losses; its new model state."""
        tf = self.tf

        def one(args):
            p, s, xb, yb, wb, nb = args
            out, new_state, extra = self.model.stateless_call(
                p, s, xb, training=training, return_losses=True)
            losses = self.loss(yb, out)
            if len(losses.shape) > 1:
                losses = tf.reduce_mean(losses, axis=list(range(1, len(losses.shape))))
            value = tf.reduce_sum(tf.cast(losses, "float32") * wb) / tf.maximum(nb, 1.0)
            if extra:
                value = value + tf.add_n([tf.cast(e, "float32") for e in extra])
            return value, new_state

        return tf.vectorized_map(one, (params, model_state, x, y, w, n),
                                 fallback_to_while_loop=True)

    def _penalty(self, params, l2):
        tf = self.tf
        kernels = [p for p, decay in zip(params, self.decayed) if decay]
        if not kernels:
            return tf.zeros_like(l2)
        return l2 * tf.add_n([tf.reduce_sum(tf.square(k), axis=list(range(1, len(k.shape))))
                              for k in kernels])

    def _rows(self, x, take):
        """Each slot's rows ``take`` (K, B) of ``x``: dense, or CSR rows densified here, per batch."""
        tf = self.tf
        if isinstance(x, dict):  # the slots' one shared X
            return tf.gather(x["shared"], take)
        if not isinstance(x, tuple):
            return tf.gather(x, take, batch_dims=1)
        columns, values, n_features = x  # ragged (K * rows, None): slot j's rows from j * rows
        k, b = tf.shape(take, out_type="int64")[0], tf.shape(take, out_type="int64")[1]
        rows = columns.nrows() // k
        flat = tf.reshape(tf.cast(take, "int64") + tf.range(k)[:, None] * rows, [-1])
        picked, numbers = tf.gather(columns, flat), tf.gather(values, flat)
        where = tf.stack([picked.value_rowids(), picked.flat_values], axis=1)
        dense = tf.scatter_nd(where, numbers.flat_values, tf.stack([k * b, n_features]))
        return tf.reshape(dense, tf.stack([k, b, n_features]))

    def _evaluate(self, params, model_state, x, y, idx, w, n, l2):
        """Each slot's loss (inference mode) on its samples ``idx`` (K, M), weighted by ``w``."""
        tf = self.tf
        xb = self._rows(x, idx)
        yb = tf.gather(y, idx, batch_dims=1)
        data, _ = self._slot_losses(params, model_state, xb, yb, w, n, False)
        return data + self._penalty(params, l2)

    def _run_epoch(self, weights, x, y, idx, w, n, rows, rate, momentum, valid, l2, numbers):
        """One epoch of every slot: ``weights`` (a dict of the slots' values) updated, and each
        slot's summed training loss."""
        tf = self.tf
        n_params, n_model = len(weights["params"]), len(weights["model_state"])

        def unpack(flat):
            params, model_state = flat[:n_params], flat[n_params:n_params + n_model]
            rest = flat[n_params + n_model:]
            n_state = (len(rest) - 2) // max(n_params, 1)
            state = [rest[i * n_state:(i + 1) * n_state] for i in range(n_params)]
            return params, model_state, state, rest[-2], rest[-1]

        def step(s, total, *flat):
            params, model_state, state, iterations, u_product = unpack(list(flat))
            # a step sees only its real rows: a partial last batch is one, as in Keras' fit
            take = idx[s][:, :rows[s]]
            xb = self._rows(x, take)
            yb = tf.gather(y, take, batch_dims=1)
            with tf.GradientTape() as tape:
                tape.watch(params)
                data, new_model_state = self._slot_losses(params, model_state, xb, yb,
                                                          w[s][:, :rows[s]], n[s], True)
                loss = data + self._penalty(params, l2)
                summed = tf.reduce_sum(loss)  # slots are independent: each gets its own gradient
            grads = tape.gradient(summed, params)
            params, state, iterations, u_product = self._update(
                params, grads, state, iterations, u_product, rate[s], momentum[s], valid[s],
                numbers)
            kept = [tf.where(tf.reshape(valid[s], [-1] + [1] * (len(v.shape) - 1)),
                             tf.cast(new, v.dtype), v)
                    for v, new in zip(model_state, new_model_state)]
            flat = [*params, *kept, *[v for vs in state for v in vs], iterations, u_product]
            return (s + 1, total + tf.where(valid[s], loss * n[s], 0.0), *flat)

        flat = [*weights["params"], *weights["model_state"],
                *[v for vs in weights["state"] for v in vs], weights["iterations"],
                weights["u_product"]]
        out = tf.while_loop(lambda s, *_: s < tf.shape(idx)[0], step,
                            (tf.constant(0), tf.zeros_like(weights["iterations"]), *flat))
        params, model_state, state, iterations, u_product = unpack(list(out[2:]))
        return dict(params=params, model_state=model_state, state=state, iterations=iterations,
                    u_product=u_product), out[1]

    def _update(self, params, grads, states, iterations, u_product, lr, mom, valid, numbers):
        """Keras' update of every weight, per slot; the slots of ``valid`` False stay as they are."""
        tf = self.tf
        step = iterations + 1.0
        if self.optimizer == "Nadam":
            u_new = u_product * mom * (1.0 - 0.5 * tf.pow(0.96, step))
        new_params, new_states = [], []
        for p, g, state in zip(params, grads, states):
            if g is None:  # a weight the loss does not reach (Keras' optimizers skip it)
                new_params.append(p)
                new_states.append(list(state))
                continue
            shape = [-1] + [1] * (len(p.shape) - 1)
            keep = tf.reshape(valid, shape)
            lr_, mom_ = tf.reshape(lr, shape), tf.reshape(mom, shape)
            b2, eps, rho_, decay = (tf.reshape(numbers[k], shape)
                                    for k in ("beta_2", "epsilon", "rho", "weight_decay"))
            t = tf.reshape(step, shape)
            var = p - p * decay * lr_ if self.decoupled else p  # the optimizer's own weight decay
            new_state = []
            if self.optimizer == "SGD":
                (m,) = state
                m_new = mom_ * m - lr_ * g
                var = var + (mom_ * m_new - lr_ * g if self.nesterov else m_new)
                new_state = [m_new]
            elif self.optimizer in ("Adam", "AdamW"):
                m, v = state[0], state[1]
                alpha = lr_ * tf.sqrt(1 - tf.pow(b2, t)) / (1 - tf.pow(mom_, t))
                m_new = m + (g - m) * (1 - mom_)
                v_new = v + (tf.square(g) - v) * (1 - b2)
                new_state = [m_new, v_new]
                v_use = v_new
                if self.amsgrad:
                    v_use = tf.maximum(state[2], v_new)
                    new_state.append(v_use)
                var = var - m_new * alpha / (tf.sqrt(v_use) + eps)
            elif self.optimizer == "RMSprop":
                velocity, m = state[0], state[1]
                vel_new = rho_ * velocity + (1 - rho_) * tf.square(g)
                new_state = [vel_new]
                if self.centered:
                    avg = rho_ * state[2] + (1 - rho_) * g
                    denominator = vel_new - tf.square(avg) + eps
                else:
                    denominator = vel_new + eps
                m_new = mom_ * m + lr_ * g / tf.sqrt(denominator)
                new_state.append(m_new)
                if self.centered:
                    new_state.append(avg)
                var = var - m_new
            elif self.optimizer == "Nadam":
                m, v = state
                u_t = mom_ * (1.0 - 0.5 * tf.pow(0.96, t))
                u_t_1 = mom_ * (1.0 - 0.5 * tf.pow(0.96, t + 1))
                u_prod = tf.reshape(u_new, shape)
                m_new = m + (g - m) * (1 - mom_)
                v_new = v + (tf.square(g) - v) * (1 - b2)
                m_hat = u_t_1 * m_new / (1 - u_prod * u_t_1) + (1 - u_t) * g / (1 - u_prod)
                v_hat = v_new / (1 - tf.pow(b2, t))
                var = var - m_hat * lr_ / (tf.sqrt(v_hat) + eps)
                new_state = [m_new, v_new]
            elif self.optimizer == "Adamax":
                m, u = state
                m_new = m + (g - m) * (1 - mom_)
                norm = tf.maximum(b2 * u, tf.abs(g))
                var = var - lr_ * m_new / ((1 - tf.pow(mom_, t)) * (norm + eps))
                new_state = [m_new, norm]
            else:  # Adagrad
                (accumulator,) = state
                acc_new = accumulator + tf.square(g)
                var = var - lr_ * g / tf.sqrt(acc_new + eps)
                new_state = [acc_new]
            new_params.append(tf.where(keep, var, p))
            new_states.append([tf.where(keep, new, old) for old, new in zip(state, new_state)])
        if self.optimizer == "Nadam":
            u_product = tf.where(valid, u_new, u_product)
        return new_params, new_states, tf.where(valid, step, iterations), u_product


_PROGRAMS = Kept(16)  # every engine's programs


def _current_device():
    """The device of the enclosing ``tf.device`` scope ('' outside one)."""
    import tensorflow as tf

    return tf.constant(0.0).device if tf.executing_eagerly() else ""


def program(key, model, loss, optimizer, structural, decayed, decoupled=True):
    """A pack's program, reused while its ``key`` (the model's structure, loss...) recurs.

    Reuse spares tracing it again, the larger part of a short pack's time
    (a search's rounds, refits, lotteries): one trace serves every pack of
    the structure, whatever its number of slots. The few most recent are
    kept. ``decayed``: per trainable variable, whether the slots' L2 penalty
    applies to it; ``decoupled``: whether any slot has the optimizer's own
    weight decay.
    """
    key = (key, optimizer, tuple(structural), tuple(decayed), decoupled, _current_device())
    return kept_program(key, lambda: _Program(model, loss, optimizer, structural, decayed,
                                              decoupled))


def kept_program(key, make):
    """The program kept under ``key``, or ``make()``'s, kept now; the few most recent are kept
    (every engine's programs share the list)."""
    return _PROGRAMS.get(key, make)


def _epoch_rows(train, epoch):
    """A slot's training rows in ``epoch``: ``train``, or its row for that epoch when it holds
    one set an epoch (the lottery's fresh samples)."""
    return train[epoch % len(train)] if np.ndim(train) == 2 else train


def _stacked(arrays, rows=None):
    """``arrays`` of equal trailing shapes stacked on a new first axis, zero-padded to ``rows``
    (default: the longest)."""
    rows = max(len(a) for a in arrays) if rows is None else rows
    first = np.asarray(arrays[0])
    dtype = "float32" if first.dtype.kind in "fc" or first.dtype == bool else first.dtype
    out = np.zeros((len(arrays), rows, *first.shape[1:]), dtype=dtype)
    for j, a in enumerate(arrays):
        out[j, :len(a)] = a
    return out


def _epoch_batches(slots, orders, batch_size, n_steps):
    """Index, weight and size arrays (steps, K, batch) for one epoch of every slot."""
    k = len(slots)
    idx = np.zeros((n_steps, k, batch_size), dtype=np.int32)
    w = np.zeros((n_steps, k, batch_size), dtype=np.float32)
    n = np.zeros((n_steps, k), dtype=np.float32)
    for j, (slot, order) in enumerate(zip(slots, orders)):
        for s in range(int(math.ceil(len(order) / batch_size))):
            part = order[s * batch_size:(s + 1) * batch_size]
            idx[s, j, :len(part)] = part
            w[s, j, :len(part)] = slot.sample_weight[part]
            n[s, j] = len(part)
    return idx, w, n


class PackRun:
    """The slots of one pack, trained epoch range by epoch range; the low-level engine.

    Between calls of :meth:`advance` every slot's weights, model and
    optimizer state, shuffling stream and early-stopping state are kept here
    (not in the shared, cached program), so a run continues exactly where
    it stopped: a slot trained to epoch 3 and then to epoch 9 ends as one
    trained to 9 at once. Slots can be stopped between calls (:meth:`stop`,
    pruning); later calls train only the slots still active, as a smaller pack.
    Slots that fail together (out of memory) train again as two halves, down
    to single slots; one that fails alone is in ``failed`` (slot: why).

    Parameters
    ----------
    slots : list of PackedSlot
        The networks, each with its own data, initial state and per-step numbers.
    model : keras.Model
        The structure every slot shares (built; its own variables are never
        trained: each slot's values are passed to its layers).
    loss : str, keras.losses.Loss or callable
        The training loss, per sample (``loss(y_true, y_pred)``), weighted
        by the slots' sample weights and averaged over each batch.
    optimizer : str
        A key of :data:`skhp.fit_spec.OPTIMIZER_STATE`.
    batch_size, epochs : int
        Shared by every slot; ``epochs`` is the whole fit's length.
    shuffle : bool, default=True
        Shuffle each slot's training indices every epoch (its own seeded stream).
    structural : tuple of bool
        ``(nesterov, amsgrad, centered)``.
    decayed : sequence of bool or None, default=None
        Per trainable variable of ``model``: whether the slots' ``l2``
        penalty applies to it (None: none).
    key : hashable or None, default=None
        What identifies ``model``'s structure and ``loss`` for reusing a
        traced program across runs (None: this model object).
    device : str or None, default=None
        Where the pack's steps run (``"cpu:0"``, ``"gpu:1"``); None:
        TensorFlow's default placement.

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> X = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    >>> slot = PackedSlot(X=X, train=np.arange(32), validation=None,
    ...                   targets=X[:, :1] * 2, sample_weight=np.ones(32, "float32"),
    ...                   weights=[np.zeros((3, 1), "float32"), np.zeros(1, "float32")],
    ...                   rates=np.full(6, 0.1), momenta=np.zeros(6), settings={})
    >>> run = PackRun([slot], model=model, loss="mse", optimizer="SGD", batch_size=16, epochs=3)
    >>> run.advance(1).epoch, run.advance(3).epoch
    (1, 3)
    >>> len(run.result(0)["history"]["loss"])
    3
    """

    def __init__(self, slots, *, model, loss, optimizer, batch_size, epochs, shuffle=True,
                 structural=(False, False, False), decayed=None, key=None, device=None):
        self.slots, self.model, self.loss = list(slots), model, loss
        self.optimizer, self.batch_size, self.epochs, self.shuffle = optimizer, batch_size, epochs, shuffle
        self.structural, self.device = tuple(structural), device
        self.decayed = tuple(decayed) if decayed is not None else (False,) * len(slots[0].weights)
        self.program_key = key if key is not None else ("model", id(model), repr(loss))
        k = len(self.slots)
        self.params = [np.stack([s.weights[i] for s in self.slots])
                       for i in range(len(self.slots[0].weights))]
        self.model_state = [np.stack([s.state[i] for s in self.slots])
                            for i in range(len(self.slots[0].state))]
        self._start_optimizer()
        self.steps = [int(math.ceil(_epoch_rows(s.train, 0).size / batch_size)) for s in self.slots]
        self.rngs = [np.random.default_rng(s.seed) for s in self.slots]
        self.active = np.ones(k, dtype=bool)
        self.diverged = np.zeros(k, dtype=bool)
        self.trained = np.zeros(k, dtype=int)
        self.histories = [{"loss": [], "lr": []} for _ in self.slots]
        self.watch = [s.validation is not None and len(s.validation) > 0 for s in self.slots]
        for h, watched in zip(self.histories, self.watch):
            if watched:
                h["val_loss"] = []
        self.best = [math.inf] * k
        self.wait = [0] * k
        self.best_weights = [None] * k
        self.failed = {}  # slot -> why it failed even in a pack of its own
        self.epoch = 0

    def _start_optimizer(self):
        """Every slot's optimizer state at its first step (this engine's own layout)."""
        n_state = state_count(self.optimizer, self.structural)
        start = np.array([float(s.settings.get("initial_accumulator_value", 0.1))
                          if self.optimizer == "Adagrad" else 0.0 for s in self.slots], "float32")
        self.state = [[np.broadcast_to(start.reshape([-1] + [1] * (p.ndim - 1)), p.shape)
                       .astype(p.dtype) for _ in range(n_state)] for p in self.params]
        self.iterations = np.zeros(len(self.slots), dtype="float32")
        self.u_product = np.ones(len(self.slots), dtype="float32")

    def _optimizer_state(self, j):
        """Slot ``j``'s optimizer state, copied (part of :meth:`slot_state`)."""
        return {"state": [[v[j].copy() for v in variables] for variables in self.state],
                "iterations": float(self.iterations[j]), "u_product": float(self.u_product[j])}

    def _restore_optimizer(self, j, state):
        for variables, values in zip(self.state, state["state"]):
            for v, value in zip(variables, values):
                v[j] = value
        self.iterations[j], self.u_product[j] = state["iterations"], state["u_product"]

    def stop(self, j):
        """Train slot ``j`` no further (pruned)."""
        self.active[j] = False

    def weights(self, j):
        """Slot ``j``'s trainable and non-trainable values as a fit ending now leaves them
        (the best epoch's under early stopping)."""
        if self.best_weights[j] is not None:
            weights, state = self.best_weights[j]
        else:
            weights, state = [p[j] for p in self.params], [v[j] for v in self.model_state]
        shapes = self.slots[j].shapes
        if shapes is not None:  # trained widened (skhp.packed._widths): its own widths
            weights, state = cut(weights, shapes), cut(state, shapes[len(weights):])
        return weights, state

    def result(self, j):
        """Slot ``j``'s result: ``weights``, model ``state``, ``history``, ``epochs`` and ``diverged``."""
        weights, state = self.weights(j)
        return {"weights": [np.array(w) for w in weights], "state": [np.array(v) for v in state],
                "history": {k: list(v) for k, v in self.histories[j].items()},
                "epochs": int(self.trained[j]), "diverged": bool(self.diverged[j])}

    def slot_state(self, j):
        """Everything slot ``j`` carries from one epoch to the next (for storage; see :meth:`restore`)."""
        return {"epoch": self.epoch, "params": [p[j].copy() for p in self.params],
                "model_state": [v[j].copy() for v in self.model_state],
                **self._optimizer_state(j), "rng": self.rngs[j].bit_generator.state,
                "history": {k: list(v) for k, v in self.histories[j].items()},
                "best": self.best[j], "wait": self.wait[j], "best_weights": self.best_weights[j],
                "trained": int(self.trained[j]), "active": bool(self.active[j]),
                "diverged": bool(self.diverged[j])}

    def restore(self, j, state):
        """Give slot ``j`` a state :meth:`slot_state` returned; the pack resumes at its epoch."""
        for p, value in zip([*self.params, *self.model_state],
                            [*state["params"], *state.get("model_state", [])]):
            p[j] = value
        self._restore_optimizer(j, state)
        self.rngs[j].bit_generator.state = state["rng"]
        self.histories[j] = {k: list(v) for k, v in state["history"].items()}
        self.best[j], self.wait[j], self.best_weights[j] = state["best"], state["wait"], state["best_weights"]
        self.trained[j], self.active[j] = state["trained"], state["active"]
        self.diverged[j] = state["diverged"]
        self.epoch = state["epoch"]

    def data(self, members):
        """The samples and targets of slots ``members``, stacked (sparse X as ragged CSR rows).

        Stacked to the rows of the whole pack, whichever slots still train:
        no new trace per subset.
        """
        import tensorflow as tf

        rows = max(len(s.targets) for s in self.slots)
        slots = [self.slots[j] for j in members]
        y = tf.constant(_stacked([s.targets for s in slots], rows))
        shared = self.slots[0].X
        if not sparse.issparse(shared) and all(s.X is shared for s in self.slots):
            return {"shared": tf.constant(shared)}, y  # one copy of X: every slot indexes it
        if not sparse.issparse(slots[0].X):
            return tf.constant(_stacked([s.X for s in slots], rows)), y
        n_features = slots[0].X.shape[1]
        padded = sparse.vstack([block for s in slots for block in (
            s.X, sparse.csr_matrix((rows - s.X.shape[0], n_features), dtype="float32"))],
            format="csr", dtype="float32")
        splits = padded.indptr.astype("int64")
        columns = tf.RaggedTensor.from_row_splits(padded.indices.astype("int64"), splits)
        values = tf.RaggedTensor.from_row_splits(padded.data.astype("float32"), splits)
        return (columns, values, tf.constant(n_features, "int64")), y

    def program(self):
        """The traced program of this pack (shared by every pack of its model structure)."""
        penalized = any(s.l2 for s in self.slots)
        decoupled = any(s.settings.get("weight_decay", 0.0) for s in self.slots)
        return program(self.program_key, self.model, self.loss, self.optimizer, self.structural,
                       self.decayed if penalized else (False,) * len(self.decayed), decoupled)

    def advance(self, until):
        """Train every active slot up to epoch ``until`` (at most ``epochs``); return self."""
        until = min(int(until), self.epochs)
        if until <= self.epoch:
            return self
        with self._placed():
            self._advance_in_parts(until, np.flatnonzero(self.active))
        self.epoch = until
        return self

    def check(self):
        """None when this pack's program traces, else why its model does not train in a pack.

        Tracing now (not at the first epoch) finds a layer that does not
        vectorize before any slot trains, so its jobs train the ordinary way.
        """
        try:
            program = self.program()
            weights, epoch, evaluation = program.signature(*self.data(range(1)))
            program.run_epoch.get_concrete_function(weights, **epoch)
            if any(self.watch):
                program.evaluate.get_concrete_function(weights["params"], weights["model_state"],
                                                       **evaluation)
        except Exception as error:  # noqa: BLE001  (any failure: the jobs train the ordinary way)
            return f"the model does not train in a pack ({short_error(error)})"
        return None

    def _placed(self):
        """The context the pack's steps run in (its device)."""
        import tensorflow as tf

        return tf.device(self.device) if self.device is not None else contextlib.nullcontext()

    def _lanes(self, members):
        """The lanes slots ``members`` train in: themselves, a lone slot beside an idle copy.

        A lone slot runs beside an idle copy of itself: TensorFlow's vectorization
        mis-broadcasts some gradients (a convolution's bias) over one slot of an open count.
        """
        return np.repeat(members, 2) if len(members) == 1 else members

    def _gathered(self, lanes):
        """The training state of ``lanes``, as the program takes it."""
        return dict(params=[p[lanes] for p in self.params],
                    model_state=[v[lanes] for v in self.model_state],
                    state=[[v[lanes] for v in state] for state in self.state],
                    iterations=self.iterations[lanes], u_product=self.u_product[lanes])

    def _scattered(self, members, weights):
        """Keep the state ``weights`` of lanes ``members`` (the first ``len(members)`` lanes)."""
        real = len(members)
        for p, new in zip([*self.params, *self.model_state],
                          [*weights["params"], *weights["model_state"]]):
            p[members] = np.asarray(new)[:real]
        for old, new in zip(self.state, weights["state"]):
            for o, n_ in zip(old, new):
                o[members] = np.asarray(n_)[:real]
        self.iterations[members] = np.asarray(weights["iterations"])[:real]
        self.u_product[members] = np.asarray(weights["u_product"])[:real]

    def _numbers(self, slots):
        """The slots' optimizer numbers (:data:`NUMBERS`) and L2 factors, as the program takes them."""
        import tensorflow as tf

        numbers = {name: tf.constant([float(s.settings.get(name, default)) for s in slots])
                   for name, default in NUMBERS.items()}
        return numbers, tf.constant([float(s.l2) for s in slots])

    def _advance_in_parts(self, until, members):
        """Train slots ``members`` to ``until``; if they fail together (out of memory), as two
        halves from where they were, down to single slots; a lone slot that fails is recorded
        in :attr:`failed` and trains no further."""
        if not len(members):
            return
        saved = {j: self.slot_state(j) for j in members}  # copies: training does not touch them
        try:
            self._advance(until, members)
        except Exception as error:  # noqa: BLE001  (any failure: smaller packs, then a reason)
            error = short_error(error)
            for j in members:
                self.restore(j, saved[j])
            if len(members) == 1:
                self.failed[members[0]] = error
                self.active[members[0]] = False
                return
            half = (len(members) + 1) // 2
            warnings.warn(f"a pack of {len(members)} slots failed ({error}); its slots train as "
                          f"packs of {half} and {len(members) - half}", RuntimeWarning, stacklevel=3)
            self._advance_in_parts(until, members[:half])
            self._advance_in_parts(until, members[half:])

    def _advance(self, until, members):
        lanes = self._lanes(members)
        slots = [self.slots[j] for j in lanes]
        k = len(lanes)
        prog = self.program()
        weights = self._gathered(lanes)
        x, y = self.data(lanes)
        numbers, l2 = self._numbers(slots)
        steps = [self.steps[j] for j in lanes]
        n_steps = max(self.steps)
        watch = [self.watch[j] for j in lanes]
        if any(watch):
            m = max(len(s.validation) if w else 1 for s, w in zip(self.slots, self.watch))
            v_idx = np.zeros((k, m), dtype=np.int32)
            v_w = np.zeros((k, m), dtype=np.float32)
            for i, s in enumerate(slots):
                if watch[i]:
                    v_idx[i, :len(s.validation)] = s.validation
                    v_w[i, :len(s.validation)] = s.sample_weight[s.validation]
            v_n = np.array([len(s.validation) if watch[i] else 1 for i, s in enumerate(slots)],
                           "float32")
        running = self.active[lanes].copy()
        running[len(members):] = False
        for epoch in range(self.epoch, until):
            if not running.any():
                break
            orders = [self.rngs[j].permutation(_epoch_rows(s.train, epoch))
                      if self.shuffle and i < len(members) else _epoch_rows(s.train, epoch)
                      for i, (j, s) in enumerate(zip(lanes, slots))]
            idx, w, n = _epoch_batches(slots, orders, self.batch_size, n_steps)
            rate = np.zeros((n_steps, k), dtype=np.float32)
            momentum = np.zeros((n_steps, k), dtype=np.float32)
            valid = np.zeros((n_steps, k), dtype=bool)
            for i, s in enumerate(slots):
                at = epoch * steps[i]
                rate[:steps[i], i] = s.rates[at:at + steps[i]]
                momentum[:steps[i], i] = s.momenta[at:at + steps[i]]
                valid[:steps[i], i] = running[i]
            batch_rows = np.maximum(n.max(axis=1), 1).astype(np.int32)
            weights, total = prog.run_epoch(weights, x, y, idx, w, n, batch_rows, rate, momentum,
                                            valid, l2, numbers)
            losses = np.asarray(total) / np.maximum(n.sum(axis=0), 1.0)
            if any(watch):
                val = np.asarray(prog.evaluate(weights["params"], weights["model_state"], x, y,
                                               v_idx, v_w, v_n, l2))
            current = None
            for i, (j, s) in enumerate(zip(members, slots)):
                if not running[i]:
                    continue
                self.trained[j] = epoch + 1
                history = self.histories[j]
                history["loss"].append(float(losses[i]))
                history["lr"].append(float(s.rates[epoch * steps[i]]))
                if watch[i]:
                    history["val_loss"].append(float(val[i]))
                if not math.isfinite(losses[i]):
                    running[i], self.diverged[j] = False, True
                    continue
                if s.patience:
                    if current is None:
                        current = ([np.asarray(p) for p in weights["params"]],
                                   [np.asarray(v) for v in weights["model_state"]])
                    monitored = float(val[i]) if watch[i] else float(losses[i])
                    snapshot = ([c[i].copy() for c in current[0]], [c[i].copy() for c in current[1]])
                    if self.best_weights[j] is None:
                        self.best_weights[j] = snapshot
                    self.wait[j] += 1
                    if monitored < self.best[j]:
                        self.best[j], self.wait[j] = monitored, 0
                        self.best_weights[j] = snapshot
                    elif self.wait[j] >= s.patience and epoch > 0:
                        running[i] = False
        self._scattered(members, weights)
        self.active[members] = running[:len(members)]


def short_error(error):
    """``error`` in one line: its type and the first line of its message (200 characters).

    Examples
    --------
    >>> short_error(MemoryError("  OOM when allocating tensor  "))
    'MemoryError: OOM when allocating tensor'
    """
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0][:200] if message else ''}"
