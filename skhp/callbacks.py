"""Callbacks the estimators add to a fit: learning-rate logging, 1cycle momentum,
early stopping that knows the schedule's cycles."""

import operator

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import keras

__all__ = ["LearningRateLogger", "ScheduleStepper", "MomentumCycler", "CycleAwareEarlyStopping",
           "OptimizerSetting"]


class LearningRateLogger(keras.callbacks.Callback):
    """Record the learning rate in force at the start of each epoch as ``logs["lr"]``.

    The value is read from the optimizer at that moment, so it is the rate the
    schedule (and any warm-up) really applies to the epoch's first step.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> h = model.fit(np.ones((4, 2)), np.ones(4), epochs=2, verbose=0,
    ...               callbacks=[LearningRateLogger()])
    >>> [round(v, 4) for v in h.history["lr"]]
    [0.01, 0.01]
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = self._lr


class ScheduleStepper(keras.callbacks.Callback):
    """Set the optimizer's (plain, settable) learning rate to ``schedule(step)`` before each step.

    The estimators give the optimizer the schedule itself, except when a fit
    has callbacks of the user's: those may set the rate the way Keras
    documents (``self.model.optimizer.learning_rate.assign(r)``, as LR range
    tests and 1cycle callbacks do), which a schedule-driven optimizer
    refuses. Then the rate is a variable, this callback (run first) writes
    the schedule's value into it, and a user's callback that sets the rate
    after it wins for that step.

    Parameters
    ----------
    schedule : keras.optimizers.schedules.LearningRateSchedule
        The rate of each optimizer step.

    Examples
    --------
    >>> import keras, numpy as np
    >>> from skhp.schedules import CosineAnnealing
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(0.1), "mse")
    >>> stepper = ScheduleStepper(CosineAnnealing(0.1, epochs=2, steps_per_epoch=1))
    >>> h = model.fit(np.ones((4, 2)), np.ones(4), epochs=2, batch_size=4, verbose=0,
    ...               callbacks=[stepper, LearningRateLogger()])
    >>> [round(v, 4) for v in h.history["lr"]]
    [0.1, 0.05]
    """

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule

    def _set(self):
        optimizer = self.model.optimizer
        optimizer.learning_rate.assign(self.schedule(optimizer.iterations))

    def on_epoch_begin(self, epoch, logs=None):
        self._set()  # the rate the epoch's first step uses, for LearningRateLogger

    def on_train_batch_begin(self, batch, logs=None):
        self._set()


# keras.Variable is the active backend's Variable class; subclassing it (rather
# than creating a variable to ask) keeps TensorFlow's runtime unstarted at import,
# so that skhp.runtime can still set each worker's threads.
_BackendVariable = keras.Variable


class OptimizerSetting(_BackendVariable):
    """A Keras variable for an optimizer setting that Keras' optimizers also test in Python.

    Keras' SGD and RMSprop decide in Python whether momentum is on (``if
    self.momentum != 0``, ``if self.momentum > 0``), once, when a step is
    traced. Compared with a plain number, this variable answers as though its
    value were inside (0, 1), which keeps the momentum branch in the traced
    step; that branch computes the right update for every value in [0, 1),
    zero included, and its arithmetic reads the variable's value (1cycle's
    momentum, a packed slot's own setting). Compared with anything else for
    equality it is itself only (``list.index`` finds it among the optimizer's
    variables).

    Examples
    --------
    >>> setting = OptimizerSetting(0.0, trainable=False, name="momentum")
    >>> setting != 0, setting > 0, 0 < setting, setting == 0
    (True, True, True, False)
    """

    def _compare(self, other, op):
        if isinstance(other, (int, float)) and not 0 < other < 1:
            return op(0.5, other)
        if op in (operator.eq, operator.ne) and not isinstance(other, (int, float)):
            return op(self is other, True)
        return getattr(super(), f"__{op.__name__}__")(other)

    def __ne__(self, other):
        return self._compare(other, operator.ne)

    def __eq__(self, other):
        return self._compare(other, operator.eq)

    def __gt__(self, other):
        return self._compare(other, operator.gt)

    def __lt__(self, other):
        return self._compare(other, operator.lt)

    __hash__ = _BackendVariable.__hash__


class _CycledValue(OptimizerSetting):
    """The optimizer's momentum while 1cycle moves it: the schedule's value at the optimizer's
    step, computed inside the training step from its step count.

    Reading the step count where the step runs (rather than assigning a
    value before each step from outside) moves the momentum on every backend:
    JAX's compiled step takes the optimizer's state as an argument and would
    not see an assignment made between steps.
    """

    def follow(self, schedule, iterations):
        """Take the value of ``schedule.momentum(step)`` at the step ``iterations`` counts."""
        object.__setattr__(self, "_schedule", (schedule, iterations))
        return self

    @property
    def value(self):
        schedule, iterations = self._schedule
        return keras.ops.cast(schedule.momentum(iterations.value), self.dtype)


class MomentumCycler(keras.callbacks.Callback):
    """Move the optimizer's momentum (or ``beta_1``) along ``schedule.momentum(step)``.

    Used with :class:`skhp.schedules.OneCycle`, whose momentum falls while the
    learning rate rises. During training the optimizer's attribute is a Keras
    variable whose value is the schedule's at the optimizer's step, read inside
    the training step (so on every Keras backend); afterwards it is a plain
    float again (the value it ended at), so the model saves and reloads as usual. The epoch's
    starting value is logged as ``logs["momentum"]``.

    Parameters
    ----------
    schedule : object with a ``momentum(step)`` method
        Typically a :class:`skhp.schedules.OneCycle`.
    offset : int, default=0
        Optimizer steps that precede the schedule (warm-up); before them the
        momentum stays at the schedule's starting value.

    Examples
    --------
    >>> import keras, numpy as np
    >>> from skhp.schedules import OneCycle
    >>> cycle = OneCycle(0.1, epochs=2, steps_per_epoch=1)
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(cycle, momentum=0.9), "mse")
    >>> h = model.fit(np.ones((4, 2)), np.ones(4), batch_size=4, epochs=2, verbose=0,
    ...               callbacks=[MomentumCycler(cycle)])
    >>> [round(m, 3) for m in h.history["momentum"]]
    [0.95, 0.869]
    """

    def __init__(self, schedule, offset=0):
        super().__init__()
        self.schedule = schedule
        self.offset = offset

    def _attribute(self):
        optimizer = self.model.optimizer
        for name in ("momentum", "beta_1"):
            if isinstance(getattr(optimizer, name, None), (float, int, keras.Variable)):
                return name
        return None

    def _value(self):
        step = max(int(self.model.optimizer.iterations.numpy()) - self.offset, 0)
        return float(self.schedule.momentum(step))

    def on_train_begin(self, logs=None):
        self._name = self._attribute()
        if self._name is None:
            return
        optimizer = self.model.optimizer
        if not optimizer.built:  # build() reads momentum as a Python number
            optimizer.build(self.model.trainable_variables)
        variable = getattr(optimizer, "_skhp_momentum", None)
        if variable is None:
            variable = _CycledValue(self._value(), trainable=False, name="cycled_momentum")
            # Bypass the optimizer's variable tracking: this variable is no
            # optimizer state and must not change what a saved model holds.
            object.__setattr__(optimizer, "_skhp_momentum", variable)
        object.__setattr__(optimizer, self._name, variable.follow(self, optimizer.iterations))

    def momentum(self, step):
        """The momentum of optimizer ``step`` (a tensor inside the training step)."""
        step = keras.ops.maximum(keras.ops.cast(step, "float32") - float(self.offset), 0.0)
        return self.schedule.momentum(step)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._value() if self._name is not None else None

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._start is not None:
            logs["momentum"] = self._start

    def on_train_end(self, logs=None):
        if self._name is not None:
            object.__setattr__(self.model.optimizer, self._name, self._value())


class CycleAwareEarlyStopping(keras.callbacks.EarlyStopping):
    """Early stopping that stops only at the end of a learning-rate cycle.

    A cyclic schedule (warm restarts, 1cycle) makes the loss jump at every
    restart, so an ordinary stopper with a short patience quits right after a
    restart, at a high learning rate. This one counts epochs without
    improvement as usual but acts on them only at a cycle's last epoch, where
    the rate is lowest; ``restore_best_weights`` then restores the best epoch.

    Parameters
    ----------
    cycle_ends : sequence of int
        Epoch numbers (1-based counts: ``e`` means "after ``e`` epochs") at
        which a cycle ends.
    **kwargs
        Passed to :class:`keras.callbacks.EarlyStopping` (``monitor``,
        ``patience``, ``restore_best_weights``, ...).

    Examples
    --------
    >>> stopper = CycleAwareEarlyStopping([4, 12, 28], monitor="loss", patience=2)
    >>> stopper.cycle_ends
    [4, 12, 28]
    """

    def __init__(self, cycle_ends, **kwargs):
        super().__init__(**kwargs)
        self.cycle_ends = sorted(int(e) for e in cycle_ends)

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 in self.cycle_ends:
            return super().on_epoch_end(epoch, logs)
        patience, self.patience = self.patience, float("inf")
        try:
            super().on_epoch_end(epoch, logs)
        finally:
            self.patience = patience
