"""What one fit is, described once: the settings of a fit and its complete spec.

An skhp estimator turns its parameters into a :class:`FitSettings` (no data
needed: the optimizer and all its settings, the early-stopping rule, what
needs Keras' own training loop) and, given the data, into a
:class:`FitSpec`: the built model and its initial weights (lottery,
stabilized, or drawn), the samples and targets as the model takes them
(label smoothing folded into the targets), the training plan (seed,
hold-out, sample weights, batch size, steps), the learning rate and
momentum of every step, the L2 penalty and the kernels it applies to, and
the fitted attributes the fit sets. Keras' compile/fit and a packed slot
(:mod:`skhp.packed`) are both built from these; neither derives a setting
on its own:

- the optimizer: :class:`OptimizerSpec` (class and every setting) builds
  Keras' optimizer and gives a pack its numbers (:data:`OPTIMIZER_SETTINGS`,
  the one table of the optimizers a pack trains);
- early stopping: :class:`StopRule` is Keras' callback and a slot's patience;
- 1cycle momentum: :class:`CycleMomentum` moves Keras' optimizer
  (:class:`skhp.callbacks.MomentumCycler`) and fills a slot's table;
- the rate and momentum of every step: :func:`step_tables`.

Examples
--------
>>> from sklearn.datasets import load_iris
>>> from skhp import KerasClassifier
>>> X, y = load_iris(return_X_y=True)
>>> est = KerasClassifier(hidden_layer_sizes=(8,), epochs=2, smoothing=0.1, random_state=0)
>>> spec = est.fit_spec(X, y)
>>> spec.settings.optimizer.name, len(spec.rates), spec.targets[0].round(3)
('Adam', 10, array([0.933, 0.033, 0.033], dtype=float32))
"""

import dataclasses
import inspect
import json
import math

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import keras
import numpy as np

from skhp.callbacks import CycleAwareEarlyStopping
from skhp.schedules import EpochFunction, OneCycle

__all__ = ["OPTIMIZER_SETTINGS", "OPTIMIZER_STATE", "OptimizerSpec", "dense_gradients", "StopRule",
           "CycleMomentum", "FitSettings", "FitSpec", "step_tables", "smoothed", "batch_size_for",
           "n_held_out", "steps_per_epoch", "model_signature", "config_text", "seed_or_fresh",
           "numbers", "structural"]

#: Optimizers a pack trains, with the settings each takes (and Keras' defaults for them).
OPTIMIZER_SETTINGS = {
    "SGD": {"momentum": 0.0, "nesterov": False},
    "Adam": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False},
    "AdamW": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False,
              "weight_decay": 0.004},
    "RMSprop": {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False},
    "Nadam": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    "Adamax": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    "Adagrad": {"initial_accumulator_value": 0.1, "epsilon": 1e-7},
}
#: Optimizer state tensors per weight, by optimizer, given ``(amsgrad, centered)``.
OPTIMIZER_STATE = {
    "SGD": lambda amsgrad, centered: 1,
    "Adam": lambda amsgrad, centered: 2 + amsgrad,
    "AdamW": lambda amsgrad, centered: 2 + amsgrad,
    "RMSprop": lambda amsgrad, centered: 2 + centered,
    "Nadam": lambda amsgrad, centered: 2,
    "Adamax": lambda amsgrad, centered: 2,
    "Adagrad": lambda amsgrad, centered: 1,
}
# Settings that change the program (not only numbers in it): they split packs.
_STRUCTURAL = ("nesterov", "amsgrad", "centered")


def batch_size_for(batch_size, n_samples):
    """The minibatch size: ``batch_size``, or the book's 32 below 50,000 samples, else 256.

    Examples
    --------
    >>> batch_size_for(None, 1_000), batch_size_for(None, 60_000), batch_size_for(8, 60_000)
    (32, 256, 8)
    """
    if batch_size is not None:
        return int(batch_size)
    return 32 if n_samples < 50_000 else 256


def n_held_out(n_samples, fraction):
    """Samples a fit holds out for validation: ``fraction`` of ``n_samples``, at least one and
    at most all but one (none for a fraction of 0).

    Examples
    --------
    >>> n_held_out(100, 0.1), n_held_out(5, 0.01), n_held_out(100, 0.0)
    (10, 1, 0)
    """
    return min(max(1, int(round(n_samples * fraction))), n_samples - 1) if fraction else 0


def steps_per_epoch(n_samples, batch_size, n_held):
    """Optimizer steps of an epoch over ``n_samples``, ``n_held`` of them held out.

    Examples
    --------
    >>> steps_per_epoch(100, 32, 10), steps_per_epoch(5, 32, 0)
    (3, 1)
    """
    return max(1, int(math.ceil((n_samples - n_held) / batch_size)))


def dense_gradients(optimizer):
    """``optimizer``, made to apply an embedding's gradient as the dense tensor it sums to.

    On TensorFlow the gradient of an ``Embedding`` (of any gather) is an
    ``IndexedSlices``: one row per looked-up token, a token seen twice in a
    batch twice. Keras' optimizers square it row by row, so Adam's, RMSprop's,
    Adagrad's, Nadam's and Adamax's second moments of such a token take
    ``g1² + g2²`` instead of ``(g1 + g2)²``, and centered RMSprop fails. Summed
    into one dense tensor first, every optimizer applies the gradient as it
    does on JAX and PyTorch and as a pack (:mod:`skhp.packed`) does, so one
    fit means one thing on every backend. SGD's update is the same either way
    and keeps the sparse one (it updates only the looked-up rows); on other
    backends gradients are dense already and the optimizer is returned as it is.
    A fitted estimator restored from a pickle makes its model's optimizer so again.

    Examples
    --------
    >>> optimizer = dense_gradients(keras.optimizers.Adam(1e-3))
    >>> type(optimizer).__name__
    'Adam'
    """
    if (keras.backend.backend() != "tensorflow" or isinstance(optimizer, keras.optimizers.SGD)
            or getattr(optimizer, "_applies_dense", False)):
        return optimizer
    import tensorflow as tf

    apply = optimizer.apply

    def dense_apply(grads, trainable_variables=None):
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                 for g in grads]
        return apply(grads, trainable_variables)

    optimizer.apply, optimizer._applies_dense = dense_apply, True
    return optimizer


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """The optimizer of a fit: its class and every setting but the learning rate.

    Attributes
    ----------
    cls : type
        A ``keras.optimizers.Optimizer`` subclass.
    config : dict
        Its settings (``cls.from_config`` takes them with a learning rate):
        an instance's own, ``optimizer__`` parameters and ``momentum``.

    Examples
    --------
    >>> spec = OptimizerSpec(keras.optimizers.SGD, {"momentum": 0.9})
    >>> spec.name, spec.momentum_setting, float(spec.build(0.1).momentum)
    ('SGD', 'momentum', 0.9)
    >>> spec.pack_settings()
    ({'weight_decay': 0.0, 'momentum': 0.9, 'nesterov': False}, None)
    """

    cls: type
    config: dict

    @property
    def name(self):
        """The class name (``"Adam"``, ``"SGD"``...)."""
        return self.cls.__name__

    @property
    def momentum_setting(self):
        """The setting momentum tables drive: ``beta_1`` for the Adam family, else ``momentum``
        (None for an optimizer without one)."""
        accepted = inspect.signature(self.cls.__init__).parameters
        return next((name for name in ("momentum", "beta_1") if name in accepted), None)

    def momentum_value(self):
        """The momentum (``beta_1``) it trains with when nothing moves it; 0 without one."""
        name = self.momentum_setting
        if name is None:
            return 0.0
        if name in self.config:
            return float(self.config[name])
        return float(inspect.signature(self.cls.__init__).parameters[name].default)

    def build(self, learning_rate, **changes):
        """A new Keras optimizer at ``learning_rate`` (a number or a schedule), applying
        every gradient dense (see :func:`dense_gradients`)."""
        return dense_gradients(
            self.cls.from_config({**self.config, **changes, "learning_rate": learning_rate}))

    def pack_settings(self):
        """``(settings, None)``: every setting a pack applies, defaults filled in; or
        ``(None, reason)`` when a pack cannot train this optimizer."""
        if self.name not in OPTIMIZER_SETTINGS:
            return None, (f"optimizer {self.name} is not one a pack trains "
                          f"({', '.join(OPTIMIZER_SETTINGS)})")
        settings = {"weight_decay": 0.0, **OPTIMIZER_SETTINGS[self.name]}
        given = {k: v for k, v in self.config.items() if k != "name"}
        if given.get("weight_decay", 0.0) is None:
            given["weight_decay"] = 0.0
        defaults = {k: v.default for k, v in inspect.signature(self.cls.__init__).parameters.items()}
        for key, value in given.items():
            if key in settings:
                settings[key] = value
            elif key not in defaults or value != defaults[key]:
                return None, f"optimizer setting {key}={value!r} is not one a pack applies"
        return settings, None


def structural(settings):
    """``(nesterov, amsgrad, centered)`` of an optimizer's settings.

    Examples
    --------
    >>> structural({"momentum": 0.9, "nesterov": True})
    (True, False, False)
    """
    return tuple(bool(settings.get(s, False)) for s in _STRUCTURAL)


def numbers(settings):
    """The settings a slot carries per step (the structural flags left out).

    Examples
    --------
    >>> numbers({"momentum": 0.9, "nesterov": True})
    {'momentum': 0.9}
    """
    return {k: float(v) for k, v in settings.items() if not isinstance(v, bool)}


@dataclasses.dataclass(frozen=True)
class StopRule:
    """Early stopping of a fit: the one rule Keras' callback and a packed slot follow.

    Training stops once ``monitor`` (``"val_loss"`` with a hold-out, else
    ``"loss"``) has not improved for ``patience`` epochs, and the best
    epoch's weights are restored. With ``ends`` (the epochs where a
    schedule's cycles end) it stops only there.

    Examples
    --------
    >>> type(StopRule(3, "val_loss").callback()).__name__
    'EarlyStopping'
    >>> StopRule(0, "loss").callback() is None
    True
    """

    patience: int
    monitor: str
    ends: tuple = None

    def callback(self):
        """Keras' callback for this rule, or None without early stopping."""
        if not self.patience:
            return None
        settings = dict(monitor=self.monitor, patience=self.patience, restore_best_weights=True)
        if self.ends is not None:
            return CycleAwareEarlyStopping(list(self.ends), **settings)
        return keras.callbacks.EarlyStopping(**settings)


@dataclasses.dataclass(frozen=True)
class CycleMomentum:
    """1cycle's momentum at every optimizer step, after ``offset`` steps of warm-up.

    Examples
    --------
    >>> cycle = CycleMomentum(OneCycle(0.1, epochs=2, steps_per_epoch=1), offset=1)
    >>> [round(float(m), 3) for m in cycle.table(3)]
    [0.95, 0.95, 0.869]
    """

    schedule: OneCycle
    offset: int = 0

    def momentum(self, step):
        """The momentum of optimizer step ``step`` (a number or a tensor)."""
        if isinstance(step, (int, np.integer)):
            return self.schedule.momentum(max(int(step) - self.offset, 0))
        step = keras.ops.maximum(keras.ops.cast(step, "float32") - float(self.offset), 0.0)
        return self.schedule.momentum(step)

    def table(self, total):
        """The momentum of steps ``0 .. total - 1``."""
        steps = np.maximum(np.arange(total) - self.offset, 0).astype("float32")
        return np.asarray(keras.ops.convert_to_numpy(self.schedule.momentum(steps)), "float64")


def step_tables(schedule, learning_rate, epochs, steps, momentum, cycle=None):
    """The learning rate and momentum of every optimizer step of a fit.

    Parameters
    ----------
    schedule : LearningRateSchedule or EpochFunction
        The fit's schedule (warm-up included).
    learning_rate : float
        The fit's rate (a per-epoch function starts from it).
    epochs, steps : int
        Epochs and optimizer steps per epoch.
    momentum : float
        The optimizer's momentum (``beta_1``) when nothing moves it.
    cycle : CycleMomentum or None
        1cycle's momentum, when the optimizer has one to move.

    Examples
    --------
    >>> from skhp.schedules import make_schedule
    >>> rates, momenta = step_tables(make_schedule("linear", 0.1, 2, 2), 0.1, 2, 2, 0.9)
    >>> rates.round(3).tolist(), momenta.tolist()
    ([0.1, 0.075, 0.05, 0.025], [0.9, 0.9, 0.9, 0.9])
    """
    total = epochs * steps
    if isinstance(schedule, EpochFunction):
        per_epoch, lr = [], float(learning_rate)
        for epoch in range(epochs):
            lr = schedule(epoch, lr) if schedule.acts else lr
            per_epoch.append(lr)
        rates = np.repeat(np.asarray(per_epoch, dtype="float64"), steps)
    else:
        rates = np.asarray(keras.ops.convert_to_numpy(
            schedule(keras.ops.arange(total, dtype="float32"))), dtype="float64").reshape(-1)
        if rates.size == 1:  # a constant rate
            rates = np.full(total, rates[0])
    momenta = cycle.table(total) if cycle is not None else np.full(total, float(momentum))
    return rates, momenta


def smoothed(loss, targets):
    """A cross-entropy's label smoothing moved into the targets.

    Returns the loss without smoothing and the smoothed targets: slots of
    any smoothing then share a pack (the loss is the same function).

    Examples
    --------
    >>> loss, t = smoothed(keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
    ...                    np.array([[1.0, 0.0]], dtype="float32"))
    >>> loss.label_smoothing, [round(float(v), 3) for v in t[0]]
    (0.0, [0.95, 0.05])
    """
    binary = isinstance(loss, keras.losses.BinaryCrossentropy)
    if (binary or isinstance(loss, keras.losses.CategoricalCrossentropy)) and loss.label_smoothing:
        smoothing = float(loss.label_smoothing)
        # Keras smooths a binary target towards 0.5, a categorical one towards 1/K
        targets = targets * (1 - smoothing) + smoothing / (2 if binary else targets.shape[-1])
        loss = type(loss).from_config({**loss.get_config(), "label_smoothing": 0.0})
    return loss, targets


def seed_or_fresh(seed):
    """``seed``, or a fresh random one for ``random_state=None`` (as an ordinary fit draws anew).

    Examples
    --------
    >>> seed_or_fresh(3), 0 <= seed_or_fresh(None) < 2**30
    (3, True)
    """
    return seed if seed is not None else int(np.random.SeedSequence().generate_state(1)[0] % 2**30)


def _program_config(config):
    """A model's config without what only draws its starting values (initializers, seeds):
    slots differing there run one program (their values are the slots' own)."""
    if isinstance(config, dict):
        return {k: _program_config(v) for k, v in config.items()
                if not (k.endswith("initializer") or k == "seed")}
    if isinstance(config, list):
        return [_program_config(v) for v in config]
    return config


def model_signature(model):
    """A string equal for two built models of the same layer graph, configs and weight shapes.

    Layer names (which Keras numbers as it builds) are replaced by their
    order, so two builds of one builder function agree; initializers and
    seeds, which only draw the starting values, are left out.

    Examples
    --------
    >>> import keras
    >>> build = lambda units: keras.Sequential([keras.Input((4,)), keras.layers.Dense(units)])
    >>> model_signature(build(3)) == model_signature(build(3)) != model_signature(build(5))
    True
    """
    shapes = [(tuple(v.shape), str(v.dtype)) for v in model.variables]
    return f"{type(model).__name__}|{config_text(model)}|{shapes}"


def config_text(model, config=None):
    """``model``'s config (or ``config``, one of its, changed) as :func:`model_signature`
    reads it: layer names replaced by their order, initializers and seeds left out.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> '"name": "#0"' in config_text(model)
    True
    """
    names = [layer.name for layer in model._flatten_layers(include_self=True)]
    try:
        config = model.get_config() if config is None else config
        text = json.dumps(_program_config(config), sort_keys=True, default=repr)
    except Exception:  # a subclassed model without a config: its class and weights decide
        text = f"{type(model).__module__}.{type(model).__qualname__}"
    for i, name in sorted(enumerate(names), key=lambda item: -len(item[1])):
        text = text.replace(json.dumps(name), f'"#{i}"')
    return text


@dataclasses.dataclass(frozen=True)
class FitSettings:
    """A fit as its parameters alone describe it (no data): what a planner decides with.

    Attributes
    ----------
    optimizer : OptimizerSpec
    epochs : int
    batch_size : int or None
        The ``batch_size`` parameter (None: chosen from the data's size).
    stop : StopRule
    schedule : str or None
        Why the learning rate of a step is not known before training (a
        schedule object of the user's), or None: a schedule name, warm-up or
        a ``fn(epoch, lr)`` rule, tabulated per step.
    lr_search : bool
        Whether every fit runs an LR range test first (``learning_rate="auto"``).
    precision : str
    callbacks : bool
        Whether the fit has Keras callbacks of the user's.
    warm_start : bool
    fit_options, compile_options : tuple of str
        ``fit__`` settings (``shuffle`` aside) and ``compile__`` settings.
    shuffle : bool
    lottery : int
        Lottery draws the fit trains (0: none).
    lottery_optimizer : OptimizerSpec
        The optimizer of the lottery's brief training (the optimizer's own settings).
    builtin_model, own_loss : bool
        Whether the fit builds skhp's built-in model, and trains a loss of the user's.
    device : str
    random_state : int or None
        None: every fit draws its seed anew.
    group : tuple
        What likely decides the model a fit builds (for sharing work out
        before any model is built).
    validation_fraction : float

    Examples
    --------
    >>> from skhp import KerasClassifier
    >>> settings = KerasClassifier(optimizer="sgd", momentum=0.9, early_stopping=2).fit_settings()
    >>> settings.optimizer.name, settings.optimizer.config, settings.stop.patience
    ('SGD', {'momentum': 0.9}, 2)
    """

    optimizer: OptimizerSpec
    epochs: int
    batch_size: object
    stop: StopRule
    schedule: object
    lr_search: bool
    precision: str
    callbacks: bool
    warm_start: bool
    fit_options: tuple
    compile_options: tuple
    shuffle: bool
    lottery: int
    lottery_optimizer: OptimizerSpec
    builtin_model: bool
    own_loss: bool
    device: str
    random_state: object
    group: tuple
    validation_fraction: float = 0.0

    def batch_size_for(self, n_samples):
        """The minibatch size of a fit on ``n_samples``: ``batch_size``, or the book's 32 below
        50,000 samples, else 256."""
        return batch_size_for(self.batch_size, n_samples)

    def steps_for(self, n_samples):
        """Optimizer steps of an epoch of a fit on ``n_samples`` (its hold-out left out)."""
        return steps_per_epoch(n_samples, self.batch_size_for(n_samples),
                               n_held_out(n_samples, self.validation_fraction))


@dataclasses.dataclass(frozen=True)
class FitSpec:
    """A complete, immutable description of one fit on its data.

    Made by the estimators' ``fit_spec(X, y)``; :mod:`skhp.packed` builds a
    slot from it, and reads nothing else of the estimator.

    Attributes
    ----------
    settings : FitSettings
    training : skhp._training.TrainingPlan
        Seed, hold-out (``held``), trained samples (``kept``), sample
        weights, batch size and steps per epoch.
    model : keras.Model
        The model the fit builds (its weight decay not attached: see ``l2``).
    signature : str
        Equal for models of one structure (layer graph, configs, weight shapes).
    weights, state : list of ndarray
        Initial values of its trainable and non-trainable variables
        (after the lottery, stabilized weights or the initializer's draw).
    X : ndarray or sparse matrix
        The samples as the model takes them (all of the fit's rows, or the
        search's shared X that ``rows`` index).
    rows : ndarray of int or None
        The fit's rows of a shared ``X`` (None: ``X`` is the fit's own).
    targets : ndarray
        Targets of every row of ``X`` as the loss takes them, smoothing
        folded in.
    sample_weight : ndarray
        The weight of every row of ``X``.
    loss : keras.losses.Loss or callable
        The loss, without label smoothing (it is in ``targets``).
    rates, momenta : ndarray
        Learning rate and momentum (``beta_1``) of every optimizer step.
    l2 : float
        L2 penalty (``weight_decay``) on the kernels ``decayed`` marks.
    decayed : tuple of bool
        Per trainable variable, whether ``l2`` applies to it.
    seed : int
        The fit's seed (a fresh one for ``random_state=None``).
    outputs : tuple
        The classes (a classifier) or the target shape (a regressor).
    fitted : dict
        The attributes the fit sets on the estimator (its seed, rate, schedule,
        encoders, lottery results).
    """

    settings: FitSettings
    training: object
    model: object
    signature: str
    weights: list
    state: list
    X: object
    rows: object
    targets: np.ndarray
    sample_weight: np.ndarray
    loss: object
    rates: np.ndarray
    momenta: np.ndarray
    l2: float
    decayed: tuple
    seed: int
    outputs: tuple
    fitted: dict

    @property
    def train(self):
        """Indices (into ``X``) of the samples the fit trains on."""
        kept = self.training.kept
        return kept if self.rows is None else self.rows[kept]

    @property
    def validation(self):
        """Indices (into ``X``) of its held-out samples, or None."""
        held = self.training.held
        if not len(held):
            return None
        return held if self.rows is None else self.rows[held]
