"""Learning-rate schedules configured in epochs and applied per optimizer step.

Every schedule here is a :class:`keras.optimizers.schedules.LearningRateSchedule`:
Keras calls it with the optimizer's step counter, it returns the learning rate
for that step, and ``get_config`` returns exactly its constructor arguments so
that a saved model reloads with its schedule. Users speak in epochs; the
estimators fill in ``steps_per_epoch`` from the data and batch size. Where Keras
already has the curve (inverse-time, exponential, polynomial, cosine and cosine
with restarts) the schedule delegates to it.

The estimators accept a schedule by name (see :data:`SCHEDULES`) or as an
object; :func:`make_schedule` is the factory they use.
"""

import inspect
import math

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import keras
from keras import ops
from keras.optimizers.schedules import LearningRateSchedule

from skhp._validation import check_choice, check_number

__all__ = [
    "Constant",
    "TimeDecay",
    "Decrement",
    "ExponentialDecay",
    "Ramp",
    "LinearToZero",
    "CosineAnnealing",
    "CosineRestarts",
    "OneCycle",
    "Warmup",
    "EpochFunction",
    "SCHEDULES",
    "make_schedule",
    "with_steps_per_epoch",
    "plot_schedule",
]

_register = keras.saving.register_keras_serializable(package="skhp")


def _check_lr(value, name="initial_learning_rate"):
    return check_number(value, name, low=0, closed="neither")


def _check_epochs(value, name="epochs"):
    return check_number(value, name, low=0, closed="neither")


def _check_steps(value):
    return check_number(value, "steps_per_epoch", low=1, integer=True)


class _EpochSchedule(LearningRateSchedule):
    """Base of the schedules configured in epochs.

    Subclasses set their attributes in ``__init__`` (validated there, as Keras
    does) and implement ``__call__``. ``get_config`` returns the constructor
    arguments, read back from the attributes of the same names.
    """

    def get_config(self):
        names = inspect.signature(type(self).__init__).parameters
        return {name: getattr(self, name) for name in names if name != "self"}

    def _epoch(self, step):
        """The (fractional) epoch that optimizer ``step`` falls in."""
        return ops.cast(step, "float32") / float(self.steps_per_epoch)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@_register
class Constant(_EpochSchedule):
    """A constant learning rate, as a schedule so that warm-up can compose with it.

    Parameters
    ----------
    initial_learning_rate : float
        The learning rate, > 0.
    steps_per_epoch : int, default=1
        Unused; accepted so that every schedule takes it.

    Examples
    --------
    >>> round(float(Constant(0.01)(100)), 6)
    0.01
    """

    def __init__(self, initial_learning_rate, steps_per_epoch=1):
        self.initial_learning_rate = _check_lr(initial_learning_rate)
        self.steps_per_epoch = _check_steps(steps_per_epoch)

    def __call__(self, step):
        return ops.convert_to_tensor(self.initial_learning_rate, "float32")


@_register
class TimeDecay(_EpochSchedule):
    """Time decay, lr = lr0 / (1 + k·t), t in (fractional) epochs or in iterations.

    With ``per="epoch"`` (the default, like every other schedule here) t is
    the epoch, advancing smoothly with each optimizer step. With
    ``per="iteration"`` t counts optimizer steps: that is exactly the legacy
    Keras optimizer argument ``decay=k`` (for example ``SGD(lr=0.1,
    decay=1e-3)``), which Keras 3 no longer applies.

    The book's Table 10.1 is neither form: its values are exactly
    ``lr_e = lr_{e-1} − lr0·k·e``, i.e. ``lr0·(1 − k·e(e+1)/2)``, the
    schedule :class:`Decrement` (``schedule="decrement"``).

    Parameters
    ----------
    initial_learning_rate : float
        lr0, > 0.
    decay : float, default=1e-3
        k, >= 0, per epoch or per iteration (see ``per``). Typical values are
        1e-3 to 1e-6.
    per : {"epoch", "iteration"}, default="epoch"
        The unit of t.
    steps_per_epoch : int, default=1
        Optimizer steps in one epoch (used with ``per="epoch"``).

    Examples
    --------
    >>> round(float(TimeDecay(0.1, decay=1e-3, per="iteration")(1000)), 6)
    0.05
    >>> s = TimeDecay(0.1, decay=0.5, steps_per_epoch=10)
    >>> round(float(s(20)), 6)  # epoch 2: 0.1 / (1 + 0.5 * 2)
    0.05
    """

    def __init__(self, initial_learning_rate, decay=1e-3, per="epoch", steps_per_epoch=1):
        self.initial_learning_rate = _check_lr(initial_learning_rate)
        self.decay = check_number(decay, "decay", low=0)
        self.per = check_choice(per, "per", ("epoch", "iteration"))
        self.steps_per_epoch = _check_steps(steps_per_epoch)
        self._keras = keras.optimizers.schedules.InverseTimeDecay(
            self.initial_learning_rate,
            decay_steps=self.steps_per_epoch if per == "epoch" else 1,
            decay_rate=self.decay,
        )

    def __call__(self, step):
        return self._keras(step)


@_register
class Decrement(_EpochSchedule):
    """A decrement that grows each epoch: lr_e = lr_{e−1} − lr0·k·e, i.e. lr0·(1 − k·e(e+1)/2).

    The rule behind the book's Table 10.1 (lr0 0.1, k 1e-3: 0.0999, 0.0997,
    0.0994, 0.0990, 0.0985, 0.0979, 0.0972, 0.0964, 0.0955, 0.0945 at epochs
    1–10), held for a whole epoch as its ``LearningRateScheduler`` listing
    applies it, and never below zero.

    Parameters
    ----------
    initial_learning_rate : float
        lr0, > 0.
    decay : float, default=1e-3
        k, per epoch, >= 0.
    steps_per_epoch : int, default=1
        Optimizer steps in one epoch.

    Examples
    --------
    >>> s = Decrement(0.1, decay=1e-3)
    >>> [round(float(s(e)), 4) for e in (1, 2, 3, 10)]
    [0.0999, 0.0997, 0.0994, 0.0945]
    """

    def __init__(self, initial_learning_rate, decay=1e-3, steps_per_epoch=1):
        self.initial_learning_rate = _check_lr(initial_learning_rate)
        self.decay = check_number(decay, "decay", low=0)
        self.steps_per_epoch = _check_steps(steps_per_epoch)

    def __call__(self, step):
        e = ops.floor(self._epoch(step))
        rate = self.initial_learning_rate * (1.0 - self.decay * e * (e + 1.0) / 2.0)
        return ops.maximum(rate, 0.0)


@_register
class ExponentialDecay(_EpochSchedule):
    """Exponential decay, lr = lr0 · exp(−k·t), t in (fractional) epochs.

    Parameters
    ----------
    initial_learning_rate : float
        lr0, > 0.
    decay : float, default=0.1
        k, per epoch, >= 0.
    steps_per_epoch : int, default=1
        Optimizer steps in one epoch.

    Examples
    --------
    >>> s = ExponentialDecay(0.1, decay=0.5, steps_per_epoch=10)
    >>> round(float(s(20)), 6)  # epoch 2: 0.1 * exp(-1)
    0.036788
    """

    def __init__(self, initial_learning_rate, decay=0.1, steps_per_epoch=1):
        self.initial_learning_rate = _check_lr(initial_learning_rate)
        self.decay = check_number(decay, "decay", low=0)
        self.steps_per_epoch = _check_steps(steps_per_epoch)
        self._keras = keras.optimizers.schedules.ExponentialDecay(
            self.initial_learning_rate,
            decay_steps=self.steps_per_epoch,
            decay_rate=math.exp(-self.decay),
        )

    def __call__(self, step):
        return self._keras(step)


@_register
class Ramp(_EpochSchedule):
    """Step drops: keep lr0, divide it by ``factor`` at each epoch in ``drop_epochs``.

    The practice is to drop where validation loss plateaued in a first run with
    early stopping, minus about five epochs.

    Parameters
    ----------
    initial_learning_rate : float
        lr0, > 0.
    drop_epochs : int or sequence of int, optional
        Epochs (0-based) at whose start the rate is divided. Default: one drop
        at three quarters of ``epochs``.
    factor : float, default=10
        Divisor at each drop, > 1.
    epochs : float, optional
        Length of training; needed only for the default ``drop_epochs``.
    steps_per_epoch : int, default=1
        Optimizer steps in one epoch.

    Examples
    --------
    >>> s = Ramp(0.1, drop_epochs=[2, 4], steps_per_epoch=5)
    >>> [round(float(s(e * 5)), 6) for e in range(6)]
    [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    """

    def __init__(
        self,
        initial_learning_rate,
        drop_epochs=None,
        factor=10.0,
        epochs=None,
        steps_per_epoch=1,
    ):
        self.initial_learning_rate = _check_lr(initial_learning_rate)
        if drop_epochs is None:
            if epochs is None:
                raise ValueError("Ramp needs drop_epochs, or epochs to place a default drop.")
            drop_epochs = [max(1, int(round(0.75 * _check_epochs(epochs))))]
        elif isinstance(drop_epochs, (int, float)):
            drop_epochs = [drop_epochs]
        self.drop_epochs = sorted(
            int(check_number(e, "drop_epochs", low=0, integer=True)) for e in drop_epochs
        )
        self.factor = check_number(factor, "factor", low=1, closed="neither")
        self.epochs = epochs
        self.steps_per_epoch = _check_steps(steps_per_epoch)

    def __call__(self, step):
        epoch = ops.floor(self._epoch(step))
        drops = ops.zeros_like(epoch)
        for drop in self.drop_epochs:
            drops = drops + ops.cast(epoch >= drop, "float32")
        return self.initial_learning_rate * ops.power(float(self.factor), -drops)


@_register
class LinearToZero(_EpochSchedule):
    """Constant step: subtract lr0/epochs every epoch, reaching 0 at the end.

    Parameters
    ----------
    initial_learning_rate : float
        lr0, > 0.
    epochs : float
        Epochs over which the rate falls to zero, > 0.
    steps_per_epoch : int, default=1
        Optimizer steps in one epoch.

    Examples
    --------
    >>> s = LinearToZero(0.1, epochs=4)
    >>> [round(float(s(e)), 6) for e in range(5)]
    [0.1, 0.075, 0.05, 0.025, 0.0]
    """

    def __init__(self, initial_learning_rate, epochs, steps_per_epoch=1):
        self.initial_learning_rate = _check_lr(initial_learning_rate)
        self.epochs = _check_epochs(epochs)
        self.steps_per_epoch = _check_steps(steps_per_epoch)
        self._keras = keras.optimizers.schedules.PolynomialDecay(
            self.initial_learning_rate,
            decay_steps=self.epochs * self.steps_per_epoch,
            end_learning_rate=0.0,
            power=1.0,
        )

    def __call__(self, step):
        return self._keras(step)


@_register
class CosineAnnealing(_EpochSchedule):
    """Cosine annealing, lr = lr0 · ((1−α)·½(1+cos(π·t/T)) + α).

    Parameters
    ----------
    initial_learning_rate : float
        lr0, > 0.
    epochs : float
        T, the epochs of one half cosine, > 0.
    alpha : float, default=0.0
        Floor as a fraction of lr0, in [0, 1].
    steps_per_epoch : int, default=1
        Optimizer steps in one epoch.

    Examples
    --------
    >>> s = CosineAnnealing(0.1, epochs=10, alpha=0.1)
    >>> round(float(s(5)), 6)  # half way: 0.1 * (0.9 * 0.5 + 0.1)
    0.055
    """

    def __init__(self, initial_learning_rate, epochs, alpha=0.0, steps_per_epoch=1):
        self.initial_learning_rate = _check_lr(initial_learning_rate)
        self.epochs = _check_epochs(epochs)
        self.alpha = check_number(alpha, "alpha", low=0, high=1)
        self.steps_per_epoch = _check_steps(steps_per_epoch)
        self._keras = keras.optimizers.schedules.CosineDecay(
            self.initial_learning_rate,
            decay_steps=self.epochs * self.steps_per_epoch,
            alpha=self.alpha,
        )

    def __call__(self, step):
        return self._keras(step)


@_register
class CosineRestarts(_EpochSchedule):
    """Cosine annealing with warm restarts (SGDR).

    Each cycle anneals from its peak to its floor, then restarts. Cycle i
    lasts ``cycle_epochs · t_mul**i`` epochs; within it
    lr = lr0 · (α + (1 − α) · m_mul**i · ½(1 + cos(π·t_i/T_i))), so it peaks
    at ``lr0 · (α + (1 − α) · m_mul**i)`` and ends at the floor ``α · lr0``
    (Keras' ``CosineDecayRestarts``). With ``floor="falling"`` the whole
    cycle scales, lr = lr0 · m_mul**i · (α + (1 − α) · ½(1 + cos(π·t_i/T_i))):
    both the high and the low fall each cycle. After ``max_restarts``
    restarts the last cycle's floor holds to the end of training.

    Parameters
    ----------
    initial_learning_rate : float
        lr0, the first peak, > 0.
    cycle_epochs : float, default=10
        Length of the first cycle in epochs, > 0.
    t_mul : float, default=2.0
        Growth of each cycle's length, >= 1.
    m_mul : float, default=1.0
        Factor on each cycle's peak, in (0, 1].
    alpha : float, default=0.0
        Floor as a fraction of lr0 (of the cycle's peak factor with
        ``floor="falling"``), in [0, 1].
    floor : {"fixed", "falling"}, default="fixed"
        Whether the floor stays at ``α · lr0`` or falls with the peak.
    max_restarts : int or None, default=None
        Restarts at most (None: no cap).
    steps_per_epoch : int, default=1
        Optimizer steps in one epoch.

    Examples
    --------
    >>> s = CosineRestarts(0.1, cycle_epochs=2, t_mul=1.0, m_mul=0.5)
    >>> [round(float(s(e)), 6) for e in (0, 2, 4)]  # each restart at half the peak
    [0.1, 0.05, 0.025]
    >>> s = CosineRestarts(0.1, cycle_epochs=2, t_mul=1.0, m_mul=0.5, alpha=0.2)
    >>> [round(float(s(e)), 6) for e in (0, 2, 4)]  # 0.1 * (0.2 + 0.8 * 0.5**i)
    [0.1, 0.06, 0.04]
    >>> s = CosineRestarts(0.1, cycle_epochs=2, t_mul=1.0, m_mul=0.5, alpha=0.2,
    ...                    floor="falling", max_restarts=1)
    >>> [round(float(s(e)), 6) for e in (0, 1.999, 2, 3.999, 4, 9)]
    [0.1, 0.02, 0.05, 0.01, 0.01, 0.01]
    """

    def __init__(
        self,
        initial_learning_rate,
        cycle_epochs=10,
        t_mul=2.0,
        m_mul=1.0,
        alpha=0.0,
        floor="fixed",
        max_restarts=None,
        steps_per_epoch=1,
    ):
        self.initial_learning_rate = _check_lr(initial_learning_rate)
        self.cycle_epochs = _check_epochs(cycle_epochs, "cycle_epochs")
        self.t_mul = check_number(t_mul, "t_mul", low=1)
        self.m_mul = check_number(m_mul, "m_mul", low=0, high=1, closed="right")
        self.alpha = check_number(alpha, "alpha", low=0, high=1)
        self.floor = check_choice(floor, "floor", ("fixed", "falling"))
        self.max_restarts = None if max_restarts is None else check_number(
            max_restarts, "max_restarts", low=0, integer=True)
        self.steps_per_epoch = _check_steps(steps_per_epoch)
        self._keras = keras.optimizers.schedules.CosineDecayRestarts(
            self.initial_learning_rate,
            first_decay_steps=self.cycle_epochs * self.steps_per_epoch,
            t_mul=self.t_mul,
            m_mul=self.m_mul,
            alpha=self.alpha,
        )

    def cycle_starts(self, epochs):
        """Epochs (0-based) at which a cycle starts, up to ``epochs`` (and ``max_restarts``).

        Examples
        --------
        >>> CosineRestarts(0.1, cycle_epochs=2, t_mul=2.0).cycle_starts(20)
        [0, 2, 6, 14]
        >>> CosineRestarts(0.1, cycle_epochs=2, t_mul=2.0, max_restarts=1).cycle_starts(20)
        [0, 2]
        """
        starts, start, length = [], 0.0, float(self.cycle_epochs)
        while start < epochs and (self.max_restarts is None or len(starts) <= self.max_restarts):
            starts.append(int(round(start)))
            start += length
            length *= self.t_mul
        return starts

    def __call__(self, step):
        if self.floor == "fixed" and self.max_restarts is None:
            return self._keras(step)
        t = self._epoch(step)
        t0 = float(self.cycle_epochs)
        if self.t_mul == 1.0:
            i = ops.floor(t / t0)
            start, length = i * t0, ops.ones_like(t) * t0
        else:
            i = ops.floor(ops.log(1.0 - t / t0 * (1.0 - self.t_mul)) / math.log(self.t_mul))
            start = t0 * (1.0 - self.t_mul ** i) / (1.0 - self.t_mul)
            length = t0 * self.t_mul ** i
        fraction = (t - start) / length
        if self.max_restarts is not None:  # past the cap: the last cycle's end
            past = i > self.max_restarts
            i = ops.minimum(i, float(self.max_restarts))
            fraction = ops.where(past, 1.0, fraction)
        peak = self.m_mul ** i
        cosine = 0.5 * (1.0 + ops.cos(math.pi * fraction))
        if self.floor == "falling":
            rate = peak * (self.alpha + (1.0 - self.alpha) * cosine)
        else:
            rate = self.alpha + (1.0 - self.alpha) * peak * cosine
        return self.initial_learning_rate * rate


@_register
class OneCycle(_EpochSchedule):
    """The 1cycle policy (L. Smith, 2018): fast.ai's cosine shape, or the article's linear one.

    ``shape="cosine"`` (fast.ai's): the rate rises from ``max_learning_rate /
    div`` to ``max_learning_rate`` over the first ``pct_start`` of training,
    then falls to ``max_learning_rate / (div · final_div)``, far below the
    start. ``shape="linear"`` (the 1cycle article's three phases): a linear
    rise from ``max_learning_rate / div`` to the peak over ``pct_start`` of
    training, a linear fall of the same length back to the start rate, then a
    linear annihilation over the rest, to the start rate divided by
    ``final_div`` (orders lower). Momentum (SGD, RMSprop) or ``beta_1`` (the
    Adam family) moves the other way, from ``max_momentum`` down to
    ``base_momentum`` and back (and stays there while the rate annihilates);
    the estimators apply it with :class:`skhp.callbacks.MomentumCycler`.

    Parameters
    ----------
    max_learning_rate : float
        The peak rate, > 0.
    epochs : float
        Length of the whole cycle in epochs, > 0.
    div : float or None, default=None
        Start rate is ``max_learning_rate / div``; > 1. None is 25 (cosine)
        or 10 (linear: the article's η1/10).
    final_div : float, default=1e4
        End rate is the start rate divided by ``final_div``; > 1.
    pct_start : float or None, default=None
        Fraction of the cycle spent rising, in (0, 1) (below 0.5 for the
        linear shape, whose fall is as long). None is 0.3 (cosine) or 0.45
        (linear: 45 % up, 45 % down, the last 10 % annihilating).
    base_momentum, max_momentum : float, default=0.85, 0.95
        Momentum range, 0 <= base_momentum <= max_momentum < 1.
    shape : {"cosine", "linear"}, default="cosine"
        The phases' shape (see above).
    steps_per_epoch : int, default=1
        Optimizer steps in one epoch.

    Examples
    --------
    >>> s = OneCycle(0.1, epochs=10)
    >>> round(float(s(0)), 6), round(float(s(3)), 6)  # start, peak at 30%
    (0.004, 0.1)
    >>> round(float(s.momentum(3)), 6)
    0.85
    >>> s = OneCycle(0.1, epochs=20, shape="linear")
    >>> [round(float(s(e)), 6) for e in (0, 4.5, 9, 13.5, 18, 20)]
    [0.01, 0.055, 0.1, 0.055, 0.01, 1e-06]
    """

    def __init__(
        self,
        max_learning_rate,
        epochs,
        div=None,
        final_div=1e4,
        pct_start=None,
        base_momentum=0.85,
        max_momentum=0.95,
        shape="cosine",
        steps_per_epoch=1,
    ):
        self.max_learning_rate = _check_lr(max_learning_rate, "max_learning_rate")
        self.epochs = _check_epochs(epochs)
        self.shape = check_choice(shape, "shape", ("cosine", "linear"))
        self.div = None if div is None else check_number(div, "div", low=1, closed="neither")
        self.final_div = check_number(final_div, "final_div", low=1, closed="neither")
        self.pct_start = None if pct_start is None else check_number(
            pct_start, "pct_start", low=0, high=0.5 if shape == "linear" else 1, closed="neither")
        self.base_momentum = check_number(base_momentum, "base_momentum", low=0, high=1, closed="left")
        self.max_momentum = check_number(max_momentum, "max_momentum", low=0, high=1, closed="left")
        if self.base_momentum > self.max_momentum:
            raise ValueError(
                f"base_momentum ({base_momentum}) must not exceed max_momentum ({max_momentum})."
            )
        self.steps_per_epoch = _check_steps(steps_per_epoch)

    def _start_div(self):
        return self.div if self.div is not None else (10.0 if self.shape == "linear" else 25.0)

    def _rise(self):
        """Epochs spent rising."""
        pct = self.pct_start if self.pct_start is not None else (
            0.45 if self.shape == "linear" else 0.3)
        return pct * self.epochs

    @staticmethod
    def _anneal(start, end, fraction):
        """Cosine interpolation from ``start`` (fraction 0) to ``end`` (fraction 1)."""
        return end + (start - end) * 0.5 * (1.0 + ops.cos(math.pi * fraction))

    def _phases(self, step, low, peak, end):
        t = ops.minimum(self._epoch(step), float(self.epochs))
        rise = self._rise()
        if self.shape == "linear":
            up = low + (peak - low) * ops.minimum(t / rise, 1.0)
            down = peak + (low - peak) * ops.clip((t - rise) / rise, 0.0, 1.0)
            tail = low + (end - low) * ops.clip((t - 2 * rise) / (self.epochs - 2 * rise), 0.0, 1.0)
            return ops.where(t <= rise, up, ops.where(t <= 2 * rise, down, tail))
        up = self._anneal(low, peak, ops.minimum(t / rise, 1.0))
        down = self._anneal(peak, end, ops.maximum(t - rise, 0.0) / (self.epochs - rise))
        return ops.where(t <= rise, up, down)

    def __call__(self, step):
        start = self.max_learning_rate / self._start_div()
        return self._phases(step, start, self.max_learning_rate, start / self.final_div)

    def momentum(self, step):
        """Momentum (or ``beta_1``) at optimizer ``step``, moving against the rate."""
        end = self.max_momentum
        return self._phases(step, self.max_momentum, self.base_momentum, end)


@_register
class Warmup(_EpochSchedule):
    """Linear warm-up in front of any schedule.

    The rate rises linearly from ``start_lr`` to the wrapped schedule's first
    value over ``epochs`` epochs (per epoch the step is
    ``(lr − start_lr) / epochs``); after that the wrapped schedule runs from its
    own step 0.

    Parameters
    ----------
    schedule : LearningRateSchedule or float
        The schedule that follows; a float means a constant rate.
    epochs : float
        Warm-up length in epochs, > 0.
    start_lr : float, default=1e-5
        Rate at the first step, > 0 and not above the target.
    steps_per_epoch : int, default=1
        Optimizer steps in one epoch.

    Examples
    --------
    >>> s = Warmup(CosineAnnealing(0.1, epochs=10), epochs=4, start_lr=0.02)
    >>> [round(float(s(e)), 6) for e in range(5)]
    [0.02, 0.04, 0.06, 0.08, 0.1]
    """

    def __init__(self, schedule, epochs, start_lr=1e-5, steps_per_epoch=1):
        if isinstance(schedule, dict):
            schedule = keras.optimizers.schedules.deserialize(schedule)
        elif not isinstance(schedule, LearningRateSchedule):
            schedule = Constant(_check_lr(schedule, "schedule"))
        self.schedule = schedule
        self.epochs = _check_epochs(epochs)
        self.start_lr = _check_lr(start_lr, "start_lr")
        self.steps_per_epoch = _check_steps(steps_per_epoch)
        target = float(schedule(0))
        if self.start_lr > target:
            raise ValueError(
                f"start_lr ({start_lr}) must not exceed the learning rate it warms up to ({target:g})."
            )

    def __call__(self, step):
        warm_steps = float(self.epochs * self.steps_per_epoch)
        step = ops.cast(step, "float32")
        target = ops.cast(self.schedule(0), "float32")
        rising = self.start_lr + (target - self.start_lr) * step / warm_steps
        after = ops.cast(self.schedule(ops.maximum(step - warm_steps, 0.0)), "float32")
        return ops.where(step < warm_steps, rising, after)

    def get_config(self):
        config = super().get_config()
        config["schedule"] = keras.optimizers.schedules.serialize(self.schedule)
        return config


def _takes_lr(function):
    """Whether ``function`` is called ``fn(epoch, lr)`` (True) or ``fn(epoch)`` (False).

    Keras' ``LearningRateScheduler`` accepts both; the signature decides here,
    so that a ``TypeError`` raised inside the function is not mistaken for
    the other form.
    """
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # a builtin without a signature: Keras' usual form
        return True
    for arguments, takes_lr in (((0, 0.1), True), ((0,), False)):
        try:
            signature.bind(*arguments)
            return takes_lr
        except TypeError:
            pass
    raise TypeError(
        f"schedule={getattr(function, '__name__', function)!r} must take (epoch, lr) or (epoch), "
        f"as keras.callbacks.LearningRateScheduler calls it; its signature is {signature}."
    )


class EpochFunction:
    """A per-epoch rule ``fn(epoch, lr) -> lr`` or ``fn(epoch) -> lr``, as Keras' ``LearningRateScheduler`` calls it.

    This is how the book writes every schedule. The estimators take such a
    function as ``schedule`` and run it through
    :class:`keras.callbacks.LearningRateScheduler`: at the start of each epoch
    the function receives the epoch (0-based) and the rate in force, and
    returns the new rate. Warm-up, when asked for, comes first: over
    ``warmup`` epochs the rate rises linearly from ``warmup_lr`` by
    ``(learning_rate − warmup_lr) / warmup`` per epoch; then the rate is set to
    ``learning_rate`` and the function runs from its own epoch 0.

    Parameters
    ----------
    function : callable or None
        ``fn(epoch, lr)``; None keeps the rate in force (warm-up only, or a
        ``ReduceLROnPlateau`` callback driving it).
    learning_rate : float
        The rate after warm-up, > 0.
    warmup : int, default=0
        Warm-up epochs.
    warmup_lr : float, default=1e-5
        Rate of the first warm-up epoch.

    Examples
    --------
    >>> rule = EpochFunction(lambda epoch, lr: lr / (1 + 1e-3 * epoch), 0.1)
    >>> lr = 0.1
    >>> for epoch in range(3):
    ...     lr = rule(epoch, lr)
    >>> round(lr, 6)  # 0.1 / 1.001 / 1.002
    0.099701
    >>> EpochFunction(None, 0.1, warmup=2, warmup_lr=0.02)(1, 0.02)
    0.06
    >>> EpochFunction(lambda epoch: 0.1 * 0.5 ** epoch, 0.1)(2, 0.05)  # fn(epoch) works too
    0.025
    """

    def __init__(self, function, learning_rate, warmup=0, warmup_lr=1e-5):
        self.function = function
        self.learning_rate = float(_check_lr(learning_rate, "learning_rate"))
        self.warmup = int(warmup)
        self.warmup_lr = float(warmup_lr)
        self._takes_lr = function is None or _takes_lr(function)

    @property
    def acts(self):
        """Whether the rule ever changes the rate (a function, or warm-up)."""
        return self.function is not None or self.warmup > 0

    def __call__(self, epoch, lr):
        if epoch < self.warmup:
            step = (self.learning_rate - self.warmup_lr) / self.warmup
            return self.warmup_lr + epoch * step
        if epoch == self.warmup and self.warmup:
            lr = self.learning_rate
        if self.function is None:
            return float(lr)
        if self._takes_lr:
            return float(self.function(epoch - self.warmup, lr))
        return float(self.function(epoch - self.warmup))

    def __repr__(self):
        name = getattr(self.function, "__name__", repr(self.function))
        return f"EpochFunction({name}, learning_rate={self.learning_rate!r}, warmup={self.warmup})"


#: Schedule names accepted by the estimators' ``schedule`` parameter.
SCHEDULES = {
    "constant": Constant,
    "time": TimeDecay,
    "decrement": Decrement,
    "exponential": ExponentialDecay,
    "ramp": Ramp,
    "linear": LinearToZero,
    "cosine": CosineAnnealing,
    "restarts": CosineRestarts,
    "onecycle": OneCycle,
}


def make_schedule(schedule, learning_rate, epochs, steps_per_epoch, **kwargs):
    """Build a schedule from a name or adapt a schedule object to the data.

    Parameters
    ----------
    schedule : str, LearningRateSchedule or None
        A name from :data:`SCHEDULES` (None means ``"constant"``), or an object.
        An skhp schedule object is copied with ``steps_per_epoch`` replaced;
        any other Keras schedule is used as it is.
    learning_rate : float
        Initial (for 1cycle: peak) learning rate; used for names only.
    epochs : float
        Epochs the schedule spans; passed to schedules that take ``epochs``.
    steps_per_epoch : int
        Optimizer steps in one epoch.
    **kwargs
        Further constructor arguments for a named schedule (the estimators'
        ``schedule__<name>`` parameters).

    Returns
    -------
    LearningRateSchedule

    Examples
    --------
    >>> s = make_schedule("cosine", 0.1, epochs=10, steps_per_epoch=5, alpha=0.1)
    >>> type(s).__name__, s.steps_per_epoch, s.alpha
    ('CosineAnnealing', 5, 0.1)
    """
    if schedule is None:
        schedule = "constant"
    if isinstance(schedule, LearningRateSchedule):
        if kwargs:
            raise ValueError(
                f"schedule__ parameters {sorted(kwargs)} apply to schedule names only; "
                "set them on the schedule object instead."
            )
        return with_steps_per_epoch(schedule, steps_per_epoch)
    if not isinstance(schedule, str):
        raise TypeError(
            "schedule must be a name from "
            f"{sorted(SCHEDULES)} or a keras LearningRateSchedule, got {schedule!r}."
        )
    cls = SCHEDULES[check_choice(schedule, "schedule", SCHEDULES)]
    accepted = list(inspect.signature(cls.__init__).parameters)[2:]  # after self, lr
    unknown = set(kwargs) - set(accepted)
    if unknown:
        raise ValueError(
            f"schedule={schedule!r} does not take {sorted(unknown)}; its parameters are "
            f"{[name for name in accepted if name != 'steps_per_epoch']}."
        )
    args = dict(kwargs, steps_per_epoch=steps_per_epoch)
    if "epochs" in accepted and "epochs" not in kwargs:
        args["epochs"] = epochs
    return cls(learning_rate, **args)


def with_steps_per_epoch(schedule, steps_per_epoch):
    """Return a copy of an skhp ``schedule`` using ``steps_per_epoch``.

    Schedules of other origins are returned unchanged, since their steps are
    already optimizer steps.

    Examples
    --------
    >>> with_steps_per_epoch(LinearToZero(0.1, epochs=3), 7).steps_per_epoch
    7
    """
    if not isinstance(schedule, _EpochSchedule):
        return schedule
    config = schedule.get_config()
    config["steps_per_epoch"] = steps_per_epoch
    if isinstance(schedule, Warmup):
        config["schedule"] = with_steps_per_epoch(schedule.schedule, steps_per_epoch)
    return type(schedule).from_config(config)


def plot_schedule(schedule, epochs, steps_per_epoch=1, *, learning_rate=1e-3, path=None, ax=None, **kwargs):
    """Plot a schedule's learning rate over training (and 1cycle's momentum).

    Parameters
    ----------
    schedule : str or LearningRateSchedule
        A name from :data:`SCHEDULES` (built with ``learning_rate``, ``epochs``
        and ``kwargs``) or a schedule object.
    epochs : float
        Length of the plot in epochs.
    steps_per_epoch : int, default=1
        Optimizer steps per epoch; every step is plotted.
    learning_rate : float, default=1e-3
        Initial rate for a named schedule.
    path : str or path-like, optional
        Where to save the figure.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure otherwise.
    **kwargs
        Arguments of a named schedule (e.g. ``alpha=0.1``).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_schedule("cosine", epochs=20, steps_per_epoch=10, alpha=0.1)
    >>> ax.get_xlabel()
    'epoch'
    """
    import matplotlib.pyplot as plt
    import numpy as np

    schedule = make_schedule(schedule, learning_rate, epochs, steps_per_epoch, **kwargs)
    steps = np.arange(int(round(epochs * steps_per_epoch)) + 1)
    rates = keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(steps, "float32")))
    rates = np.broadcast_to(rates, steps.shape)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps / steps_per_epoch, rates, color="C0", label="learning rate")
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title(repr(schedule), fontsize="small", wrap=True)
    inner = schedule.schedule if isinstance(schedule, Warmup) else schedule
    if isinstance(inner, OneCycle) and inner is schedule:
        twin = ax.twinx()
        momentum = keras.ops.convert_to_numpy(schedule.momentum(keras.ops.convert_to_tensor(steps, "float32")))
        twin.plot(steps / steps_per_epoch, momentum, color="C1", ls="--", label="momentum")
        twin.set_ylabel("momentum")
    if path is not None:
        ax.figure.savefig(path, dpi=100, bbox_inches="tight")
    return ax
