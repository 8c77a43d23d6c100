"""scikit-learn estimators whose Keras training knobs are ordinary parameters.

:class:`KerasClassifier` and :class:`KerasRegressor` extend scikeras' wrappers.
On top of them they build a default MLP when no ``model`` is given, redraw every
kernel from ``initializer``, put ``weight_decay`` on every kernel, compile with a
learning-rate schedule (with optional warm-up) and label smoothing, record the
learning rate of each epoch in ``history_`` and report correct scikit-learn tags
(scikeras 0.13 reports none under scikit-learn >= 1.6, so ``is_classifier`` is
False there and ``cross_val_score`` silently uses plain KFold).
"""

import contextlib
import inspect
import math
from numbers import Integral, Real
import os
import pickle
import random
import warnings

import keras
import numpy as np
import scikeras.wrappers
from scipy import sparse
from scikeras._utils import route_params
from scikeras.utils.transformers import ClassifierLabelEncoder, RegressorTargetEncoder
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.utils import ClassifierTags, compute_sample_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import column_or_1d, validate_data

from skhp._routing import (
    accepted_arguments,
    check_names,
    routed_prefix,
    suggest,
)
from skhp._targets import OneHotLabelEncoder
from skhp._validation import check_choice, check_number
from skhp.callbacks import CycleAwareEarlyStopping, LearningRateLogger, MomentumCycler
from skhp.initializers import apply_initializer, apply_weight_decay, get_initializer, redraw_weights
from skhp.models import build_mlp
from skhp.runtime import PRECISIONS, configure, resolve_device, visible_gpus, worker_index
from skhp.schedules import (
    CosineAnnealing,
    CosineRestarts,
    EpochFunction,
    OneCycle,
    LinearToZero,
    Warmup,
    make_schedule,
)
from skhp.stabilize import StabilizedWeights

__all__ = ["KerasClassifier", "KerasRegressor"]


def _optimizer_names():
    names = set()
    for name in dir(keras.optimizers):
        obj = getattr(keras.optimizers, name)
        if isinstance(obj, type) and issubclass(obj, keras.optimizers.Optimizer):
            if obj is not keras.optimizers.Optimizer and name != "LossScaleOptimizer":
                names.update({name, name.lower()})
    return frozenset(names)


#: Optimizer names accepted by the ``optimizer`` parameter.
OPTIMIZERS = _optimizer_names()


def _optimizer_class(optimizer):
    if isinstance(optimizer, str):
        check_choice(optimizer, "optimizer", OPTIMIZERS)
        return type(keras.optimizers.get(optimizer)), {}
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


def _seed_from(random_state):
    """An int seed (or None) from an int, a RandomState (left unchanged) or None."""
    if isinstance(random_state, np.random.RandomState):
        copy = np.random.RandomState()
        copy.set_state(random_state.get_state())
        return int(copy.randint(2**31 - 1))
    if random_state is None:
        return None
    return int(check_number(random_state, "random_state", low=0, integer=True))


@contextlib.contextmanager
def _seeded(seed):
    """Seed Python, NumPy and Keras for one fit; give Python and NumPy their state back."""
    if seed is None:
        yield
        return
    python_state, numpy_state = random.getstate(), np.random.get_state()
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


_PARAMS_DOC = """
    Parameters
    ----------
    model : callable, keras.Model or None, default=None
        A builder function returning a Keras model (it may take ``meta``, the
        fitted data facts such as ``n_features_in_`` and ``n_classes_``, and any
        ``model__<name>`` parameter), or a Keras model. None builds an MLP from
        ``hidden_layer_sizes`` and ``activation`` (for 2-d X). The estimator
        compiles the model itself, so the optimizer, schedule and loss below
        always apply. A Keras model passed here is never trained itself: each
        fit trains a copy (``keras.models.clone_model``) that starts from the
        model's weights as you passed it, so folds and clones do not leak.
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Hidden layers of the built-in MLP.
    activation : str, default="relu"
        Hidden-layer activation of the built-in MLP (any Keras activation name).
    initializer : str, dict, keras.initializers.Initializer or None, default=None
        Kernel initializer of every layer with a kernel (user-built models
        included): any Keras initializer name such as ``"he_normal"`` or
        ``"glorot_uniform"``. None keeps the kernels as the model built them.
    optimizer : str, keras Optimizer class or instance, default="adam"
        The optimizer; ``optimizer__<name>`` parameters are passed to it.
    learning_rate : float or "auto", default=1e-3
        Initial learning rate of the main phase (the peak for 1cycle), > 0.
        ``"auto"`` runs :func:`skhp.lr_find` on the training data first and
        uses its suggestion (kept in ``learning_rate_`` and ``lr_find_``).
    momentum : float or None, default=None
        Momentum for SGD and RMSprop, ``beta_1`` for the Adam family, in [0, 1).
        None keeps the optimizer's default.
    batch_size : int or None, default=None
        Minibatch size; None means 32 below 50,000 samples, else 256.
    epochs : int, default=10
        Training epochs, warm-up included.
    warmup : int, default=0
        Warm-up epochs at the start of training (0 = none): the learning rate
        rises linearly from ``warmup_lr`` to ``learning_rate``, then the
        schedule runs over the remaining epochs.
    warmup_lr : float, default=1e-5
        Learning rate at the start of warm-up, > 0 and not above ``learning_rate``.
    lottery : int, default=0
        Lottery draws (0 or 1 = none): ``fit`` gives the built model this many
        different random draws of weights (seeds derived from
        ``random_state``), trains each briefly, keeps the one with the lowest
        training loss and trains it fully. The model is built and compiled
        once; each draw only redraws its weights.
    lottery_epochs : int, default=3
        Epochs of each draw's brief training.
    lottery_steps : int or None, default=None
        Optimizer steps per lottery epoch, on one random subset of the
        training data shared by all draws; None means 100 or one epoch's
        worth of batches, whichever is smaller.
    lottery_lr : float, default=1e-4
        Constant learning rate of the draws' brief training, > 0.
    initial_weights : StabilizedWeights, str or None, default=None
        Weights to start from instead of a random draw (see
        :func:`skhp.stabilize`): a :class:`skhp.StabilizedWeights` or the path of
        an ``.npz`` file it saved. They must fit the model's architecture;
        ``lottery`` is skipped when they are given.
    schedule : str, keras LearningRateSchedule, callable or None, default=None
        Learning-rate schedule after warm-up: a name from
        :data:`skhp.schedules.SCHEDULES` (``"constant"``, ``"time"``,
        ``"exponential"``, ``"ramp"``, ``"linear"``, ``"cosine"``,
        ``"restarts"``, ``"onecycle"``), with arguments as
        ``schedule__<name>`` parameters (e.g. ``schedule__alpha=0.1``), or a
        schedule object, or a function ``fn(epoch, lr)`` with exactly the
        semantics of :class:`keras.callbacks.LearningRateScheduler` (see
        :class:`skhp.schedules.EpochFunction`). None is a constant rate.
        A ``LearningRateScheduler`` or ``ReduceLROnPlateau`` in ``callbacks``
        drives the rate itself (then leave ``schedule`` None). ``"linear"``,
        ``"cosine"`` and ``"onecycle"`` end at ``epochs``: continuing past it
        (``partial_fit``, ``warm_start``) raises an error rather than training
        at their final, near-zero rate. ``optimizer__decay=k``, Keras 2's
        legacy argument, is honoured as ``schedule="time"`` with
        ``schedule__per="iteration"``.
    weight_decay : float, default=0.0
        L2 penalty factor on every kernel, >= 0.
    early_stopping : int, default=0
        Patience in epochs (0 = off); monitors ``val_loss`` on the held-out
        data (see ``validation_split``) and restores the best weights.
        With a cyclic schedule (``"restarts"``, ``"onecycle"``) the stop
        happens only at the end of a cycle, where the learning rate is lowest
        (see :class:`skhp.callbacks.CycleAwareEarlyStopping`).
    validation_split : float or None, default=None
        Fraction of the training data held out (a seeded random subset) for
        validation metrics, in [0, 1). None means 0.1 when ``early_stopping``
        is set, else 0; 0 with early stopping monitors the training loss.
    loss : str, keras Loss or None, default=None
        None uses the built-in loss ({loss_default}).
    metrics : list or None, default=None
        Keras metrics; None means {metrics_default}.
    callbacks : list or None, default=None
        Extra Keras callbacks.
    steps_per_execution : int or None, default=None
        Optimizer steps run per call into the compiled training function. Small
        networks spend most of a step in per-call overhead, so None runs up to
        32 steps at a time (one epoch at most; 1 with 1cycle's per-step momentum
        and whenever a ``callbacks`` entry may act per batch).
    device : {{"auto", "cpu", "gpu"}} or "gpu:N", default="auto"
        Where to train: ``"auto"`` takes a GPU when there is one (parallel
        workers are spread over the GPUs round-robin), else the CPU; ``"gpu"``
        requires one; ``"gpu:N"`` names it. See :mod:`skhp.runtime`.
    precision : {{"float32", "mixed_float16", "mixed_bfloat16"}}, default="float32"
        Keras dtype policy while the model is built; the mixed policies compute
        in half precision with float32 weights and a float32 output layer
        (``mixed_float16`` with loss scaling), for GPUs with tensor cores.
    random_state : int, RandomState or None, default=None
        Seed for weights, shuffling and dropout; a fixed value makes fits identical.
    verbose : int, default=0
        Keras' verbosity during fit.
    warm_start : bool, default=False
        Keep the trained model between calls to ``fit``.
    **kwargs
        Routed parameters in scikeras' form: ``model__``, ``optimizer__``,
        ``fit__``, ``predict__``, ``schedule__`` and so on.
"""

_ATTRIBUTES_DOC = """
    Attributes
    ----------
    model_ : keras.Model
        The trained model.
    history_ : dict of list
        Per-epoch ``loss``, metrics, ``val_*`` values and ``lr``, the learning
        rate in force at the start of each epoch (with 1cycle also
        ``momentum``).
    schedule_ : keras LearningRateSchedule
        The learning-rate schedule used, warm-up included.
    learning_rate_ : float
        The learning rate used (found by the LR range test for ``"auto"``).
    device_ : str
        The device the model was trained on, e.g. ``"cpu:0"`` or ``"gpu:1"``.
    lottery_losses_ : ndarray
        Training loss of every lottery draw after its brief training (when
        ``lottery`` >= 2).
    lottery_best_ : int
        Index of the draw kept, the argmin of ``lottery_losses_``.
    n_features_in_ : int
        Number of features seen in fit.
"""


class _SkhpEstimatorMixin:
    """Machinery shared by the skhp estimators; comes first in their bases."""

    _parameter_constraints = {
        # open sets of values, checked in _check_params with suggestions
        **{name: "no_validation" for name in (
            "model", "hidden_layer_sizes", "activation", "initializer", "optimizer", "schedule",
            "loss", "metrics", "callbacks", "device")},
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "momentum": [Interval(Real, 0, 1, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "warmup": [Interval(Integral, 0, None, closed="left")],
        "warmup_lr": [Interval(Real, 0, None, closed="neither")],
        "lottery": [Interval(Integral, 0, None, closed="left")],
        "lottery_epochs": [Interval(Integral, 1, None, closed="left")],
        "lottery_steps": [Interval(Integral, 1, None, closed="left"), None],
        "lottery_lr": [Interval(Real, 0, None, closed="neither")],
        "initial_weights": [StabilizedWeights, str, os.PathLike, None],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "early_stopping": [Interval(Integral, 0, None, closed="left")],
        "validation_split": [Interval(Real, 0, 1, closed="left"), None],
        "steps_per_execution": [Interval(Integral, 1, None, closed="left"), None],
        "precision": [StrOptions(set(PRECISIONS))],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    build_fn = None  # scikeras reads it; skhp takes builders through ``model`` only
    _routing_prefixes = scikeras.wrappers.BaseWrapper._routing_prefixes | {"schedule", "callbacks"}
    __repr__ = BaseEstimator.__repr__

    def _init_params(self, arguments):
        """Store the constructor ``arguments`` (its ``locals()``) exactly as given."""
        arguments = dict(arguments)
        kwargs = arguments.pop("kwargs")
        arguments.pop("self")
        vars(self).update(arguments, **kwargs)
        if kwargs:
            self._user_params = set(kwargs)

    def __getstate__(self):
        model = self.model
        if callable(model) and not isinstance(model, keras.Model):
            name = getattr(model, "__qualname__", "")
            if "<lambda>" in name or "<locals>" in name:
                raise pickle.PicklingError(
                    f"model={name} cannot travel to parallel workers (n_jobs, Dask) or be "
                    "pickled: a lambda or a function defined inside another function has no "
                    "importable name. Define the builder as a module-level function "
                    "(def build_model(meta): ...) and pass that."
                )
        return super().__getstate__()

    @classmethod
    def _declared_params(cls):
        return {p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")}

    def _get_param_names(self):
        # Routed parameters count wherever they came from (constructor or
        # set_params), so that get_params, clone and the searches keep them.
        routed = {k for k in vars(self) if routed_prefix(k, self._routing_prefixes)}
        return sorted(self._declared_params() | getattr(self, "_user_params", set()) | routed)

    def _routed(self, destination):
        """The ``destination__<name>`` parameters, without their prefix."""
        return route_params(self.get_params(), destination=destination, pass_filter=set(), strict=True)

    # -- validation ---------------------------------------------------------

    def _check_params(self):
        """Validate every parameter; runs in ``fit`` before anything is built.

        Single parameters follow ``_parameter_constraints`` (scikit-learn's
        messages); names with open sets of values (initializer, optimizer,
        schedule, activation, device) get their own checks with the closest
        valid name suggested; then the rules that tie two parameters.
        """
        self._validate_params()
        if self.model is not None and not (
            callable(self.model) or isinstance(self.model, keras.Model)
        ):
            raise TypeError(f"model must be a builder function or a keras.Model, got {self.model!r}.")
        self._check_keywords()
        try:
            for units in self._hidden_sizes():
                check_number(units, "hidden_layer_sizes", low=1, integer=True)
        except TypeError:
            raise TypeError(
                f"hidden_layer_sizes must be a positive int or a sequence of them, got {self.hidden_layer_sizes!r}."
            ) from None
        try:
            keras.activations.get(self.activation)
        except (ValueError, TypeError):
            raise ValueError(
                f"activation={self.activation!r} is not a Keras activation "
                "(e.g. 'relu', 'tanh', 'gelu', 'sigmoid', 'elu', 'selu')."
            ) from None
        if self.initializer is not None:
            get_initializer(self.initializer)
        _optimizer_class(self.optimizer)
        if self.momentum is not None:
            self._momentum_argument()
        if self.warmup > self.epochs:
            raise ValueError(
                f"warmup ({self.warmup}) must not exceed epochs ({self.epochs}): warm-up "
                "epochs are part of training."
            )
        if self.warmup and self.learning_rate != "auto" and self.warmup_lr > self.learning_rate:
            raise ValueError(
                f"warmup_lr ({self.warmup_lr}) must not be above learning_rate "
                f"({self.learning_rate}): warm-up rises from warmup_lr to learning_rate."
            )
        # Building a throw-away schedule validates the name and its arguments.
        lr = 1.0 if self.learning_rate == "auto" else self.learning_rate
        self._make_learning_rate(lr, steps_per_epoch=1, warmup_lr=min(self.warmup_lr, lr))
        resolve_device(self.device, n_gpus=visible_gpus())

    def _builder(self):
        """The user's builder function, or None (built-in MLP or a built keras.Model)."""
        if self.model is None or isinstance(self.model, keras.Model):
            return None
        return self.model

    def check_parameters(self):
        """Validate every parameter without building or training anything.

        Raises what ``fit`` would raise first: a ``ValueError`` or
        ``TypeError`` naming the parameter and what it allows.

        Examples
        --------
        >>> KerasClassifier(learning_rate=-1.0).check_parameters()
        Traceback (most recent call last):
        ...
        sklearn.utils._param_validation.InvalidParameterError: The 'learning_rate' parameter of KerasClassifier must be a float in the range (0.0, inf) or a str among {'auto'}. Got -1.0 instead.
        """
        configure()  # checking the device may start TensorFlow
        self._check_params()

    def check_parameter_names(self):
        """Refuse parameter names that reach nothing, as ``fit`` does first.

        A keyword that is neither a parameter nor a routed ``prefix__name``
        whose destination takes it (the builder, the optimizer, Keras' ``fit``
        or ``predict``) raises a ``ValueError`` naming it, with the closest
        known name. The searches call this before any training.

        Examples
        --------
        >>> KerasClassifier(lerning_rate=0.1).check_parameter_names()
        Traceback (most recent call last):
        ...
        ValueError: KerasClassifier got an unknown parameter 'lerning_rate'. Did you mean 'learning_rate'? ...
        """
        self._check_keywords()

    def _check_keywords(self):
        """Refuse keywords that reach nothing: misspelled names and unknown routed ones."""
        declared = self._declared_params()
        builder = self._builder()
        builder_args = accepted_arguments(builder) if builder is not None else set()
        prefixes = sorted(self._routing_prefixes)
        for name in self.get_params():
            if name in declared or routed_prefix(name, self._routing_prefixes):
                continue
            if builder_args is None or name in builder_args:
                continue  # scikeras passes unprefixed extras to the builder that takes them
            raise ValueError(
                f"{type(self).__name__} got an unknown parameter {name!r}.{suggest(name, declared)} "
                f"Its parameters are {sorted(declared)}; routed parameters are written "
                f"prefix__name with a prefix in {prefixes} (e.g. optimizer__nesterov=True)."
            )
        model_args = self._routed("model")
        if model_args:
            if builder is None:
                what = "the built-in MLP" if self.model is None else "a built keras.Model"
                raise ValueError(
                    f"model__{sorted(model_args)[0]}: model__ parameters go to a builder function, "
                    f"but model={self.model!r} is {what}, which takes none. Pass "
                    "model=<a function taking these arguments>; the built-in MLP is shaped by "
                    "hidden_layer_sizes and activation."
                )
            check_names(model_args, builder_args, f"the builder {builder.__name__}", "model")
        cls, _ = _optimizer_class(self.optimizer)
        if "learning_rate" in self._routed("optimizer"):
            raise ValueError("optimizer__learning_rate: set the estimator's learning_rate instead.")
        optimizer_args = (accepted_arguments(cls.__init__, named_only=True) - {"learning_rate"}) | {"decay"}
        check_names(self._routed("optimizer"), optimizer_args, f"optimizer {cls.__name__}", "optimizer")
        check_names(self._routed("fit"), accepted_arguments(keras.Model.fit) - {"x", "y"},
                    "keras.Model.fit", "fit")
        check_names(self._routed("predict"), accepted_arguments(keras.Model.predict) - {"x"},
                    "keras.Model.predict", "predict")

    def _momentum_argument(self):
        """The optimizer argument that ``momentum`` sets: momentum or beta_1."""
        cls, _ = _optimizer_class(self.optimizer)
        accepted = inspect.signature(cls.__init__).parameters
        for name in ("momentum", "beta_1"):
            if name in accepted:
                return name
        raise ValueError(
            f"momentum is set but optimizer {cls.__name__} has no momentum; use it "
            "with SGD, RMSprop or the Adam family, or leave momentum=None."
        )

    def _fit(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        self._new_model = not ((self.warm_start or warm_start) and self.initialized_)
        self._prepare(X, y, self._new_model)
        if not self._new_model:
            self._check_schedule_not_over()
        sample_weight = self._weights_for(y, sample_weight, kwargs)
        with _seeded(self._seed), self._placed():
            super()._fit(X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs)

    def _weights_for(self, y, sample_weight, fit_kwargs):
        """The sample weights to train with (the classifier adds its class weights)."""
        return sample_weight

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

    def _prepare(self, X, y, new_model):
        """Check the parameters; for a new model, fix its seed, device and learning rate."""
        configure()  # first: checking the parameters may already start TensorFlow
        self._check_params()
        if new_model:
            keras.backend.clear_session()  # trials in one process do not pile up graphs
            self._seed = _seed_from(self.random_state)
            self.device_ = resolve_device(self.device, visible_gpus(), worker_index())
            self._resolve_learning_rate(X, y)

    @contextlib.contextmanager
    def _placed(self):
        """Run on ``device_``, building layers under the ``precision`` policy."""
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.precision)
        try:
            with keras.device(self.device_):
                yield
        finally:
            keras.config.set_dtype_policy(previous)

    def initialize(self, X, y=None):
        """Build and compile the model for ``X`` and ``y`` without training it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,) or None
            Targets.

        Returns
        -------
        self
        """
        self._prepare(X, y, new_model=True)
        with _seeded(self._seed), self._placed():
            return super().initialize(X, y)

    # scikeras seeds inside a context that can leave TensorFlow's op determinism
    # switched on after it exits, which breaks later unseeded fits; skhp seeds
    # each fit itself (see ``_seeded``), so scikeras is always told "no seed".
    @property
    def _random_state(self):
        return None

    @_random_state.setter
    def _random_state(self, value):
        pass

    def _validate_data(self, X=None, y=None, reset=False, y_numeric=False):
        if len(getattr(X, "shape", ())) >= 2 and (reset or hasattr(self, "n_features_in_")):
            # feature_names_in_ from a DataFrame, and the same columns at predict
            validate_data(self, X, reset=reset, skip_check_array=True)
        if X is not None:
            # Keras trains in float32 and its sparse path rejects some scipy
            # formats, so numeric X becomes a dense float32 array here.
            X = X.toarray() if sparse.issparse(X) else np.asarray(X)
            if X.dtype.kind in "biuf":
                X = X.astype(keras.backend.floatx(), copy=False)
            if not reset and X.ndim > 1 and hasattr(self, "n_features_in_"):
                if X.shape[1] != self.n_features_in_:
                    raise ValueError(
                        f"X has {X.shape[1]} features, but {type(self).__name__} is "
                        f"expecting {self.n_features_in_} features as input."
                    )
        return super()._validate_data(X, y, reset=reset, y_numeric=y_numeric)

    # -- building -----------------------------------------------------------

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        return [sizes] if isinstance(sizes, (int, np.integer)) else list(sizes)

    def _check_model_param(self):
        if self.model is None:
            return self._build_default_model
        if isinstance(self.model, keras.Model):
            return self._copy_of_user_model
        return super()._check_model_param()

    def _copy_of_user_model(self):
        """A copy of the ``model`` instance with its weights: the user's object is never trained."""
        try:
            copy = keras.models.clone_model(self.model)
        except Exception as error:
            raise TypeError(
                f"model={type(self.model).__name__}(...) could not be copied for training "
                f"({error}); skhp trains a copy so that every fit starts from the same "
                "weights. Pass a builder function instead (def build(meta): ... return model)."
            ) from error
        copy.set_weights(self.model.get_weights())
        return copy

    def _mlp_input_shape(self, meta):
        """The sample shape for the built-in MLP, which takes 2-d X only."""
        shape = meta["X_shape_"]
        if len(shape) != 2:
            raise ValueError(
                f"X has shape {shape}, but the built-in MLP (model=None) takes 2-d X of shape "
                "(n_samples, n_features). Reshape X, or pass model=<a builder function> whose "
                "model takes samples of that shape."
            )
        return shape[1:]

    def _build_keras_model(self):
        model = super()._build_keras_model()
        seed = self._seed
        if self.initializer is not None:
            apply_initializer(model, self.initializer, seed)
        if self.initial_weights is not None:
            weights = self.initial_weights
            if not isinstance(weights, StabilizedWeights):
                weights = StabilizedWeights.load(weights)
            weights.apply_to(model)
        apply_weight_decay(model, self.weight_decay)
        model.compile(**self._compile_kwargs_for_fit())
        return model

    def _batch_size_for(self, n_samples):
        if self.batch_size is not None:
            return int(self.batch_size)
        return 32 if n_samples < 50_000 else 256

    def _steps_per_epoch(self):
        n_samples = self.X_shape_[0]
        n_train = n_samples - self._n_validation(n_samples)
        return max(1, int(math.ceil(n_train / self._batch_size_for(n_samples))))

    def _steps_per_execution(self):
        if self.steps_per_execution is not None:
            return int(min(self.steps_per_execution, self._steps_per_epoch()))
        main, _ = self._main_schedule()
        if isinstance(main, OneCycle) or self.callbacks:
            return 1  # per-step momentum, and callbacks that may act per batch
        return int(min(32, self._steps_per_epoch()))

    def _function_schedule(self):
        """The user's ``fn(epoch, lr)`` schedule, or None."""
        schedule = self.schedule
        if callable(schedule) and not isinstance(schedule, (str, type, keras.optimizers.schedules.LearningRateSchedule)):
            return schedule
        return None

    def _lr_callbacks(self):
        """The user's callbacks that set the learning rate themselves."""
        kinds = (keras.callbacks.LearningRateScheduler, keras.callbacks.ReduceLROnPlateau)
        found = []
        for source in (self.callbacks, self._routed("fit").get("callbacks")):
            items = list(source.values()) if isinstance(source, dict) else source
            if not isinstance(items, (list, tuple)):
                items = [] if items is None else [items]
            for item in items:
                for cb in item if isinstance(item, (list, tuple)) else [item]:
                    if isinstance(cb, kinds) or (isinstance(cb, type) and issubclass(cb, kinds)):
                        found.append(cb)
        return found

    def _make_learning_rate(self, learning_rate, steps_per_epoch, warmup_lr):
        routed = self._routed("schedule")
        legacy_decay = self._routed("optimizer").get("decay")
        function, lr_callbacks = self._function_schedule(), self._lr_callbacks()
        if function is not None or lr_callbacks:
            # A per-epoch callback sets the rate: the optimizer gets a plain,
            # settable rate and the callback (plus warm-up, if any) drives it.
            names = ", ".join(type(cb).__name__ if not isinstance(cb, type) else cb.__name__
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
            if self.warmup and any(
                isinstance(cb, keras.callbacks.LearningRateScheduler)
                or (isinstance(cb, type) and issubclass(cb, keras.callbacks.LearningRateScheduler))
                for cb in lr_callbacks
            ):
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

    def _resolve_learning_rate(self, X, y):
        """Set ``learning_rate_``, running the LR range test for ``learning_rate="auto"``."""
        if self.learning_rate == "auto":
            from skhp.lr_find import lr_find

            self.lr_find_ = lr_find(clone(self).set_params(learning_rate=1e-3), X, y)
            self.learning_rate_ = self.lr_find_.suggestion
        else:
            self.learning_rate_ = self.learning_rate

    def _make_optimizer(self):
        cls, config = _optimizer_class(self.optimizer)
        config.update({k: v for k, v in self._routed("optimizer").items() if k != "decay"})
        if self.momentum is not None:
            config[self._momentum_argument()] = self.momentum
        # With learning_rate="auto" warm-up still starts below the found rate.
        warmup_lr = min(self.warmup_lr, self.learning_rate_)
        self.schedule_ = self._make_learning_rate(self.learning_rate_, self._steps_per_epoch(), warmup_lr)
        main, _ = self._main_schedule()
        if isinstance(main, OneCycle) and "momentum" in inspect.signature(cls.__init__).parameters:
            # The optimizer must be built with momentum on for 1cycle to move it.
            config["momentum"] = main.max_momentum
        settable = isinstance(self.schedule_, EpochFunction)
        config["learning_rate"] = float(self.learning_rate_) if settable else self.schedule_
        return cls.from_config(config)

    def _main_schedule(self):
        """The schedule after warm-up, and the warm-up's length in epochs."""
        if isinstance(self.schedule_, Warmup):
            return self.schedule_.schedule, self.schedule_.epochs
        return self.schedule_, 0

    def _compile_kwargs_for_fit(self):
        with warnings.catch_warnings():
            # scikeras builds a throw-away optimizer from the optimizer__ parameters;
            # Keras 3 warns that it ignores decay=, which skhp applies as a schedule.
            warnings.filterwarnings("ignore", message="Argument `decay` is no longer supported")
            compile_kwargs = super()._get_compile_kwargs()
        compile_kwargs["optimizer"] = self._make_optimizer()
        compile_kwargs["steps_per_execution"] = self._steps_per_execution()
        if self.loss is None:
            compile_kwargs["loss"] = self._default_loss()
        if self.metrics is None:
            compile_kwargs["metrics"] = self._default_metrics()
        return compile_kwargs

    # -- training -----------------------------------------------------------

    def _initialize_callbacks(self):
        super()._initialize_callbacks()
        extra = []
        if isinstance(self.schedule_, EpochFunction) and self.schedule_.acts:
            extra.append(keras.callbacks.LearningRateScheduler(self.schedule_))
        extra.append(LearningRateLogger())  # after every callback that sets the rate
        main, warmup_epochs = self._main_schedule()
        if isinstance(main, OneCycle):
            offset = int(warmup_epochs * main.steps_per_epoch)
            extra.append(MomentumCycler(main, offset=offset))
        if self.early_stopping:
            stopper = dict(
                monitor="val_loss" if self._validation_given() else "loss",
                patience=self.early_stopping,
                restore_best_weights=True,
            )
            if isinstance(main, (CosineRestarts, OneCycle)):
                starts = main.cycle_starts(self.epochs - warmup_epochs) if isinstance(main, CosineRestarts) else [0]
                ends = [warmup_epochs + s for s in starts[1:]] + [self.epochs]
                extra.append(CycleAwareEarlyStopping(ends, **stopper))
            else:
                extra.append(keras.callbacks.EarlyStopping(**stopper))
        self._fit_callbacks = list(self._fit_callbacks) + extra

    def _validation_fraction(self):
        """The fraction held out: ``validation_split``, or 0.1 with early stopping when None."""
        if self.validation_split is None:
            return 0.1 if self.early_stopping else 0.0
        return float(self.validation_split)

    def _validation_given(self):
        return self._validation_fraction() > 0 or "validation_data" in self._routed("fit")

    def _n_validation(self, n_samples):
        fraction = self._validation_fraction()
        return min(max(1, int(round(n_samples * fraction))), n_samples - 1) if fraction else 0

    def _hold_out(self, X, y, sample_weight):
        """Split a seeded random validation set off the training data."""
        order = np.random.default_rng(self._seed).permutation(len(X))
        held, kept = order[: self._n_validation(len(X))], np.sort(order[self._n_validation(len(X)):])
        validation = (X[held], y[held]) if sample_weight is None else (X[held], y[held], sample_weight[held])
        sample_weight = None if sample_weight is None else sample_weight[kept]
        return X[kept], y[kept], sample_weight, validation

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        kwargs.setdefault("batch_size", self._batch_size_for(self.X_shape_[0]))
        kwargs["validation_split"] = 0.0
        if self._validation_fraction() and "validation_data" not in kwargs:
            if isinstance(X, np.ndarray) and isinstance(y, np.ndarray):
                X, y, sample_weight, kwargs["validation_data"] = self._hold_out(X, y, sample_weight)
            else:  # lists or dicts of arrays: Keras' own split (the last samples)
                kwargs["validation_split"] = self._validation_fraction()
        if self._new_model and self.lottery >= 2 and self.initial_weights is None:
            self._draw_lottery(X, y, kwargs["batch_size"])
            if getattr(self, "_lottery_only", False):
                self.history_ = {}
                return
        super()._fit_keras_model(X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs)
        self.history_ = dict(self.history_)

    def _draw_lottery(self, X, y, batch_size):
        """Train ``lottery`` draws of weights briefly; keep the lowest training loss.

        One model, compiled once for the draws (constant ``lottery_lr``) and once
        more for the real training: each draw only redraws the weights and
        resets the optimizer's state.
        """
        model = self.model_
        n_batches = int(math.ceil(len(X) / batch_size))
        steps = self.lottery_steps or min(100, n_batches)
        rng = np.random.default_rng(self._seed)
        subset = rng.permutation(len(X))[: steps * batch_size]  # the same data for every draw
        X_draw, y_draw = X[subset], y[subset]
        cls, config = _optimizer_class(self.optimizer)
        config.update(learning_rate=float(self.lottery_lr))
        model.compile(**{**self._compile_kwargs_for_fit(), "optimizer": cls.from_config(config)})
        model.optimizer.build(model.trainable_variables)
        fresh_state = [v.numpy() for v in model.optimizer.variables]
        losses, best = [], None
        for draw in range(self.lottery):
            if draw:
                seed = None if self._seed is None else int(
                    np.random.SeedSequence([self._seed, draw]).generate_state(1)[0] % 2**30)
                redraw_weights(model, self.initializer, seed)
                for variable, value in zip(model.optimizer.variables, fresh_state):
                    variable.assign(value)
            history = model.fit(X_draw, y_draw, batch_size=batch_size, epochs=self.lottery_epochs,
                                verbose=0, shuffle=True)
            loss = float(history.history["loss"][-1])
            losses.append(loss)
            if math.isfinite(loss) and (best is None or loss < losses[best]):
                best, best_weights = draw, model.get_weights()
        if best is None:
            raise ValueError(
                f"every one of the {self.lottery} lottery draws diverged (non-finite "
                f"training loss) at lottery_lr={self.lottery_lr}; lower lottery_lr."
            )
        model.set_weights(best_weights)
        model.compile(**self._compile_kwargs_for_fit())
        self.lottery_losses_ = np.array(losses)
        self.lottery_best_ = best


class KerasClassifier(_SkhpEstimatorMixin, ClassifierMixin, scikeras.wrappers.BaseWrapper):
    __doc__ = (
        """A Keras classifier whose training hyperparameters are estimator parameters.

    It works wherever a scikit-learn classifier does: pipelines,
    ``cross_val_score`` (stratified folds), ``GridSearchCV``, ``roc_auc``
    scoring, ``CalibratedClassifierCV``. Labels may be any values (integers,
    strings); ``predict`` returns them and ``predict_proba`` gives one column
    per class in ``classes_`` order. A user's model must end in a softmax
    layer of ``meta["n_classes_"]`` units unless a ``loss`` of its own is given.
"""
        + _PARAMS_DOC.format(
            loss_default="categorical cross-entropy with label smoothing on one-hot targets",
            metrics_default='["accuracy"]',
        )
        + """    smoothing : float, default=0.0
        Label smoothing α in [0, 1): the true class's target becomes
        1 − α + α/K and every other class's α/K (K classes).
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, as in scikit-learn.
"""
        + _ATTRIBUTES_DOC
        + """    classes_ : ndarray
        The class labels.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = KerasClassifier(hidden_layer_sizes=(16,), epochs=3, smoothing=0.1,
    ...                       initializer="he_normal", random_state=0)
    >>> clf.fit(X, y).predict(X[:3]).shape
    (3,)
    >>> sorted(clf.history_)
    ['accuracy', 'loss', 'lr']
"""
    )

    def __init__(
        self,
        model=None,
        *,
        hidden_layer_sizes=(100,),
        activation="relu",
        initializer=None,
        optimizer="adam",
        learning_rate=1e-3,
        momentum=None,
        batch_size=None,
        epochs=10,
        warmup=0,
        warmup_lr=1e-5,
        lottery=0,
        lottery_epochs=3,
        lottery_steps=None,
        lottery_lr=1e-4,
        initial_weights=None,
        schedule=None,
        smoothing=0.0,
        weight_decay=0.0,
        early_stopping=0,
        validation_split=None,
        loss=None,
        metrics=None,
        callbacks=None,
        class_weight=None,
        steps_per_execution=None,
        device="auto",
        precision="float32",
        random_state=None,
        verbose=0,
        warm_start=False,
        **kwargs,
    ):
        self._init_params(locals())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags = ClassifierTags(multi_class=True, multi_label=False)
        tags.input_tags.sparse = True
        return tags

    _parameter_constraints = {
        **_SkhpEstimatorMixin._parameter_constraints,
        "smoothing": [Interval(Real, 0, 1, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def _check_params(self):
        super()._check_params()
        if self.smoothing and self.loss is not None:
            raise ValueError(
                "smoothing applies to the built-in loss (loss=None); with a loss of your "
                "own set smoothing=0, e.g. pass keras.losses.CategoricalCrossentropy(label_smoothing=...)."
            )

    # class_weight becomes sample weights in _fit instead of going to Keras.
    _fit_kwargs = scikeras.wrappers.BaseWrapper._fit_kwargs - {"class_weight"}

    @property
    def target_encoder(self):
        classes = getattr(self, "_partial_fit_classes", None)
        if self.loss is not None:
            categories = "auto" if classes is None else [np.asarray(classes)]
            return ClassifierLabelEncoder(loss=self.loss, categories=categories)
        return OneHotLabelEncoder(classes=classes)

    def fit(self, X, y, sample_weight=None, **kwargs):
        self._partial_fit_classes = None
        return super().fit(X, y, sample_weight=sample_weight, **kwargs)

    def partial_fit(self, X, y, classes=None, sample_weight=None, **kwargs):
        """Train one epoch, continuing from the current model (built on the first call).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like or None
            All classes; needed on the first call when ``y`` does not show them all.
        sample_weight : array-like of shape (n_samples,) or None
            Per-sample weights.

        Returns
        -------
        self
        """
        if not self.initialized_:
            self._partial_fit_classes = classes
        return super().partial_fit(X, y, sample_weight=sample_weight, **kwargs)

    def _validate_data(self, X=None, y=None, reset=False, y_numeric=False):
        if y is not None and np.asarray(y).ndim == 2 and np.shape(y)[1] == 1:
            y = column_or_1d(y, warn=True)
        return super()._validate_data(X, y, reset=reset, y_numeric=y_numeric)

    def _weights_for(self, y, sample_weight, fit_kwargs):
        # fit(X, y, class_weight=...) as Keras users write it, or the parameter
        class_weight = fit_kwargs.pop("class_weight", self.class_weight)
        if class_weight is None:
            return sample_weight
        weights = compute_sample_weight(class_weight, column_or_1d(y))
        return weights if sample_weight is None else np.asarray(sample_weight) * weights

    def predict_proba(self, X):
        """Probability of each class in ``classes_`` order, shape (n_samples, n_classes).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        raw = self._predict_raw(X)
        return self.target_encoder_.inverse_transform(raw, return_proba=True)

    def _build_default_model(self, meta):
        return build_mlp(
            self._mlp_input_shape(meta),
            meta["n_classes_"],
            self._hidden_sizes(),
            self.activation,
            output_activation="softmax",
        )

    def _default_loss(self):
        return keras.losses.CategoricalCrossentropy(label_smoothing=float(self.smoothing))

    def _default_metrics(self):
        return ["accuracy"]


class KerasRegressor(_SkhpEstimatorMixin, RegressorMixin, scikeras.wrappers.BaseWrapper):
    __doc__ = (
        """A Keras regressor whose training hyperparameters are estimator parameters.

    It works wherever a scikit-learn regressor does; ``score`` is R².
    ``y`` may have one column or several (one output unit each).
"""
        + _PARAMS_DOC.format(loss_default="mean squared error", metrics_default="none")
        + _ATTRIBUTES_DOC
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = KerasRegressor(hidden_layer_sizes=(16,), epochs=2, random_state=0)
    >>> reg.fit(X, y).predict(X[:3]).shape
    (3,)
"""
    )

    def __init__(
        self,
        model=None,
        *,
        hidden_layer_sizes=(100,),
        activation="relu",
        initializer=None,
        optimizer="adam",
        learning_rate=1e-3,
        momentum=None,
        batch_size=None,
        epochs=10,
        warmup=0,
        warmup_lr=1e-5,
        lottery=0,
        lottery_epochs=3,
        lottery_steps=None,
        lottery_lr=1e-4,
        initial_weights=None,
        schedule=None,
        weight_decay=0.0,
        early_stopping=0,
        validation_split=None,
        loss=None,
        metrics=None,
        callbacks=None,
        steps_per_execution=None,
        device="auto",
        precision="float32",
        random_state=None,
        verbose=0,
        warm_start=False,
        **kwargs,
    ):
        self._init_params(locals())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags

    def _build_default_model(self, meta):
        return build_mlp(
            self._mlp_input_shape(meta),
            meta["n_outputs_"],
            self._hidden_sizes(),
            self.activation,
        )

    @property
    def target_encoder(self):
        return RegressorTargetEncoder()

    def _validate_data(self, X=None, y=None, reset=False, y_numeric=False):
        return super()._validate_data(X, y, reset=reset, y_numeric=True)

    def predict(self, X):
        """Predicted targets, as float64 like every scikit-learn regressor.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        return np.asarray(super().predict(X), dtype=np.float64)

    def _default_loss(self):
        return "mse"

    def _default_metrics(self):
        return None
