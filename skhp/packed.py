"""Packed training: K networks of one shape trained as one program.

A search of small networks spends its time on per-step overhead, not on
arithmetic. Stacking K networks of the same shape as batched weights — every
dense layer one batched matrix product over a ``(K, in, out)`` kernel, every
3x3 convolution (``conv_layers``) one over the images' patches — lets one
step advance all of them. Each *slot* of a pack keeps everything an ordinary
fit has of its own: weights, optimizer state, training indices (a CV fold's
train split), shuffling, learning rate and momentum at every step, weight
decay, label smoothing, sample weights, hold-out validation and early
stopping. Each slot performs the updates an ordinary skhp fit with its
parameters performs (the same optimizer formulas as Keras' SGD, Adam, AdamW,
RMSprop and Nadam, the same loss); only the random streams differ.

:func:`pack_reason` says why an estimator cannot be packed (None when it can),
:func:`pack_key` groups estimators whose slots can share a pack, and
:func:`fit_packed` trains a list of (estimator, training indices) slots and
returns fitted, ordinary skhp estimators.

Examples
--------
>>> import numpy as np
>>> from sklearn.datasets import load_iris
>>> from skhp import KerasClassifier
>>> from skhp.packed import fit_packed
>>> X, y = load_iris(return_X_y=True)
>>> rates = [1e-3, 1e-2, 3e-2]
>>> fitted = fit_packed([KerasClassifier(hidden_layer_sizes=(8,), epochs=2, learning_rate=lr,
...                                      random_state=0) for lr in rates], X, y)
>>> [est.learning_rate for est in fitted], fitted[0].predict(X[:2]).shape
([0.001, 0.01, 0.03], (2,))
"""

import collections
import contextlib
import dataclasses
import functools
import inspect
import math
import os
import threading
import time

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import keras
import numpy as np
from scipy import sparse

from skhp._training import batch_size_for, momentum_argument, optimizer_class
from skhp.models import image_channels
from skhp.schedules import CosineRestarts, EpochFunction, OneCycle, Warmup

__all__ = ["OPTIMIZER_SETTINGS", "PackKey", "pack_reason", "pack_key", "PackedSlot", "PackRun",
           "train_pack", "slot_bytes", "pack_memory", "auto_pack_size", "start_packs",
           "advance_packs", "train_packs", "as_fitted", "fit_packed", "lottery_reason",
           "train_lottery"]

#: Optimizers a pack trains, with the ``optimizer__`` settings each takes (and its defaults).
OPTIMIZER_SETTINGS = {
    "SGD": {"momentum": 0.0, "nesterov": False},
    "Adam": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False},
    "AdamW": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False,
              "weight_decay": 0.004},
    "RMSprop": {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False},
    "Nadam": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
}
# Settings that change the program (not only numbers in it): they split packs.
_STRUCTURAL = ("nesterov", "amsgrad", "centered")

#: What slots sharing a pack agree on (see :func:`pack_key`).
PackKey = collections.namedtuple("PackKey", ["kind", "sizes", "activation", "batch_size", "epochs",
                                             "optimizer", "structural", "precision", "shuffle",
                                             "convolutions"])


def _optimizer_settings(estimator, routed=True):
    """The optimizer's class name and its full settings, or a reason it cannot be packed.

    ``routed=False`` leaves out ``optimizer__`` parameters and ``momentum``
    (the lottery's brief training takes only the optimizer instance's own settings).
    """
    cls, config = optimizer_class(estimator.optimizer)
    name = cls.__name__
    if name not in OPTIMIZER_SETTINGS:
        return None, f"optimizer {name} is not one a pack trains ({', '.join(OPTIMIZER_SETTINGS)})"
    settings = dict(OPTIMIZER_SETTINGS[name])
    given = {k: v for k, v in config.items() if k not in ("name",)}
    if routed:
        given.update(estimator._routed("optimizer"))
    defaults = {k: v.default for k, v in inspect.signature(cls.__init__).parameters.items()}
    for key, value in given.items():
        if key in settings:
            settings[key] = value
        elif key not in defaults or value != defaults[key]:
            return None, f"optimizer setting {key}={value!r} is not one a pack applies"
    if routed and estimator.momentum is not None:
        settings[momentum_argument(estimator.optimizer)] = estimator.momentum
    return name, settings


def _momentum_name(optimizer):
    """The setting the momentum tables drive: ``beta_1`` for the Adam family, else ``momentum``."""
    return "beta_1" if "beta_1" in OPTIMIZER_SETTINGS[optimizer] else "momentum"


def _structural(settings):
    """``(nesterov, amsgrad, centered)`` of an optimizer's settings."""
    return tuple(bool(settings.get(s, False)) for s in _STRUCTURAL)


def _numbers(settings):
    """The settings a slot carries per step (the structural flags left out)."""
    return {k: v for k, v in settings.items() if not isinstance(v, bool)}


def _seed_or_fresh(seed):
    """``seed``, or a fresh random one for ``random_state=None`` (as an ordinary fit draws anew)."""
    return seed if seed is not None else int(np.random.SeedSequence().generate_state(1)[0] % 2**30)


def pack_reason(estimator):
    """Why ``estimator`` cannot be trained in a pack, or None when it can.

    Packs train skhp's built-in MLP (``model=None``) with its built-in loss,
    float32 precision, on the TensorFlow backend, with the optimizers of
    :data:`OPTIMIZER_SETTINGS`; everything else trains as an ordinary fit.

    Examples
    --------
    >>> from skhp import KerasClassifier
    >>> pack_reason(KerasClassifier()) is None
    True
    >>> pack_reason(KerasClassifier(learning_rate="auto"))
    "learning_rate='auto' runs an LR range test per fit"
    """
    from skhp.estimators import _KerasEstimator

    if not isinstance(estimator, _KerasEstimator):
        return f"{type(estimator).__name__} is not an skhp Keras estimator"
    if keras.backend.backend() != "tensorflow":
        return f"packs run on the TensorFlow backend, not {keras.backend.backend()}"
    checks = [
        (estimator.model is not None, "a model of the user's (model=...) trains on its own"),
        (estimator.loss is not None, "a loss of the user's (loss=...) trains on its own"),
        (estimator.learning_rate == "auto", "learning_rate='auto' runs an LR range test per fit"),
        (estimator.precision != "float32", f"precision={estimator.precision!r} trains on its own"),
        (bool(estimator.callbacks) or bool(estimator._routed("fit").get("callbacks")),
         "callbacks act inside Keras' own training loop"),
        (estimator.lottery >= 2, "lottery draws train on their own"),
        (estimator.initial_weights is not None, "initial_weights train on their own"),
        (estimator.warm_start, "warm_start continues an existing model"),
        (bool(set(estimator._routed("fit")) - {"shuffle"}),
         f"fit__ settings {sorted(set(estimator._routed('fit')) - {'shuffle'})} apply to Keras' fit"),
        (bool(estimator._routed("model")) or bool(estimator._routed("compile")),
         "model__/compile__ settings apply to a model of the user's"),
    ]
    for failed, reason in checks:
        if failed:
            return reason
    name, settings = _optimizer_settings(estimator)
    if name is None:
        return settings
    if estimator._function_schedule() is not None or estimator._routed("optimizer").get("decay"):
        return None  # a fn(epoch, lr) rule or Keras 2's decay: tabulated per step
    if not (isinstance(estimator.schedule, str) or estimator.schedule is None):
        return f"schedule={estimator.schedule!r} is not a schedule name"
    if estimator.early_stopping:
        schedule = estimator._make_learning_rate(1.0, 1, 1.0)
        main = schedule.schedule if isinstance(schedule, Warmup) else schedule
        if isinstance(main, (CosineRestarts, OneCycle)):
            return "early stopping at the ends of cycles runs as a Keras callback"
    return None


def pack_key(estimator, n_train):
    """What slots sharing a pack must agree on: the program's shapes, step counts and optimizer.

    Examples
    --------
    >>> from skhp import KerasClassifier
    >>> a = pack_key(KerasClassifier(learning_rate=0.1), 100)
    >>> a == pack_key(KerasClassifier(learning_rate=0.01), 100)
    True
    >>> a == pack_key(KerasClassifier(batch_size=8), 100)
    False
    """
    name, settings = _optimizer_settings(estimator)
    return PackKey(type(estimator).__name__, tuple(estimator._hidden_sizes()),
                   repr(estimator.activation), batch_size_for(estimator.batch_size, n_train),
                   int(estimator.epochs), name,
                   _structural(settings),
                   estimator.precision, bool(estimator._routed("fit").get("shuffle", True)),
                   _convolutions(estimator))


def _convolutions(estimator):
    """``(filters per convolution, (height, width, channels))`` of the built-in model, or None."""
    conv = tuple(estimator._layer_sizes("conv_layers"))
    return (conv, image_channels(estimator.image_shape)) if conv else None


def _kernel_shapes(n_features, hidden, n_outputs, convolutions=None):
    """Shapes of the built-in model's kernels, in order, and the width of each layer's output.

    A convolution's kernel is ``(3, 3, in, out)`` and its output, pooled, is
    counted as its flattened size, as the dense layers after it see it.

    Examples
    --------
    >>> _kernel_shapes(64, [32], 10, ((8,), (8, 8, 1)))
    ([(3, 3, 1, 8), (128, 32), (32, 10)], [64, 512, 32, 10])
    """
    shapes, widths = [], [n_features]
    size = n_features
    if convolutions:
        filters, (height, width, channels) = convolutions
        for out in filters:
            shapes.append((3, 3, channels, out))
            widths.append(height * width * out)  # before pooling: the larger activation
            height, width, channels = -(-height // 2), -(-width // 2), out
        size = height * width * channels
    for units in [*hidden, n_outputs]:
        shapes.append((size, units))
        widths.append(units)
        size = units
    return shapes, widths


@dataclasses.dataclass
class PackedSlot:
    """One network of a pack: its data, its initial weights and every per-step number.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        The samples the slot trains and validates on (its fold, preprocessed its way).
    train : ndarray of int
        Indices (into ``X``) the slot trains on, in their unshuffled order.
    validation : ndarray of int or None
        Indices of its validation samples (early stopping watches their loss).
    targets : ndarray of shape (n_samples, n_outputs)
        The slot's encoded, smoothed targets for every sample of ``X``.
    sample_weight : ndarray of shape (n_samples,)
        Weight of every sample of ``X`` in the slot's loss.
    weights : list of ndarray
        Initial kernels and biases, layer by layer (``kernel, bias, kernel, ...``).
    rates, momenta : ndarray of shape (epochs * steps,)
        Learning rate and momentum (``beta_1`` for the Adam family) of every step.
    settings : dict
        The optimizer's other numbers (``beta_2``, ``epsilon``, ``rho``, ``weight_decay``).
    l2 : float
        L2 penalty on the kernels.
    patience : int
        Early stopping's patience in epochs (0: none).
    seed : int
        Seed of the slot's shuffling.
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
    l2: float = 0.0
    patience: int = 0
    seed: int = 0


class _Program:
    """The TensorFlow program of one pack: forward pass, loss, gradients, optimizer step."""

    def __init__(self, optimizer, activation, output, shapes, structural, n_slots, image=None):
        import tensorflow as tf

        self.tf = tf
        self.optimizer, self.output, self.n_slots, self.image = optimizer, output, n_slots, image
        self.activation = keras.activations.get(activation)
        self.nesterov, self.amsgrad, self.centered = structural
        self.params = [tf.Variable(tf.zeros((n_slots, *shape))) for shape in shapes]
        n_state = _state_count(optimizer, structural)
        self.state = [[tf.Variable(tf.zeros_like(p)) for _ in range(n_state)] for p in self.params]
        self.iterations = tf.Variable(tf.zeros(n_slots), trainable=False)
        self.u_product = tf.Variable(tf.ones(n_slots), trainable=False)  # Nadam
        # Traced without autograph (the step loop is an explicit while_loop): it traces faster.
        # Partials: TensorFlow counts traces per method's code, so every new program's one
        # trace would add up to an "excessive retracing" warning across programs.
        self.run_epoch = tf.function(functools.partial(type(self)._run_epoch, self),
                                     reduce_retracing=True, autograph=False)
        self.evaluate = tf.function(functools.partial(type(self)._evaluate, self),
                                    reduce_retracing=True, autograph=False)

    def load(self, params, state, iterations, u_product):
        """Set every slot's weights and optimizer state (arrays with the slots first)."""
        for p, value in zip(self.params, params):
            p.assign(value)
        for variables, values in zip(self.state, state):
            for v, value in zip(variables, values):
                v.assign(value)
        self.iterations.assign(iterations)
        self.u_product.assign(u_product)

    def save(self):
        """The weights and optimizer state :meth:`load` takes, as arrays."""
        return ([p.numpy() for p in self.params],
                [[v.numpy() for v in variables] for variables in self.state],
                self.iterations.numpy(), self.u_product.numpy())

    def forward(self, params, x):
        tf = self.tf
        h = x
        i = 0
        if self.image is not None:  # (slots, batch, features) as (slots * batch, h, w, c) images
            k, b = tf.shape(x)[0], tf.shape(x)[1]
            h = tf.reshape(x, [k * b, *self.image])
            while len(params[i].shape) == 5:  # a convolution's (slots, 3, 3, in, out) kernels
                h = self._convolve(h, params[i], params[i + 1], k, b)
                i += 2
            h = tf.reshape(h, [k, b, -1])
        for i in range(i, len(params), 2):
            h = tf.matmul(h, params[i]) + params[i + 1][:, None, :]
            if i + 2 < len(params):
                h = self.activation(h)
        return h

    def _convolve(self, h, kernel, bias, k, b):
        """Each slot's 3x3 same-padded convolution of its images, activation, 2x2 max pooling.

        The 3x3 patches around every pixel (ordered row, column, channel, as a
        Keras kernel's first three axes) times each slot's flattened kernel:
        one batched matrix product for the whole pack.
        """
        tf = self.tf
        height, width, channels = h.shape[1], h.shape[2], h.shape[3]
        filters = kernel.shape[-1]
        patches = tf.image.extract_patches(h, [1, 3, 3, 1], [1, 1, 1, 1], [1, 1, 1, 1], "SAME")
        patches = tf.reshape(patches, [k, b * height * width, 9 * channels])
        out = tf.matmul(patches, tf.reshape(kernel, [k, 9 * channels, filters])) + bias[:, None, :]
        out = tf.reshape(self.activation(out), [k * b, height, width, filters])
        return tf.nn.max_pool2d(out, 2, 2, "SAME")

    def sample_losses(self, params, x, y):
        tf = self.tf
        out = self.forward(params, x)
        if self.output == "softmax":
            return tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=out)
        return tf.reduce_mean(tf.square(y - out), axis=-1)

    def penalty(self, params, l2):
        tf = self.tf
        return l2 * tf.add_n([tf.reduce_sum(tf.square(k), axis=list(range(1, len(k.shape))))
                              for k in params[0::2]])

    def _evaluate(self, x, y, idx, w, n, l2):
        """Each slot's loss on its samples ``idx`` (K, M), weighted by ``w``, divided by ``n``."""
        tf = self.tf
        xb = tf.gather(x, idx, batch_dims=1)
        yb = tf.gather(y, idx, batch_dims=1)
        losses = self.sample_losses(self.params, xb, yb)
        data = tf.reduce_sum(losses * w, axis=1) / tf.maximum(n, 1.0)
        return data + self.penalty(self.params, l2)

    def _run_epoch(self, x, y, idx, w, n, rate, momentum, valid, l2, beta_2, epsilon, rho, decay):
        tf = self.tf

        def step(s, total):
            xb = tf.gather(x, idx[s], batch_dims=1)
            yb = tf.gather(y, idx[s], batch_dims=1)
            params = list(self.params)
            with tf.GradientTape() as tape:
                losses = self.sample_losses(params, xb, yb)
                data = tf.reduce_sum(losses * w[s], axis=1) / tf.maximum(n[s], 1.0)
                loss = data + self.penalty(params, l2)
                summed = tf.reduce_sum(loss)  # slots are independent: each gets its own gradient
            grads = tape.gradient(summed, params)
            with tf.control_dependencies(
                    self._update(grads, rate[s], momentum[s], valid[s], beta_2, epsilon, rho, decay)):
                return s + 1, total + tf.where(valid[s], loss * n[s], 0.0)

        _, total = tf.while_loop(lambda s, _: s < tf.shape(idx)[0], step,
                                 (tf.constant(0), tf.zeros(self.n_slots)))
        return total

    def _update(self, grads, lr, mom, valid, beta_2, epsilon, rho, decay):
        tf = self.tf
        ops = []
        step = self.iterations + 1.0
        if self.optimizer == "Nadam":
            u_product = self.u_product * mom * (1.0 - 0.5 * tf.pow(0.96, step))
        for p, g, state in zip(self.params, grads, self.state):
            shape = [-1] + [1] * (len(p.shape) - 1)
            keep = tf.reshape(valid, shape)
            lr_, mom_ = tf.reshape(lr, shape), tf.reshape(mom, shape)
            b2, eps, rho_ = (tf.reshape(v, shape) for v in (beta_2, epsilon, rho))
            var = p
            new_state = []
            if self.optimizer == "AdamW":
                var = var - var * tf.reshape(decay, shape) * lr_
            if self.optimizer == "SGD":
                (m,) = state
                m_new = mom_ * m - lr_ * g
                var = var + (mom_ * m_new - lr_ * g if self.nesterov else m_new)
                new_state = [m_new]
            elif self.optimizer in ("Adam", "AdamW"):
                m, v = state[0], state[1]
                t = tf.reshape(step, shape)
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
            else:  # Nadam
                m, v = state
                t = tf.reshape(step, shape)
                u_t = mom_ * (1.0 - 0.5 * tf.pow(0.96, t))
                u_t_1 = mom_ * (1.0 - 0.5 * tf.pow(0.96, t + 1))
                u_prod = tf.reshape(u_product, shape)
                m_new = m + (g - m) * (1 - mom_)
                v_new = v + (tf.square(g) - v) * (1 - b2)
                m_hat = u_t_1 * m_new / (1 - u_prod * u_t_1) + (1 - u_t) * g / (1 - u_prod)
                v_hat = v_new / (1 - tf.pow(b2, t))
                var = var - m_hat * lr_ / (tf.sqrt(v_hat) + eps)
                new_state = [m_new, v_new]
            ops.append(p.assign(tf.where(keep, var, p)))
            for old, new in zip(state, new_state):
                ops.append(old.assign(tf.where(keep, new, old)))
        if self.optimizer == "Nadam":
            ops.append(self.u_product.assign(tf.where(valid, u_product, self.u_product)))
        ops.append(self.iterations.assign(tf.where(valid, step, self.iterations)))
        return ops


_PROGRAMS = collections.OrderedDict()
_KEPT_PROGRAMS = 16
_PROGRAMS_LOCK = threading.Lock()


def _current_device():
    """The device of the enclosing ``tf.device`` scope ('' outside one)."""
    import tensorflow as tf

    return tf.constant(0.0).device if tf.executing_eagerly() else ""


def _program(optimizer, activation, output, shapes, structural, n_slots, image=None):
    """A pack's program, reused while its shapes recur (a search's rounds, refits, lotteries).

    Reuse spares tracing it again, the larger part of a short pack's time.
    The few most recent programs are kept.
    """
    key = (optimizer, activation if callable(activation) else repr(activation), output,
           tuple(tuple(s) for s in shapes), tuple(structural), n_slots, image, _current_device())
    with _PROGRAMS_LOCK:
        program = _PROGRAMS.pop(key, None)
        if program is None:
            program = _Program(optimizer, activation, output, shapes, structural, n_slots, image)
        _PROGRAMS[key] = program
        while len(_PROGRAMS) > _KEPT_PROGRAMS:
            _PROGRAMS.popitem(last=False)
        return program


def _stacked(arrays, rows=None):
    """``arrays`` of equal trailing shapes stacked on a new first axis, zero-padded to ``rows``
    (default: the longest)."""
    rows = max(len(a) for a in arrays) if rows is None else rows
    out = np.zeros((len(arrays), rows, *arrays[0].shape[1:]), dtype="float32")
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

    Between calls of :meth:`advance` every slot's weights, optimizer state,
    shuffling stream and early-stopping state are kept here (not in the
    shared, cached program), so a run continues exactly where it stopped: a
    slot trained to epoch 3 and then to epoch 9 ends as one trained to 9 at
    once. Slots can be stopped between calls (:meth:`stop`, pruning); later
    calls train only the slots still active, as a smaller pack.

    Parameters
    ----------
    slots : list of PackedSlot
        The networks, each with its own data, weights and per-step numbers.
    optimizer : str
        A key of :data:`OPTIMIZER_SETTINGS`.
    activation : str or callable
        Hidden layers' activation.
    output : {"softmax", "linear"}
        Classification (cross-entropy on softmax) or regression (mean squared error).
    batch_size, epochs : int
        Shared by every slot; ``epochs`` is the whole fit's length.
    shuffle : bool, default=True
        Shuffle each slot's training indices every epoch (its own seeded stream).
    structural : tuple of bool
        ``(nesterov, amsgrad, centered)``.
    device : str or None, default=None
        Where the pack's steps run (``"cpu:0"``, ``"gpu:1"``); None:
        TensorFlow's default placement.
    image : tuple of int or None, default=None
        ``(height, width, channels)`` each row of ``X`` is reshaped to when
        the first weights are convolution kernels (``(3, 3, in, out)``,
        as :func:`skhp.models.build_mlp` builds them).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    >>> slot = PackedSlot(X=X, train=np.arange(32), validation=None,
    ...                   targets=X[:, :1] * 2, sample_weight=np.ones(32, "float32"),
    ...                   weights=[np.zeros((3, 1), "float32"), np.zeros(1, "float32")],
    ...                   rates=np.full(6, 0.1), momenta=np.zeros(6), settings={})
    >>> run = PackRun([slot], optimizer="SGD", activation="relu", output="linear",
    ...               batch_size=16, epochs=3)
    >>> run.advance(1).epoch, run.advance(3).epoch
    (1, 3)
    >>> len(run.result(0)["history"]["loss"])
    3
    """

    def __init__(self, slots, *, optimizer, activation, output, batch_size, epochs, shuffle=True,
                 structural=(False, False, False), device=None, image=None):
        self.slots, self.image = list(slots), image
        self.optimizer, self.activation, self.output = optimizer, activation, output
        self.batch_size, self.epochs, self.shuffle = batch_size, epochs, shuffle
        self.structural, self.device = tuple(structural), device
        k = len(self.slots)
        self.params = [np.stack([s.weights[i] for s in self.slots]).astype("float32")
                       for i in range(len(self.slots[0].weights))]
        n_state = _state_count(optimizer, self.structural)
        self.state = [[np.zeros_like(p) for _ in range(n_state)] for p in self.params]
        self.iterations = np.zeros(k, dtype="float32")
        self.u_product = np.ones(k, dtype="float32")
        self.steps = [int(math.ceil(len(s.train) / batch_size)) for s in self.slots]
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
        self.epoch = 0

    def stop(self, j):
        """Train slot ``j`` no further (pruned)."""
        self.active[j] = False

    def weights(self, j):
        """Slot ``j``'s weights as a fit ending now leaves them (the best epoch's under early stopping)."""
        if self.best_weights[j] is not None:
            return self.best_weights[j]
        return [p[j] for p in self.params]

    def result(self, j):
        """Slot ``j``'s result: ``weights``, ``history``, ``epochs`` trained and ``diverged``."""
        return {"weights": [np.array(w) for w in self.weights(j)],
                "history": {k: list(v) for k, v in self.histories[j].items()},
                "epochs": int(self.trained[j]), "diverged": bool(self.diverged[j])}

    def slot_state(self, j):
        """Everything slot ``j`` carries from one epoch to the next (for storage; see :meth:`restore`)."""
        return {"epoch": self.epoch, "params": [p[j].copy() for p in self.params],
                "state": [[v[j].copy() for v in variables] for variables in self.state],
                "iterations": float(self.iterations[j]), "u_product": float(self.u_product[j]),
                "rng": self.rngs[j].bit_generator.state, "history": self.histories[j],
                "best": self.best[j], "wait": self.wait[j], "best_weights": self.best_weights[j],
                "trained": int(self.trained[j]), "active": bool(self.active[j]),
                "diverged": bool(self.diverged[j])}

    def restore(self, j, state):
        """Give slot ``j`` a state :meth:`slot_state` returned; the pack resumes at its epoch."""
        for p, value in zip(self.params, state["params"]):
            p[j] = value
        for variables, values in zip(self.state, state["state"]):
            for v, value in zip(variables, values):
                v[j] = value
        self.iterations[j], self.u_product[j] = state["iterations"], state["u_product"]
        self.rngs[j].bit_generator.state = state["rng"]
        self.histories[j] = {k: list(v) for k, v in state["history"].items()}
        self.best[j], self.wait[j], self.best_weights[j] = state["best"], state["wait"], state["best_weights"]
        self.trained[j], self.active[j] = state["trained"], state["active"]
        self.diverged[j] = state["diverged"]
        self.epoch = state["epoch"]

    def advance(self, until):
        """Train every active slot up to epoch ``until`` (at most ``epochs``); return self."""
        import tensorflow as tf

        until = min(int(until), self.epochs)
        if until <= self.epoch:
            return self
        with (tf.device(self.device) if self.device is not None else contextlib.nullcontext()):
            self._advance(until)
        return self

    def _advance(self, until):
        import tensorflow as tf

        members = np.flatnonzero(self.active)
        if not len(members):
            self.epoch = until
            return
        slots = [self.slots[j] for j in members]
        k = len(members)
        program = _program(self.optimizer, self.activation, self.output,
                           [p.shape[1:] for p in self.params], self.structural, k, self.image)
        program.load([p[members] for p in self.params],
                     [[s[members] for s in state] for state in self.state],
                     self.iterations[members], self.u_product[members])
        # shapes of the whole pack, whichever slots still train: no new trace per subset
        rows = max(len(s.X) for s in self.slots)
        x = tf.constant(_stacked([s.X for s in slots], rows))
        y = tf.constant(_stacked([s.targets for s in slots], rows))
        settings = {name: tf.constant([float(s.settings.get(name, default)) for s in slots])
                    for name, default in (("beta_2", 0.999), ("epsilon", 1e-7), ("rho", 0.9),
                                          ("weight_decay", 0.0))}
        l2 = tf.constant([float(s.l2) for s in slots])
        steps = [self.steps[j] for j in members]
        n_steps = max(self.steps)
        watch = [self.watch[j] for j in members]
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
        running = self.active[members].copy()
        for epoch in range(self.epoch, until):
            if not running.any():
                break
            orders = [self.rngs[j].permutation(s.train) if self.shuffle else s.train
                      for j, s in zip(members, slots)]
            idx, w, n = _epoch_batches(slots, orders, self.batch_size, n_steps)
            rate = np.zeros((n_steps, k), dtype=np.float32)
            momentum = np.zeros((n_steps, k), dtype=np.float32)
            valid = np.zeros((n_steps, k), dtype=bool)
            for i, s in enumerate(slots):
                at = epoch * steps[i]
                rate[:steps[i], i] = s.rates[at:at + steps[i]]
                momentum[:steps[i], i] = s.momenta[at:at + steps[i]]
                valid[:steps[i], i] = running[i]
            total = program.run_epoch(x, y, idx, w, n, rate, momentum, valid, l2,
                                      settings["beta_2"], settings["epsilon"], settings["rho"],
                                      settings["weight_decay"])
            losses = total.numpy() / np.maximum(n.sum(axis=0), 1.0)
            if any(watch):
                val = program.evaluate(x, y, v_idx, v_w, v_n, l2).numpy()
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
                        current = [p.numpy() for p in program.params]
                    monitored = float(val[i]) if watch[i] else float(losses[i])
                    if self.best_weights[j] is None:
                        self.best_weights[j] = [c[i].copy() for c in current]
                    self.wait[j] += 1
                    if monitored < self.best[j]:
                        self.best[j], self.wait[j] = monitored, 0
                        self.best_weights[j] = [c[i].copy() for c in current]
                    elif self.wait[j] >= s.patience and epoch > 0:
                        running[i] = False
        params, state, iterations, u_product = program.save()
        for p, new in zip(self.params, params):
            p[members] = new
        for old, new in zip(self.state, state):
            for o, n_ in zip(old, new):
                o[members] = n_
        self.iterations[members] = iterations
        self.u_product[members] = u_product
        self.active[members] = running
        self.epoch = until


def train_pack(slots, *, optimizer, activation, output, batch_size, epochs, shuffle=True,
               structural=(False, False, False), device=None, image=None):
    """Train every slot of one pack to the end: :class:`PackRun` in one call.

    Parameters are :class:`PackRun`'s.

    Returns
    -------
    list of dict
        Per slot: ``weights`` (final, or the best epoch's under early stopping),
        ``history`` (``loss``, ``lr`` and, with validation, ``val_loss`` per
        epoch), ``epochs`` trained and ``diverged``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    >>> slot = PackedSlot(X=X, train=np.arange(32), validation=None,
    ...                   targets=X[:, :1] * 2, sample_weight=np.ones(32, "float32"),
    ...                   weights=[np.zeros((3, 1), "float32"), np.zeros(1, "float32")],
    ...                   rates=np.full(4, 0.1), momenta=np.zeros(4), settings={})
    >>> out = train_pack([slot], optimizer="SGD", activation="relu", output="linear",
    ...                  batch_size=16, epochs=2)
    >>> out[0]["history"]["loss"][1] < out[0]["history"]["loss"][0]
    True
    """
    run = PackRun(slots, optimizer=optimizer, activation=activation, output=output,
                  batch_size=batch_size, epochs=epochs, shuffle=shuffle, structural=structural,
                  device=device, image=image).advance(epochs)
    return [run.result(j) for j in range(len(run.slots))]


def _schedule_tables(estimator, steps_per_epoch, optimizer, settings):
    """Learning rate and momentum of every step of ``estimator``'s fit."""
    estimator.schedule_ = estimator._make_learning_rate(
        float(estimator.learning_rate_), steps_per_epoch,
        min(estimator.warmup_lr, estimator.learning_rate_))
    total = estimator.epochs * steps_per_epoch
    schedule = estimator.schedule_
    if isinstance(schedule, EpochFunction):
        per_epoch, lr = [], float(estimator.learning_rate_)
        for epoch in range(estimator.epochs):
            lr = schedule(epoch, lr) if schedule.acts else lr
            per_epoch.append(lr)
        rates = np.repeat(np.asarray(per_epoch, dtype="float64"), steps_per_epoch)
    else:
        rates = np.asarray(keras.ops.convert_to_numpy(
            schedule(keras.ops.arange(total, dtype="float32"))), dtype="float64").reshape(-1)
        if rates.size == 1:  # a constant rate
            rates = np.full(total, rates[0])
    name = _momentum_name(optimizer)
    momenta = np.full(total, float(settings.get(name, 0.0)))
    main, warmup_epochs = estimator._main_schedule()
    if isinstance(main, OneCycle) and optimizer != "RMSprop":
        offset = int(warmup_epochs * steps_per_epoch)
        steps = np.maximum(np.arange(total) - offset, 0).astype("float32")
        momenta = np.asarray(keras.ops.convert_to_numpy(main.momentum(steps)), dtype="float64")
    return rates, momenta


def _plan(estimator, X, y, sample_weight=None):
    """The slot of ``estimator`` fitted on ``X, y``: encoded targets, weights, per-step tables.

    Sets on ``estimator`` what its fit would (``_seed``, ``learning_rate_``,
    ``schedule_``); returns the slot and the output kind.
    """
    from sklearn.base import is_classifier

    from skhp.initializers import get_initializer
    from skhp.runtime import seed_from

    est = estimator
    est._check_params()
    est._seed = seed_from(est.random_state)
    est.learning_rate_ = est._given_learning_rate()
    encoder = est.target_encoder.fit(y)
    targets = np.asarray(encoder.transform(y), dtype="float32").reshape(len(y), -1)
    output = "softmax" if is_classifier(est) else "linear"
    smoothing = float(getattr(est, "smoothing", 0.0) or 0.0)
    if output == "softmax" and smoothing:
        targets = targets * (1 - smoothing) + smoothing / targets.shape[1]
    weights = est._weights_for(y, None if sample_weight is None else np.asarray(sample_weight), {})
    weights = np.ones(len(y), "float32") if weights is None else np.asarray(weights, "float32")
    held, kept = est._hold_out_indices(len(y))  # the ordinary fit's hold-out
    validation = held if len(held) else None
    batch_size = batch_size_for(est.batch_size, len(y))
    steps = max(1, int(math.ceil(len(kept) / batch_size)))
    optimizer, settings = _optimizer_settings(est)
    rates, momenta = _schedule_tables(est, steps, optimizer, settings)
    shapes, _ = _kernel_shapes(X.shape[1], est._hidden_sizes(), targets.shape[1],
                               _convolutions(est))
    initializer = est.initializer if est.initializer is not None else "glorot_uniform"
    seed = _seed_or_fresh(est._seed)
    initial = []
    for i, shape in enumerate(shapes):  # the draws apply_initializer makes: seed + layer
        init = get_initializer(initializer, seed + i)
        initial.append(np.asarray(keras.ops.convert_to_numpy(
            init(shape, dtype="float32")), dtype="float32"))
        initial.append(np.zeros(shape[-1], dtype="float32"))
    slot = PackedSlot(
        X=np.asarray(X, dtype="float32"), train=kept, validation=validation, targets=targets,
        sample_weight=weights, weights=initial, rates=rates, momenta=momenta,
        settings=_numbers(settings),
        l2=float(est.weight_decay), patience=int(est.early_stopping), seed=seed)
    return slot, output


def _state_count(optimizer, structural):
    """Optimizer state tensors per weight: momentum, second moments, ..."""
    _, amsgrad, centered = structural
    return {"SGD": 1, "Adam": 2 + amsgrad, "AdamW": 2 + amsgrad, "RMSprop": 2 + centered,
            "Nadam": 2}[optimizer]


def slot_bytes(sizes, optimizer, batch_size, n_rows, structural=(False, False, False),
               convolutions=None):
    """Bytes one slot of a pack takes where the pack runs (float32).

    Weights, their gradients and the optimizer's state; a batch's
    activations and their gradients (a convolution's 3x3 patches too); the
    slot's own copy of its samples and targets.

    Parameters
    ----------
    sizes : sequence of int
        Units of every dense layer, input and output included (``[64, 64, 10]``).
    optimizer : str
        A key of :data:`OPTIMIZER_SETTINGS`.
    batch_size, n_rows : int
        Minibatch size; samples the slot holds.
    structural : tuple of bool
        ``(nesterov, amsgrad, centered)``.
    convolutions : tuple or None, default=None
        ``(filters per convolution, (height, width, channels))`` before the
        dense layers (see :func:`pack_key`).

    Examples
    --------
    >>> slot_bytes([64, 64, 10], "Adam", batch_size=32, n_rows=1198)
    484560
    >>> slot_bytes([64, 64, 10], "Adam", 32, 1198, convolutions=((16,), (8, 8, 1)))
    1298128
    """
    shapes, widths = _kernel_shapes(sizes[0], sizes[1:-1], sizes[-1], convolutions)
    params = sum(int(np.prod(s)) + s[-1] for s in shapes)
    weights = (2 + _state_count(optimizer, structural)) * params
    patches = sum(9 * width // s[-1] * s[-2] for s, width in zip(shapes, widths[1:]) if len(s) == 4)
    activations = 3 * batch_size * (sum(widths) + patches)
    data = n_rows * (sizes[0] + sizes[-1])
    return 4 * (weights + activations + data)


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


def _check_pack_size(pack_size):
    if pack_size == "auto" or (isinstance(pack_size, (int, np.integer))
                               and not isinstance(pack_size, bool) and pack_size >= 1):
        return
    raise ValueError(f"pack_size={pack_size!r} is not valid; use 'auto' (sized from a memory "
                     "budget) or a whole number of slots >= 1.")


def _as_array(X):
    """``X`` as a NumPy array, as an ordinary fit sees it (sparse X and DataFrames densified)."""
    return np.asarray(X.toarray() if sparse.issparse(X) else X)


def start_packs(jobs, pack_size="auto"):
    """Group packable jobs into packs, ready to train: the first half of :func:`train_packs`.

    Parameters are :func:`train_packs`'s.

    Returns
    -------
    runs : list of PackRun
        The packs, untrained; each also has ``key`` (its shape), ``members``
        (its jobs' indices, in slot order) and ``device``.
    where : list
        Per job: ``(pack number, slot)``, or a str, the reason the job is not packed.

    Examples
    --------
    >>> import numpy as np
    >>> from skhp import KerasRegressor
    >>> X = np.random.default_rng(0).normal(size=(40, 2))
    >>> runs, where = start_packs([(KerasRegressor(hidden_layer_sizes=(3,), epochs=4), X, X[:, 0], None)])
    >>> where, runs[0].advance(2).epoch
    ([(0, 0)], 2)
    """
    from sklearn.base import is_classifier

    from skhp.runtime import configure, resolve_device, visible_gpus

    _check_pack_size(pack_size)
    configure()  # thread budget and GPU memory growth, as an ordinary fit sets them
    where = [None] * len(jobs)
    groups = {}
    jobs = [(est, _as_array(X), y, weights) for est, X, y, weights in jobs]
    for j, (est, X, y, _) in enumerate(jobs):
        reason = pack_reason(est)
        if reason is None and np.ndim(X) != 2:
            reason = f"X has shape {np.shape(X)}; packs take 2-d X"
        if reason is None:
            try:
                est._image(np.shape(X)[1:])
            except ValueError as err:  # the ordinary fit raises it as a failed fit
                reason = str(err)
        if reason is not None:
            where[j] = reason
            continue
        outputs = tuple(np.unique(y).tolist()) if is_classifier(est) else np.shape(y)[1:]
        key = (pack_key(est, len(y)), np.shape(X)[1], outputs)
        groups.setdefault((key, str(est.device)), []).append(j)
    runs, n_gpus = [], visible_gpus()
    for (key, device), members in groups.items():
        shape, n_features, outputs = key
        size = pack_size
        if size == "auto":
            n_out = len(outputs) if shape.kind == "KerasClassifier" else int(np.prod(outputs or (1,)))
            size = auto_pack_size(slot_bytes(
                [n_features, *shape.sizes, n_out], shape.optimizer, shape.batch_size,
                max(len(jobs[j][1]) for j in members), shape.structural, shape.convolutions))
        for part in np.array_split(members, math.ceil(len(members) / size)):
            part = [int(j) for j in part]
            plans = [_plan(*jobs[j]) for j in part]
            run = PackRun([slot for slot, _ in plans], optimizer=shape.optimizer,
                          activation=jobs[part[0]][0].activation, output=plans[0][1],
                          batch_size=shape.batch_size, epochs=shape.epochs,
                          shuffle=shape.shuffle, structural=shape.structural,
                          device=resolve_device(device, n_gpus, len(runs)),
                          image=shape.convolutions[1] if shape.convolutions else None)
            run.key, run.members = key, part
            for slot, j in enumerate(part):
                where[j] = (len(runs), slot)
            runs.append(run)
    return runs, where


def advance_packs(runs, until):
    """Train each of ``runs`` up to epoch ``until(run)``; return the seconds each took.

    Packs on one device run one after another (one pack already uses all
    of a CPU's cores); with several devices, the devices run at once (a
    thread each).

    Examples
    --------
    >>> import numpy as np
    >>> from skhp import KerasRegressor
    >>> X = np.random.default_rng(0).normal(size=(40, 2))
    >>> runs, _ = start_packs([(KerasRegressor(hidden_layer_sizes=(3,), epochs=4), X, X[:, 0], None)])
    >>> seconds = advance_packs(runs, lambda run: run.epochs)
    >>> runs[0].epoch, len(seconds)
    (4, 1)
    """
    from concurrent.futures import ThreadPoolExecutor

    seconds = [0.0] * len(runs)

    def run_all(numbers):
        for number in numbers:
            start = time.perf_counter()
            runs[number].advance(until(runs[number]))
            seconds[number] = time.perf_counter() - start

    by_device = {}
    for number, run in enumerate(runs):
        by_device.setdefault(run.device, []).append(number)
    if len(by_device) > 1:
        with ThreadPoolExecutor(len(by_device)) as pool:
            list(pool.map(run_all, by_device.values()))
    else:
        run_all(range(len(runs)))
    return seconds


def train_packs(jobs, pack_size="auto"):
    """Train every packable job in packs; the search's and :func:`fit_packed`'s common step.

    Jobs of one shape (:func:`pack_key`) share packs of at most
    ``pack_size`` slots. A pack runs on its estimators' ``device``: with
    ``device="auto"`` or ``"gpu"`` and several GPUs, packs go round-robin
    over them and the GPUs run at once (a thread each); on one device packs
    run one after another, each using all its cores (on a CPU one pack of
    2K slots takes as long as two packs of K run at once).

    Parameters
    ----------
    jobs : list of (estimator, X, y, sample_weight)
        Unfitted skhp estimators (changed in place: they receive their
        seeds and schedules) and the data each is fitted on.
    pack_size : int or "auto", default="auto"
        Most slots in one pack; ``"auto"``: as many as fit the memory
        budget (:func:`pack_memory`, :func:`slot_bytes`).

    Returns
    -------
    list
        Per job: a dict with the slot's ``weights``, ``history``,
        ``epochs``, ``diverged``, ``seconds`` (its pack's time divided by
        its slots), ``pack`` (the pack's number) and ``device``; or a str,
        the reason the job was not packed. ``key`` says which slots share a
        shape (the same Keras model serves them all, see :func:`as_fitted`).

    Examples
    --------
    >>> import numpy as np
    >>> from skhp import KerasRegressor
    >>> X = np.random.default_rng(0).normal(size=(40, 2))
    >>> out = train_packs([(KerasRegressor(hidden_layer_sizes=(3,), epochs=1), X, X[:, 0], None),
    ...                    (KerasRegressor(model=lambda meta: None), X, X[:, 0], None)])
    >>> sorted(out[0]), out[1]
    (['device', 'diverged', 'epochs', 'history', 'key', 'pack', 'seconds', 'weights'], "a model of the user's (model=...) trains on its own")
    """
    start = time.perf_counter()
    runs, where = start_packs(jobs, pack_size)
    planning = (time.perf_counter() - start) / max(1, len(jobs))
    seconds = advance_packs(runs, lambda run: run.epochs)
    results = []
    for place in where:
        if isinstance(place, str):
            results.append(place)
            continue
        number, slot = place
        run = runs[number]
        results.append({**run.result(slot), "seconds": planning + seconds[number] / len(run.slots),
                        "pack": number, "key": run.key, "device": run.device})
    return results


def as_fitted(estimator, X, y, out, template=None):
    """``estimator`` fitted on ``X, y`` with a slot's result ``out``: an ordinary skhp estimator.

    With ``template`` (an estimator of the same pack already fitted this
    way), its Keras model and encoders are shared instead of building new
    ones: cheap, for scoring one slot after another.

    Examples
    --------
    >>> import numpy as np
    >>> from skhp import KerasRegressor
    >>> X = np.random.default_rng(0).normal(size=(40, 2))
    >>> est = KerasRegressor(hidden_layer_sizes=(3,), epochs=1)
    >>> (out,) = train_packs([(est, X, X[:, 0], None)])
    >>> as_fitted(est, X, X[:, 0], out).predict(X[:2]).shape
    (2,)
    """
    own = {k: v for k, v in vars(estimator).items() if k in ("_seed", "learning_rate_", "schedule_")}
    if template is None:
        estimator.initialize(X, y)
        estimator._initialize_callbacks()  # what predict reads (scikeras sets it in fit)
    else:
        params = set(estimator.get_params(deep=False))
        vars(estimator).update({k: v for k, v in vars(template).items() if k not in params})
    vars(estimator).update(own)
    estimator.model_.set_weights(out["weights"])
    estimator.history_ = dict(out["history"])
    estimator.diverged_ = out["diverged"]
    return estimator


def fit_packed(estimators, X, y, trains=None, *, sample_weight=None, pack_size="auto"):
    """Fit skhp estimators of one shape as packs; return them fitted, as ordinary estimators.

    Parameters
    ----------
    estimators : list of KerasClassifier or KerasRegressor
        Unfitted estimators; each is cloned, so the list is left as it is.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    trains : list of index arrays or None, default=None
        The samples each estimator trains on (e.g. CV folds' train splits);
        None trains every estimator on all of ``X``.
    sample_weight : array-like of shape (n_samples,) or None
    pack_size : int or "auto", default="auto"
        Most slots in one pack (see :func:`train_packs`).

    Returns
    -------
    list of estimators
        Fitted clones, in order, each holding its slot's weights in its own
        Keras model (``model_``) and its ``history_``. An estimator that
        cannot be packed (:func:`pack_reason`) is fitted the ordinary way.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skhp import KerasClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> a, b = fit_packed([KerasClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=s)
    ...                    for s in (0, 1)], X, y)
    >>> len(a.history_["loss"]), a.classes_.tolist()
    (1, [0, 1, 2])
    """
    from sklearn.base import clone

    X = np.asarray(_as_array(X), dtype="float32")
    y = np.asarray(y)
    trains = [np.arange(len(X))] * len(estimators) if trains is None else trains
    sw = None if sample_weight is None else np.asarray(sample_weight)
    jobs = [(clone(est), X[train], y[train], None if sw is None else sw[train])
            for est, train in zip(estimators, trains)]
    fitted = []
    for (est, X_, y_, w), out in zip(jobs, train_packs(jobs, pack_size)):
        if isinstance(out, str):
            fitted.append(clone(est).fit(X_, y_, sample_weight=w))
        else:
            fitted.append(as_fitted(est, X_, y_, out))
    return fitted


def lottery_reason(estimator):
    """Why ``estimator``'s lottery draws cannot train as one pack, or None when they can.

    The draws of skhp's built-in MLP with its built-in loss, in float32, with
    an optimizer of :data:`OPTIMIZER_SETTINGS` train as one pack; other
    models draw one after another (:func:`skhp.initializers.draw_lottery`).

    Examples
    --------
    >>> from skhp import KerasClassifier
    >>> lottery_reason(KerasClassifier(lottery=10)) is None
    True
    >>> lottery_reason(KerasClassifier(lottery=10, optimizer="adagrad"))
    'optimizer Adagrad is not one a pack trains (SGD, Adam, AdamW, RMSprop, Nadam)'
    """
    if keras.backend.backend() != "tensorflow":
        return f"packs run on the TensorFlow backend, not {keras.backend.backend()}"
    if estimator.model is not None:
        return "a model of the user's (model=...) draws on its own"
    if estimator.loss is not None:
        return "a loss of the user's (loss=...) draws on its own"
    if estimator.precision != "float32":
        return f"precision={estimator.precision!r} draws on its own"
    name, settings = _optimizer_settings(estimator, routed=False)
    return settings if name is None else None


def train_lottery(estimator, X, y, batch_size):
    """Train the lottery draws of ``estimator``'s built model as one pack; keep the best.

    The packed counterpart of :func:`skhp.initializers.draw_lottery`, with
    the same draws (the model's weights, then redraws seeded as there), the
    same data subset, optimizer (at the constant ``lottery_lr``), epochs and
    steps; each draw shuffles with its own seeded stream. The model is left
    holding the kept draw's weights.

    Parameters
    ----------
    estimator : KerasClassifier or KerasRegressor
        Being fitted: its ``model_`` is built and ``_seed`` set
        (:func:`lottery_reason` is None).
    X, y : ndarray
        Training data, targets encoded as the model's loss takes them.
    batch_size : int
        Minibatch size.

    Returns
    -------
    losses : ndarray
        Final training loss of every draw.
    best : int or None
        Index of the kept draw; None when every draw diverged.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from skhp import KerasClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> est = KerasClassifier(hidden_layer_sizes=(8,), epochs=1, lottery=4, random_state=0).fit(X, y)
    >>> len(est.lottery_losses_), est.lottery_best_ == int(np.argmin(est.lottery_losses_))
    (4, True)
    """
    from skhp.initializers import lottery_seed, lottery_subset, redraw_weights

    name, settings = _optimizer_settings(estimator, routed=False)
    model, seed = estimator.model_, estimator._seed
    subset = lottery_subset(len(X), batch_size, estimator.lottery_steps, seed)
    X_draw = np.asarray(X[subset], dtype="float32")
    targets = np.asarray(y[subset], dtype="float32").reshape(len(subset), -1)
    output = "softmax" if model.layers[-1].activation is keras.activations.softmax else "linear"
    if output == "softmax" and estimator.smoothing:
        targets = targets * (1 - estimator.smoothing) + estimator.smoothing / targets.shape[1]
    draws = [model.get_weights()]
    for draw in range(1, estimator.lottery):
        redraw_weights(model, estimator.initializer, lottery_seed(seed, draw))
        draws.append(model.get_weights())
    total = estimator.lottery_epochs * int(math.ceil(len(subset) / batch_size))
    momentum = float(settings.get(_momentum_name(name), 0.0))
    base = _seed_or_fresh(seed)
    slots = [PackedSlot(X=X_draw, train=np.arange(len(subset)), validation=None, targets=targets,
                        sample_weight=np.ones(len(subset), "float32"), weights=weights,
                        rates=np.full(total, float(estimator.lottery_lr)),
                        momenta=np.full(total, momentum),
                        settings=_numbers(settings),
                        l2=float(estimator.weight_decay), seed=base + draw)
             for draw, weights in enumerate(draws)]
    outs = train_pack(slots, optimizer=name, activation=estimator.activation, output=output,
                      batch_size=batch_size, epochs=estimator.lottery_epochs, shuffle=True,
                      structural=_structural(settings), image=estimator._image(X.shape[1]))
    losses = np.array([out["history"]["loss"][-1] for out in outs])
    finite = np.where(np.isfinite(losses), losses, np.inf)
    best = int(np.argmin(finite)) if np.isfinite(finite).any() else None
    model.set_weights(outs[best]["weights"] if best is not None else draws[0])
    return losses, best
