"""The training wiring of the estimators: optimizer, learning-rate schedule, callbacks.

:class:`TrainingWiring` is the part of the estimators that turns their
parameters into what Keras trains with: the optimizer (with ``momentum`` and
``optimizer__`` arguments), the learning rate (a schedule with warm-up, or a
plain rate for per-epoch callbacks and ``fn(epoch, lr)`` rules), the compile
arguments, ``steps_per_execution``, the callbacks skhp adds (rate logging,
1cycle momentum, early stopping) and the held-out validation data.
"""

import inspect
import math
import warnings
from dataclasses import dataclass

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import keras
import numpy as np

from skhp._sklearn import num_samples
from skhp._targets import metrics_for_one_hot
from skhp._validation import check_choice, check_number
from skhp.callbacks import (
    LearningRateLogger,
    MomentumCycler,
    ScheduleStepper,
)
from skhp.fit_spec import (CycleMomentum, OptimizerSpec, StopRule, batch_size_for, n_held_out,
                           steps_per_epoch)
from skhp.schedules import (
    Constant,
    CosineAnnealing,
    CosineRestarts,
    EpochFunction,
    LinearToZero,
    OneCycle,
    Warmup,
    make_schedule,
)

__all__ = ["OPTIMIZERS", "optimizer_class", "instance_learning_rate", "default_learning_rate",
           "momentum_argument", "batch_size_for", "TrainingPlan", "TrainingWiring"]


def _optimizer_classes():
    classes = {}
    for name in dir(keras.optimizers):
        obj = getattr(keras.optimizers, name)
        if isinstance(obj, type) and issubclass(obj, keras.optimizers.Optimizer):
            if obj is not keras.optimizers.Optimizer and name != "LossScaleOptimizer":
                classes.update({name: obj, name.lower(): obj})
    return classes


# Looked up by name: keras.optimizers.get(name) would build an optimizer (and
# its variables) on every call, a measurable part of a short fit.
_OPTIMIZER_CLASSES = _optimizer_classes()

#: Optimizer names accepted by the ``optimizer`` parameter.
OPTIMIZERS = frozenset(_OPTIMIZER_CLASSES)
#: Keras backends whose ``fit`` runs several steps per call (``steps_per_execution``).
MULTI_STEP_BACKENDS = ("tensorflow", "jax")


def optimizer_class(optimizer):
    """The optimizer class of ``optimizer`` and the settings an instance carries.

    None (the estimators' default) is Adam.

    Examples
    --------
    >>> cls, config = optimizer_class("sgd")
    >>> cls.__name__, config
    ('SGD', {})
    """
    if optimizer is None:
        return keras.optimizers.Adam, {}
    if isinstance(optimizer, str):
        check_choice(optimizer, "optimizer", OPTIMIZERS)
        return _OPTIMIZER_CLASSES[optimizer], {}
    if isinstance(optimizer, type) and issubclass(optimizer, keras.optimizers.Optimizer):
        return optimizer, {}
    if isinstance(optimizer, keras.optimizers.Optimizer):
        config = optimizer.get_config()
        config.pop("learning_rate", None)
        return type(optimizer), config
    raise TypeError(
        "optimizer must be an optimizer name (e.g. 'adam', 'sgd'), a keras "
        f"Optimizer class or instance, got {optimizer!r}."
    )


def momentum_argument(optimizer):
    """The argument of ``optimizer`` that the estimators' ``momentum`` sets.

    Examples
    --------
    >>> momentum_argument("sgd"), momentum_argument("adam")
    ('momentum', 'beta_1')
    """
    cls, _ = optimizer_class(optimizer)
    accepted = inspect.signature(cls.__init__).parameters
    for name in ("momentum", "beta_1"):
        if name in accepted:
            return name
    raise ValueError(
        f"momentum is set but optimizer {cls.__name__} has no momentum; use it "
        "with SGD, RMSprop or the Adam family, or leave momentum=None."
    )


def instance_learning_rate(optimizer):
    """The learning rate an optimizer instance carries, or None for a name, a class or None.

    A learning-rate schedule inside the instance is refused: skhp's
    ``schedule`` parameter drives the rate.

    Examples
    --------
    >>> round(instance_learning_rate(keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)), 6)
    0.1
    >>> instance_learning_rate("sgd") is None
    True
    """
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        return None
    rate = optimizer.get_config().get("learning_rate")
    if not isinstance(rate, (int, float)):
        raise ValueError(
            f"optimizer={type(optimizer).__name__}(learning_rate={rate!r}) carries a learning-rate "
            "schedule; skhp drives the rate itself: pass the schedule as schedule=... and the "
            f"optimizer without it (optimizer={type(optimizer).__name__.lower()!r}).")
    return float(rate)


def default_learning_rate(optimizer):
    """The rate ``learning_rate=None`` trains at with ``optimizer``: an instance's own, else
    the class's Keras default.

    Examples
    --------
    >>> default_learning_rate("adam"), default_learning_rate("sgd")
    (0.001, 0.01)
    >>> round(default_learning_rate(keras.optimizers.SGD(learning_rate=0.5)), 6)
    0.5
    """
    rate = instance_learning_rate(optimizer)
    if rate is not None:
        return rate
    cls, _ = optimizer_class(optimizer)
    default = inspect.signature(cls.__init__).parameters.get("learning_rate")
    return float(default.default) if default is not None else 1e-3


@dataclass(frozen=True)
class TrainingPlan:
    """What one fit trains on, computed once and consumed by Keras' fit and a packed slot alike.

    Made by the estimators' ``_training_plan``: the ordinary fit splits its
    data with :meth:`split` and trains in ``batch_size`` batches; a packed
    slot (:func:`skhp.packed.plan`) takes the same ``kept`` and ``held``
    samples, weights and batch size, and its learning rate and momentum per
    step from the same schedule (``schedule_``) over ``steps_per_epoch``.

    Attributes
    ----------
    seed : int or None
        The fit's seed (its hold-out, initial weights and shuffling).
    batch_size : int
    held, kept : ndarray of int
        Samples held out for validation (empty without a hold-out) and trained on.
    sample_weight : ndarray or None
        Weights of all samples, class weights included.
    steps_per_epoch : int

    Examples
    --------
    >>> from skhp import KerasClassifier
    >>> est = KerasClassifier(early_stopping=2, random_state=0)
    >>> est._seed = 0
    >>> plan = est._training_plan(np.arange(100) % 2)
    >>> len(plan.held), len(plan.kept), plan.batch_size, plan.steps_per_epoch
    (10, 90, 32, 3)
    """

    seed: object
    batch_size: int
    held: np.ndarray
    kept: np.ndarray
    sample_weight: object
    steps_per_epoch: int

    def split(self, X, y):
        """``X, y, sample_weight`` trained on and the ``validation_data`` held out (or None).

        ``X`` and ``y`` are all the fit's samples, or those of non-zero
        weight (scikeras drops the others before Keras' fit).
        """
        weights, held, kept = self.sample_weight, self.held, self.kept
        if weights is not None and num_samples(X) < len(weights):  # zero weights dropped
            position = np.cumsum(weights != 0) - 1
            held, kept, weights = position[held], position[kept], weights[weights != 0]
        if not len(held):
            return X, y, weights, None
        validation = (X[held], y[held]) + (() if weights is None else (weights[held],))
        return X[kept], y[kept], None if weights is None else weights[kept], validation


class TrainingWiring:
    """Optimizer, schedule, compile arguments and callbacks from the estimator's parameters."""

    def _steps_for(self, n_samples):
        """Optimizer steps of an epoch over ``n_samples`` (the hold-out left out)."""
        return steps_per_epoch(n_samples, batch_size_for(self.batch_size, n_samples),
                               self._n_validation(n_samples))

    def _steps_per_epoch(self):
        return self._steps_for(self.X_shape_[0])

    def _training_plan(self, y, sample_weight=None, fit_kwargs=None):
        """The :class:`TrainingPlan` of a fit on targets ``y`` (``_seed`` set first).

        ``fit_kwargs`` are ``fit``'s keywords (the classifier takes its
        ``class_weight`` from them).
        """
        n_samples = num_samples(y)  # y as given: a list, an array-like without len()
        weights = self._weights_for(y, None if sample_weight is None else np.asarray(sample_weight),
                                    {} if fit_kwargs is None else fit_kwargs)
        # samples of zero weight take no part (scikeras drops them before Keras' fit)
        rows = np.arange(n_samples) if weights is None else np.flatnonzero(np.asarray(weights) != 0)
        held, kept = self._hold_out_indices(len(rows))
        return TrainingPlan(self._seed, batch_size_for(self.batch_size, len(rows)), rows[held],
                            rows[kept], None if weights is None else np.asarray(weights, "float64"),
                            self._steps_for(len(rows)))

    def _steps_per_execution(self):
        if self.steps_per_execution is not None:
            return int(min(self.steps_per_execution, self._steps_per_epoch()))
        main, _ = self._main_schedule()
        if (isinstance(main, OneCycle) or self.callbacks
                or keras.backend.backend() not in MULTI_STEP_BACKENDS):
            return 1  # per-step momentum, callbacks that may act per batch, PyTorch's fit
        return int(min(32, self._steps_per_epoch()))

    def _function_schedule(self):
        """The user's ``fn(epoch, lr)`` schedule, or None."""
        schedule = self.schedule
        if callable(schedule) and not isinstance(schedule, (str, type, keras.optimizers.schedules.LearningRateSchedule)):
            return schedule
        return None

    def _lr_callbacks(self):
        """The user's callbacks (instances or classes) that set the learning rate themselves."""
        kinds = (keras.callbacks.LearningRateScheduler, keras.callbacks.ReduceLROnPlateau)
        found = []
        for source in (self.callbacks, self._routed("fit").get("callbacks")):
            items = list(source.values()) if isinstance(source, dict) else source
            if not isinstance(items, (list, tuple)):
                items = [] if items is None else [items]
            for item in items:
                for cb in item if isinstance(item, (list, tuple)) else [item]:
                    if _is_a(cb, kinds):
                        found.append(cb)
        return found

    def _make_learning_rate(self, learning_rate, steps_per_epoch, warmup_lr):
        routed = self._routed("schedule")
        legacy_decay = self._routed("optimizer").get("decay")
        function, lr_callbacks = self._function_schedule(), self._lr_callbacks()
        if function is not None or lr_callbacks:
            # A per-epoch callback sets the rate: the optimizer gets a plain,
            # settable rate and the callback (plus warm-up, if any) drives it.
            names = ", ".join(cb.__name__ if isinstance(cb, type) else type(cb).__name__
                              for cb in lr_callbacks)
            if routed:
                raise ValueError(
                    f"schedule__ parameters {sorted(routed)} apply to schedule names only, "
                    f"not to schedule={self.schedule!r}."
                )
            if lr_callbacks and function is None and self.schedule not in (None, "constant"):
                raise ValueError(
                    f"callbacks include {names}, which sets the learning rate, and "
                    f"schedule={self.schedule!r} sets it too; keep one of them (schedule=None "
                    "to let the callback drive the rate, or pass the rule as schedule=fn(epoch, lr))."
                )
            if legacy_decay:
                raise ValueError(
                    "optimizer__decay (Keras 2's per-iteration time decay) cannot combine with a "
                    "per-epoch learning-rate callback; put the decay in the function."
                )
            if self.warmup and any(_is_a(cb, keras.callbacks.LearningRateScheduler)
                                   for cb in lr_callbacks):
                raise ValueError(
                    f"warmup={self.warmup} with a LearningRateScheduler callback: the callback "
                    "would overwrite the warm-up. Pass its function as schedule=fn(epoch, lr) "
                    "instead (skhp then runs the warm-up first), or write the warm-up into it."
                )
            return EpochFunction(function, learning_rate, self.warmup, warmup_lr)
        schedule = self.schedule
        if legacy_decay is not None:
            check_number(legacy_decay, "optimizer__decay", low=0)
            if schedule not in (None, "constant"):
                raise ValueError(
                    f"optimizer__decay={legacy_decay} is Keras 2's per-iteration time decay and "
                    f"cannot combine with schedule={schedule!r}. Write schedule='time', "
                    f"schedule__decay={legacy_decay}, schedule__per='iteration' for the same "
                    "decay, or drop optimizer__decay."
                )
            schedule, routed = "time", {"decay": legacy_decay, "per": "iteration"}
        main_epochs = max(self.epochs - self.warmup, 1)
        schedule = make_schedule(schedule, learning_rate, main_epochs, steps_per_epoch, **routed)
        if self.warmup:
            schedule = Warmup(schedule, self.warmup, warmup_lr, steps_per_epoch)
        return schedule

    def _fit_schedule(self, rate, steps_per_epoch):
        """The fit's schedule at ``rate``: warm-up from ``warmup_lr``, or from the rate itself
        when that is lower (with learning_rate="auto" warm-up still starts below the found rate)."""
        return self._make_learning_rate(rate, steps_per_epoch, min(self.warmup_lr, rate))

    def _given_learning_rate(self):
        """``learning_rate`` when set, else the rate of the optimizer in use.

        A set rate is the rate, whatever an optimizer instance or a build
        function's compile says (a search reports what trained); None takes
        the optimizer's own: an instance's, the one a build function or a
        compiled model compiles with, else Keras' default for its class.
        """
        own = default_learning_rate(self._optimizer_in_use())  # refuses a schedule in an instance
        return self.learning_rate if self.learning_rate is not None else own

    def _continue_at_given_rate(self):
        """Before a continued fit: a ``learning_rate`` set since the last one applies from now.

        The schedule is rebuilt around the new rate and keeps its position
        (the optimizer's step count goes on); the optimizer's state stays.
        """
        if self.learning_rate == "auto":
            return
        rate = float(self._given_learning_rate())
        if math.isclose(rate, float(self.learning_rate_), rel_tol=1e-9):
            return
        self.learning_rate_ = rate
        self.schedule_ = self._fit_schedule(rate, self._steps_per_epoch())
        optimizer = self.model_.optimizer
        if isinstance(optimizer._learning_rate, keras.optimizers.schedules.LearningRateSchedule):
            optimizer.learning_rate = self.schedule_
        else:  # a settable rate: skhp's callbacks write it from schedule_ as they go
            optimizer.learning_rate = rate
        self.model_.train_function = None  # traced with the old rate

    def _optimizer_in_use(self):
        """``optimizer`` when set, else the one the model compiles with, else Adam.

        A build function or a Keras model that compiles itself (KerasTuner's
        way) trains with that optimizer while ``optimizer`` is None (see
        ``_builder_compile``).
        """
        if self.optimizer is not None:
            return self.optimizer
        compiled = getattr(self, "_builder_compile", None)
        if not compiled or compiled.get("optimizer") is None:
            return "adam"
        cls, config = compiled["optimizer"]
        return cls.from_config(config)

    def _fit_loss(self):
        """The loss the fit compiles: ``loss`` (with ``loss__`` settings), the build
        function's compiled loss, or the built-in one."""
        if self.loss is not None:
            with warnings.catch_warnings():  # scikeras builds a throw-away optimizer (see below)
                warnings.filterwarnings("ignore", message="Argument `decay` is no longer supported")
                return super()._get_compile_kwargs()["loss"]
        compiled = getattr(self, "_builder_compile", None) or {}
        return compiled["loss"] if compiled.get("loss") is not None else self._default_loss()

    def _optimizer_spec(self, routed=True):
        """The fit's optimizer: its class and every setting (see :class:`OptimizerSpec`).

        ``routed=False`` leaves out ``optimizer__`` parameters and ``momentum``
        (the lottery's brief training takes only the optimizer's own settings).
        """
        optimizer = self._optimizer_in_use()
        cls, config = optimizer_class(optimizer)
        if routed:
            config.update({k: v for k, v in self._routed("optimizer").items() if k != "decay"})
            if self.momentum is not None:
                config[momentum_argument(optimizer)] = self.momentum
        return OptimizerSpec(cls, config)

    def _cycle_momentum(self, optimizer):
        """1cycle's momentum of every step (``schedule_`` set), or None: nothing moves it."""
        main, warmup_epochs = self._main_schedule()
        if not isinstance(main, OneCycle) or optimizer.momentum_setting is None:
            return None
        return CycleMomentum(main, offset=int(warmup_epochs * main.steps_per_epoch))

    def _stop_rule(self, schedule=None):
        """The fit's :class:`StopRule`: its patience, what it watches, and the ends of the
        cycles of ``schedule`` (a schedule of the fit's, warm-up included) where it may stop."""
        ends = None
        main, warmup_epochs = self._main_schedule(schedule) if schedule is not None else (None, 0)
        if self.early_stopping and isinstance(main, (CosineRestarts, OneCycle)):
            starts = main.cycle_starts(self.epochs - warmup_epochs) \
                if isinstance(main, CosineRestarts) else [0]
            ends = tuple([warmup_epochs + s for s in starts[1:]] + [self.epochs])
        return StopRule(int(self.early_stopping),
                        "val_loss" if self._validation_given() else "loss", ends)

    def _make_optimizer(self):
        optimizer = self._optimizer_spec()
        self.schedule_ = self._fit_schedule(self.learning_rate_, self._steps_per_epoch())
        changes = {}
        cycle = self._cycle_momentum(optimizer)
        if cycle is not None and optimizer.momentum_setting == "momentum":
            # The optimizer must be built with momentum on for 1cycle to move it.
            changes["momentum"] = cycle.schedule.max_momentum
        settable = isinstance(self.schedule_, EpochFunction) or self._user_callbacks()
        return optimizer.build(float(self.learning_rate_) if settable else self.schedule_, **changes)

    def _user_callbacks(self):
        """Whether the fit has Keras callbacks of the user's (which may set the rate)."""
        return bool(self.callbacks or self._routed("fit").get("callbacks"))

    def _main_schedule(self, schedule=None):
        """The schedule after warm-up, and the warm-up's length in epochs, of ``schedule``
        (default: the fit's ``schedule_``)."""
        schedule = self.schedule_ if schedule is None else schedule
        if isinstance(schedule, Warmup):
            return schedule.schedule, schedule.epochs
        return schedule, 0

    def _compile_kwargs_for_fit(self):
        with warnings.catch_warnings():
            # scikeras builds a throw-away optimizer from the optimizer__ parameters;
            # Keras 3 warns that it ignores decay=, which skhp applies as a schedule.
            warnings.filterwarnings("ignore", message="Argument `decay` is no longer supported")
            compile_kwargs = super()._get_compile_kwargs()
        compile_kwargs["optimizer"] = self._make_optimizer()
        compile_kwargs["steps_per_execution"] = self._steps_per_execution()
        compiled = getattr(self, "_builder_compile", None) or {}
        if self.loss is None:
            compile_kwargs["loss"] = self._fit_loss()
        if self.metrics is None:
            compile_kwargs["metrics"] = (compiled["metrics"] if compiled.get("metrics") is not None
                                         else self._default_metrics())
        if self._encodes_one_hot():
            compile_kwargs["metrics"] = metrics_for_one_hot(compile_kwargs["metrics"])
        return compile_kwargs

    def _encodes_one_hot(self):
        """Whether the model trains on one-hot rows of labels (the classifier's built-in loss)."""
        return False

    def _initialize_callbacks(self):
        super()._initialize_callbacks()
        extra = []
        if isinstance(self.schedule_, EpochFunction) and self.schedule_.acts:
            extra.append(keras.callbacks.LearningRateScheduler(self.schedule_))
        extra.append(LearningRateLogger())  # after every callback that sets the rate
        cycle = self._cycle_momentum(self._optimizer_spec())
        if cycle is not None:
            extra.append(MomentumCycler(cycle))
        stopper = self._stop_rule(self.schedule_).callback()
        if stopper is not None:
            extra.append(stopper)
        first = []
        if not isinstance(self.schedule_, (EpochFunction, Constant)) and self._user_callbacks():
            first.append(ScheduleStepper(self.schedule_))  # the rate is a settable variable
        self._fit_callbacks = first + list(self._fit_callbacks) + extra

    def _validation_fraction(self):
        """The fraction held out: ``validation_split``, or 0.1 with early stopping when None."""
        if self.validation_split is None:
            return 0.1 if self.early_stopping else 0.0
        return float(self.validation_split)

    def _validation_given(self):
        return self._validation_fraction() > 0 or "validation_data" in self._routed("fit")

    def _n_validation(self, n_samples):
        return n_held_out(n_samples, self._validation_fraction())

    def _hold_out_indices(self, n_samples):
        """``(held, kept)``: the fit's seeded random hold-out, and the samples it trains on.

        One rule for the ordinary fit and for a packed slot (``held`` is empty
        without a hold-out).
        """
        n_held = self._n_validation(n_samples)
        if not n_held:
            return np.arange(0), np.arange(n_samples)
        order = np.random.default_rng(self._seed).permutation(n_samples)
        return order[:n_held], np.sort(order[n_held:])

    def _check_schedule_not_over(self):
        """Refuse to continue training past ``epochs`` on a schedule that ends there."""
        main, _ = self._main_schedule()
        if not isinstance(main, (LinearToZero, CosineAnnealing, OneCycle)):
            return  # constant, decays and cycles that go on, functions, callbacks
        done = int(keras.ops.convert_to_numpy(self.model_.optimizer.iterations))
        if done >= self.epochs * self._steps_per_epoch():
            raise ValueError(
                f"training would continue past epochs={self.epochs}, where "
                f"{type(main).__name__} (schedule={self.schedule!r}) has ended at a rate of "
                f"{float(main(done)):.3g}. Raise epochs, or use a schedule that goes on "
                "('constant', 'time', 'exponential', 'ramp', 'restarts' or a function)."
            )


def _is_a(callback, kinds):
    """Whether ``callback`` (an instance, or a class scikeras will instantiate) is one of ``kinds``."""
    return isinstance(callback, kinds) or (isinstance(callback, type) and issubclass(callback, kinds))
