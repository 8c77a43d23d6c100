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
import functools
import os
import pickle
import warnings
from numbers import Integral, Real

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import keras
import numpy as np
import scikeras.wrappers
from scipy import sparse
from scikeras.utils.transformers import ClassifierLabelEncoder, RegressorTargetEncoder
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils import ClassifierTags, compute_sample_weight
from sklearn.utils.validation import column_or_1d, validate_data

from skhp._inputs import InputSplitter
from skhp._parameter_docs import shared_docs
from skhp._routing import RoutedParameters
from skhp._sklearn import Interval, StrOptions
from skhp._targets import OneHotLabelEncoder, one_hot_rows
from skhp._training import (MULTI_STEP_BACKENDS, TrainingWiring, momentum_argument,
                            optimizer_class)
from skhp._validation import check_number, suggest
from skhp.hyperparameters import KERAS_GLOBALS, declared, declared_names, hp_build_function, make_hp
from skhp._fit_specs import SpecMaking
from skhp.fit_spec import dense_gradients
from skhp.initializers import apply_initializer, apply_weight_decay, get_initializer
from skhp.lottery import draw_lottery, train_lottery
from skhp.lr_find import lr_find
from skhp.models import build_mlp, input_image
from skhp.packed import lottery_reason
from skhp.runtime import (
    PRECISIONS,
    configure,
    device_scope,
    resolve_device,
    seed_from,
    seeded,
    visible_gpus,
    worker_index,
)
from skhp.stabilize import StabilizedWeights

__all__ = ["KerasClassifier", "KerasRegressor"]



class _KerasEstimator(RoutedParameters, TrainingWiring, SpecMaking):
    """What the skhp estimators share: parameters, validation, building, fitting."""

    _parameter_constraints = {
        # open sets of values, checked in _check_params with suggestions
        **{name: "no_validation" for name in (
            "model", "hidden_layer_sizes", "conv_layers", "image_shape", "activation",
            "initializer", "optimizer", "schedule", "loss", "metrics", "callbacks", "device")},
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"}), None],
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
    _routing_prefixes = scikeras.wrappers.BaseWrapper._routing_prefixes | {"schedule", "callbacks", "hp"}
    __repr__ = BaseEstimator.__repr__

    def _init_params(self, arguments):
        """Store the constructor ``arguments`` (its ``locals()``) exactly as given.

        ``build_fn=``, scikeras' former spelling, is stored as ``model`` with
        a ``FutureWarning``.
        """
        arguments = dict(arguments)
        kwargs = arguments.pop("kwargs")
        arguments.pop("self")
        if "build_fn" in kwargs:
            _warn_build_fn(stacklevel=4)
            if arguments["model"] is None:
                arguments["model"] = kwargs.pop("build_fn")
        vars(self).update(arguments, **kwargs)
        if kwargs:
            self._user_params = set(kwargs)

    def set_params(self, **params):
        """Set parameters, as every scikit-learn estimator (``build_fn`` stands for ``model``).

        Parameters
        ----------
        **params : dict
            Parameter names and values, routed ``prefix__name`` ones included.

        Returns
        -------
        self
        """
        if "build_fn" in params and "model" not in params:
            _warn_build_fn(stacklevel=3)
            params["model"] = params.pop("build_fn")
        return super().set_params(**params)

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
        return self._own_state()

    def __setstate__(self, state):
        super().__setstate__(state)
        optimizer = getattr(getattr(self, "model_", None), "optimizer", None)
        if optimizer is not None:  # Keras restores the optimizer from its settings alone
            dense_gradients(optimizer)

    def __copy__(self):
        # a copy stays in this process: any builder will do (no pickling check)
        copied = type(self).__new__(type(self))
        copied.__dict__.update(self._own_state())
        return copied

    def _own_state(self):
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives vars(self)
        state.pop("_compiled_call", None)  # a traced function of this process (see _predict_raw)
        state.pop("_handed", None)  # the optimizer handed to a builder (see _capture_compile)
        return state

    def _check_params(self):
        """Validate every parameter; runs in ``fit`` before anything is built.

        Single parameters follow ``_parameter_constraints`` (scikit-learn's
        messages); names with open sets of values (initializer, optimizer,
        schedule, activation, device) get their own checks with the closest
        valid name suggested; then the rules that tie two parameters.
        """
        self._validate_params()
        if "build_fn" in vars(self):
            raise ValueError("build_fn (scikeras' former name of model) and model are both "
                             "given; pass the builder as model only.")
        if self.model is not None and not (
            callable(self.model) or isinstance(self.model, keras.Model)
            or hp_build_function(self.model) is not None
        ):
            raise TypeError(f"model must be a builder function, a build function of hp, a "
                            f"keras_tuner.HyperModel or a keras.Model, got {self.model!r}.")
        self._check_keywords()
        for name in ("hidden_layer_sizes", "conv_layers"):
            try:
                for units in self._layer_sizes(name):
                    check_number(units, name, low=1, integer=True)
            except TypeError:
                raise TypeError(
                    f"{name} must be a positive int or a sequence of them, got {getattr(self, name)!r}."
                ) from None
        shape = self.image_shape
        if shape is not None and not (
                isinstance(shape, (tuple, list)) and len(shape) in (2, 3)
                and all(isinstance(n, (Integral, np.integer)) and not isinstance(n, bool) and n >= 1
                        for n in shape)):
            raise ValueError(f"image_shape must be None or (height, width) or (height, width, "
                             f"channels) of positive ints, got {shape!r}.")
        if shape is not None and self.model is not None:
            raise ValueError(
                f"image_shape={tuple(shape)!r} shapes the built-in model's input (model=None); "
                "a model of your own takes X as it is: leave image_shape=None and reshape "
                "inside the model (keras.layers.Reshape).")
        try:
            keras.activations.get(self.activation)
        except (ValueError, TypeError):
            raise ValueError(
                f"activation={self.activation!r} is not a Keras activation "
                "(e.g. 'relu', 'tanh', 'gelu', 'sigmoid', 'elu', 'selu')."
            ) from None
        if self.initializer is not None:
            get_initializer(self.initializer)
        optimizer_class(self.optimizer)
        if self.momentum is not None:
            momentum_argument(self.optimizer)
        if self.warmup > self.epochs:
            raise ValueError(
                f"warmup ({self.warmup}) must not exceed epochs ({self.epochs}): warm-up "
                "epochs are part of training."
            )
        lr = self._given_learning_rate()
        if self.warmup and lr != "auto" and self.warmup_lr > lr:
            raise ValueError(
                f"warmup_lr ({self.warmup_lr}) must not be above learning_rate "
                f"({lr}): warm-up rises from warmup_lr to learning_rate."
            )
        if (self.steps_per_execution not in (None, 1)
                and keras.backend.backend() not in MULTI_STEP_BACKENDS):
            raise ValueError(
                f"steps_per_execution={self.steps_per_execution!r}: Keras runs one step per "
                f"call on the {keras.backend.backend()} backend; use None or 1 (multi-step "
                f"calls run on {' and '.join(MULTI_STEP_BACKENDS)}).")
        # Building a throw-away schedule validates the name and its arguments.
        lr = 1.0 if lr == "auto" else lr
        self._fit_schedule(lr, steps_per_epoch=1)
        resolve_device(self.device, n_gpus=visible_gpus())

    def check_parameters(self, X=None, y=None):
        """Validate every parameter without building or training anything.

        Raises what ``fit`` would raise first: a ``ValueError`` or
        ``TypeError`` naming the parameter and what it allows. Given the
        data, it also checks what must fit it: the built-in model's
        ``image_shape`` against ``X``, a classifier's targets (two classes at
        least). The searches call it for every candidate before any training.

        Parameters
        ----------
        X : array-like or None
            The samples a fit would take.
        y : array-like or None
            The targets a fit would take.

        Examples
        --------
        >>> try:
        ...     KerasClassifier(learning_rate=-1.0).check_parameters()
        ... except ValueError as error:
        ...     print(error)
        The 'learning_rate' parameter of KerasClassifier must be a float in the range (0.0, inf), a str among {'auto'} or None. Got -1.0 instead.
        >>> KerasClassifier().check_parameters(y=[1, 1, 1])
        Traceback (most recent call last):
        ...
        ValueError: Classifier can't train when only one class is present: ...
        """
        configure()  # checking the device may start TensorFlow
        self._check_params()
        if X is not None and self.model is None and len(np.shape(X)) >= 2:
            self._image(np.shape(X)[1:])
        if y is not None:
            self._check_targets(y)

    def _check_targets(self, y):
        """Refuse targets no fit can train on (the classifier checks its classes)."""

    def _fit(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        self._new_model = not ((self.warm_start or warm_start) and self.initialized_)
        self._prepare(X, y, self._new_model)
        if not self._new_model:
            self._check_schedule_not_over()
            self._continue_at_given_rate()
        self._plan = self._training_plan(y, sample_weight, kwargs)
        try:
            with seeded(self._plan.seed), self._placed():
                super()._fit(X, y, self._plan.sample_weight, warm_start, epochs, initial_epoch,
                             **kwargs)
        finally:
            del self._plan  # indices of the data: not part of the fitted estimator

    def train_epochs(self, X, y, sample_weight=None, *, epochs, initial_epoch=0):
        """Train epochs ``initial_epoch`` to ``initial_epoch + epochs`` of this estimator's fit.

        From epoch 0 it starts a new fit; from a later epoch it continues the
        model, optimizer state and schedule where the last call stopped — so
        calls of consecutive epoch ranges train exactly as one fit (a pruned
        search's rungs train so).

        Parameters
        ----------
        X, y : array-like
        sample_weight : array-like or None
        epochs : int
            Epochs to train in this call.
        initial_epoch : int, default=0
            The epoch the fit is at.

        Returns
        -------
        self

        Examples
        --------
        >>> import numpy as np
        >>> from skhp import KerasRegressor
        >>> X = np.random.default_rng(0).normal(size=(40, 2))
        >>> est = KerasRegressor(hidden_layer_sizes=(3,), epochs=3)
        >>> est = est.train_epochs(X, X[:, 0], epochs=1).train_epochs(X, X[:, 0], epochs=2, initial_epoch=1)
        >>> len(est.history_["loss"])
        3
        """
        self._fit(X, y, sample_weight, warm_start=initial_epoch > 0, epochs=epochs,
                  initial_epoch=initial_epoch)
        return self

    def _resolve_learning_rate(self, X, y):
        """Set ``learning_rate_``, running the LR range test for ``learning_rate="auto"``."""
        if self.learning_rate == "auto":
            self.lr_find_ = lr_find(clone(self).set_params(learning_rate=1e-3), X, y)
            self.learning_rate_ = self.lr_find_.suggestion
        else:
            self.learning_rate_ = self._given_learning_rate()

    def _weights_for(self, y, sample_weight, fit_kwargs):
        """The sample weights to train with (the classifier adds its class weights)."""
        return sample_weight

    def _prepare(self, X, y, new_model):
        """Check the parameters; for a new model, fix its seed, device and learning rate."""
        configure()  # first: checking the parameters may already start TensorFlow
        self._check_params()
        if new_model:
            # Trials in one process do not pile up graphs; Keras' full gc.collect() (its
            # default) would cost ~0.4 s a fit, and Python's own collector frees the rest.
            with KERAS_GLOBALS:
                keras.backend.clear_session(free_memory=False)
            self._seed = seed_from(self.random_state)
            self.device_ = resolve_device(self.device, visible_gpus(), worker_index())
            self._resolve_learning_rate(X, y)

    @contextlib.contextmanager
    def _placed(self):
        """Run on ``device_``, building layers under the ``precision`` policy."""
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.precision)
        try:
            with device_scope(self.device_):
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
        with seeded(self._seed), self._placed():
            return super().initialize(X, y)

    # scikeras seeds inside a context that can leave TensorFlow's op determinism
    # switched on after it exits, which breaks later unseeded fits; skhp seeds
    # each fit itself (see ``skhp.runtime.seeded``), so scikeras is always told "no seed".
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

    def _layer_sizes(self, name):
        sizes = getattr(self, name)
        return [sizes] if isinstance(sizes, (int, np.integer)) else list(sizes)

    def _hidden_sizes(self):
        return self._layer_sizes("hidden_layer_sizes")

    def _image(self, sample_shape):
        """``(height, width, channels)`` the built-in model's convolutions see; None without
        them (see :func:`skhp.models.input_image`)."""
        return input_image(sample_shape, self._layer_sizes("conv_layers"), self.image_shape,
                           self.conv_layers)

    def _check_model_param(self):
        if self.model is None:
            return self._build_default_model
        if isinstance(self.model, keras.Model):
            return self._copy_of_user_model
        build = hp_build_function(self.model)
        if build is not None:  # KerasTuner's way: values from hp__ parameters, else its defaults
            self._hp = make_hp(self._routed("hp"))
            return functools.partial(build, self._hp)  # positionally, whatever its name
        return super()._check_model_param()

    def _check_hp_names(self):
        """Refuse ``hp__`` names the build function declares in none of its branches."""
        unknown = set(self._routed("hp")) - {d.name for d in declared(self._hp)}
        if unknown:
            self._refuse_unknown_hp(self._hp_names_declared(self._get_metadata()))

    def _hp_names_declared(self, meta=None):
        """Every name the build function of hp declares in any branch (see
        :func:`skhp.hyperparameters.declared_names`)."""
        return declared_names(self.model, self._routed("model"), meta)

    def _refuse_unknown_hp(self, names):
        for name in sorted(set(self._routed("hp")) - names):
            raise ValueError(
                f"hp__{name}: the build function {getattr(self.model, '__name__', self.model)!r} "
                f"declares no hyperparameter {name!r}.{suggest(name, names)} It declares "
                f"{sorted(names)}.")

    def check_parameter_names(self):
        """Refuse parameter names that reach nothing, as ``fit`` does first.

        A keyword that is neither a parameter nor a routed ``prefix__name``
        whose destination takes it (the builder, the optimizer, Keras' ``fit``
        or ``predict``, a build function's declared hyperparameters for
        ``hp__``) raises a ``ValueError`` naming it, with the closest known
        name. The searches call this before any training.

        Examples
        --------
        >>> KerasClassifier(lerning_rate=0.1).check_parameter_names()
        Traceback (most recent call last):
        ...
        ValueError: KerasClassifier got an unknown parameter 'lerning_rate'. Did you mean 'learning_rate'? ...
        """
        self._check_keywords()
        if self._routed("hp") and hp_build_function(self.model) is not None:
            names = self._hp_names_declared()
            if names is not None:  # a build function taking meta is checked when built
                self._refuse_unknown_hp(names)

    def _capture_compile(self, model, source=None):
        """What a build function or a compiled ``model`` instance compiled with.

        A model that compiles itself (KerasTuner's way, or ``model.compile``
        before it is passed) trains with its optimizer, learning rate, loss
        and metrics wherever ``optimizer``, ``learning_rate``, ``loss`` and
        ``metrics`` are None; a value set there replaces the compiled one.
        ``source`` is the compiled model when ``model`` is its uncompiled copy.
        """
        self._builder_compile = None
        source = model if source is None else source
        if not getattr(source, "compiled", False):
            return
        compiled = getattr(getattr(source, "_compile_config", None), "config", {}) or {}
        # compiled with the compile_kwargs skhp handed it (scikeras' way): skhp's settings
        handed_optimizer, handed_loss = getattr(self, "_handed", (None, None))
        optimizer = None if source.optimizer is handed_optimizer else source.optimizer
        loss = None if source.loss is handed_loss else source.loss
        if optimizer is None and loss is None:
            return
        if optimizer is not None:
            optimizer = (type(optimizer), optimizer.get_config())
        if loss is not None and self.loss is None and getattr(self, "smoothing", 0):
            raise ValueError(
                f"smoothing={self.smoothing} applies to the built-in loss, but the model "
                f"compiles with loss={_loss_name(loss)!r}; set smoothing=0 and smooth in the "
                "model's own loss (label_smoothing=...).")
        self._builder_compile = {"optimizer": optimizer, "loss": loss,
                                 "metrics": compiled.get("metrics")}
        if self.learning_rate != "auto":
            self.learning_rate_ = self._given_learning_rate()
        if loss is not None and self.loss is None:
            self._encode_targets_for(loss)

    def _encode_targets_for(self, loss):
        """Encode targets as the build function's compiled ``loss`` takes them (classifiers)."""

    def _get_compile_kwargs(self):
        kwargs = super()._get_compile_kwargs()
        if kwargs.get("optimizer") is None:  # optimizer=None: Adam, unless the model compiles
            kwargs["optimizer"] = keras.optimizers.Adam(
                **{k: v for k, v in self._routed("optimizer").items() if k != "decay"})
        self._handed = (kwargs.get("optimizer"), kwargs.get("loss"))  # see _capture_compile
        return kwargs

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
        """The sample shape for the built-in model: rows of 2-d X, or images of 3-d/4-d X."""
        shape = meta["X_shape_"]
        if len(shape) not in (2, 3, 4):
            raise ValueError(
                f"X has shape {shape}, but the built-in model (model=None) takes 2-d X of shape "
                "(n_samples, n_features) or images (n_samples, height, width[, channels]). "
                "Reshape X, or pass model=<a builder function> whose model takes samples of that "
                "shape."
            )
        self._image(shape[1:])
        return shape[1:]

    def _build_keras_model(self):
        with KERAS_GLOBALS:
            return self._build_and_compile()

    def _build_and_compile(self):
        model = super()._build_keras_model()
        if hp_build_function(self.model) is not None and self._routed("hp"):
            self._check_hp_names()
        self._capture_compile(model, self.model if isinstance(self.model, keras.Model) else None)
        seed = self._seed
        initializer = self.initializer
        if initializer is None and self.model is None:
            # The built-in model's layers draw Glorot-uniform kernels, Keras' default; drawn
            # from the fit's seed as a pack draws them, so a pack of one starts from the
            # same weights as the ordinary fit (a user's model keeps its own draws).
            initializer = "glorot_uniform"
        if initializer is not None:
            apply_initializer(model, initializer, seed)
        if self.initial_weights is not None:
            weights = self.initial_weights
            if not isinstance(weights, StabilizedWeights):
                weights = StabilizedWeights.load(weights)
            weights.apply_to(model)
        if getattr(self, "_decay_in_model", True):  # (a fit spec carries it as a number)
            apply_weight_decay(model, self.weight_decay)
        model.compile(**self._compile_kwargs_for_fit())
        if len(model.inputs or ()) > 1 and \
                type(self).feature_encoder is scikeras.wrappers.BaseWrapper.feature_encoder:
            # scikeras' identity encoder would hand one array to several inputs
            self.feature_encoder_ = InputSplitter(
                [tuple(i.shape[1:]) for i in model.inputs],
                [i.name for i in model.inputs]).fit(np.empty((1, *self.X_shape_[1:])))
        return model

    # -- predicting ---------------------------------------------------------

    #: Above this many samples predict goes through Keras' batched ``predict``.
    _DIRECT_PREDICT_ROWS = 65536

    def _predict_raw(self, X, **kwargs):
        """The model's outputs for ``X``: one direct call of the model for arrays of moderate size.

        Keras' ``predict`` builds a data pipeline and traces a function per
        call shape: 100-350 ms for 600 digits samples, against ~6 ms for a
        direct call with the same outputs. A search scores one fold per fit,
        so it predicts directly; ``predict__`` settings, predict callbacks
        and large inputs keep Keras' ``predict``. Slots of a packed search
        that share one Keras model also share ``_compiled_call``, the model
        traced once as a TensorFlow function (a convolutional model's call
        takes 6 ms traced, 23 ms eager).
        """
        if kwargs or self._routed("predict") or getattr(self, "_predict_callbacks", None) \
                or not self.initialized_:
            return super()._predict_raw(X, **kwargs)
        X_checked, _ = self._validate_data(X=X, y=None)
        X_model = self.feature_encoder_.transform(X_checked)
        if not isinstance(X_model, np.ndarray) or len(X_model) > self._DIRECT_PREDICT_ROWS:
            return super()._predict_raw(X, **kwargs)
        call = getattr(self, "_compiled_call", None) or self.model_
        return keras.tree.map_structure(keras.ops.convert_to_numpy, call(X_model, training=False))

    # -- training -----------------------------------------------------------

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        kwargs.setdefault("batch_size", self._plan.batch_size)
        kwargs["validation_split"] = 0.0
        validation = kwargs.get("validation_data", self._routed("fit").get("validation_data"))
        if validation is not None:
            kwargs["validation_data"] = self._encoded_validation(validation)
        if self._validation_fraction() and "validation_data" not in kwargs:
            if isinstance(X, np.ndarray) and isinstance(y, np.ndarray):
                X, y, sample_weight, kwargs["validation_data"] = self._plan.split(X, y)
            else:  # lists or dicts of arrays: Keras' own split (the last samples)
                kwargs["validation_split"] = self._validation_fraction()
        if self._new_model and self.lottery >= 2 and self.initial_weights is None:
            self._draw_lottery(X, y, kwargs["batch_size"])
        super()._fit_keras_model(X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs)
        self.history_ = dict(self.history_)

    def _encoded_validation(self, data):
        """``validation_data=(X, y[, sample_weight])`` encoded as the training data is.

        Users pass labels as they pass ``y`` (integers, strings) and X as
        they pass it (DataFrames, sparse); Keras gets what the model trains
        on. Anything else (a ``tf.data.Dataset``) goes to Keras as it is.
        """
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            return data
        X, y, *weights = data
        X, y = self._validate_data(X, y)
        return (self.feature_encoder_.transform(X), self.target_encoder_.transform(y), *weights)

    def _draw_lottery(self, X, y, batch_size):
        """Train ``lottery`` draws of weights briefly; keep the lowest training loss.

        The built-in MLP's draws train as one pack (:func:`skhp.lottery.train_lottery`).
        """
        settings = self.fit_settings()
        draws = dict(draws=self.lottery, batch_size=batch_size, epochs=self.lottery_epochs,
                     steps=self.lottery_steps, initializer=self.initializer, seed=self._seed)
        if lottery_reason(settings) is None and isinstance(X, np.ndarray) and isinstance(y, np.ndarray):
            self.lottery_losses_, self.lottery_best_ = train_lottery(
                self.model_, X, y, loss=self._fit_loss_instance(),
                optimizer=settings.lottery_optimizer, lottery_lr=self.lottery_lr, **draws)
        else:
            self.lottery_losses_, self.lottery_best_ = draw_lottery(
                self.model_, X, y, compile_kwargs=self._compile_kwargs_for_fit(),
                optimizer=settings.lottery_optimizer.build(float(self.lottery_lr)), **draws)
        if self.lottery_best_ is None:
            raise ValueError(
                f"every one of the {self.lottery} lottery draws diverged (non-finite "
                f"training loss) at lottery_lr={self.lottery_lr}; lower lottery_lr."
            )
        self.model_.compile(**self._compile_kwargs_for_fit())


def _warn_build_fn(stacklevel):
    warnings.warn("build_fn= is scikeras' former name of model=: pass model=<your builder> "
                  "(build_fn will stop working in a later release).", FutureWarning,
                  stacklevel=stacklevel)


def _is_binary_loss(loss):
    """Whether ``loss`` is a binary cross-entropy (one sigmoid probability per output)."""
    name = _loss_name(loss)
    return name.split("(")[0] in ("binary_crossentropy", "binary_focal_crossentropy",
                                  "BinaryCrossentropy", "BinaryFocalCrossentropy")


def _loss_name(loss):
    """A loss as a comparable name: its registered name, or its class and settings."""
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        config = {k: v for k, v in loss.get_config().items() if k not in ("name", "dtype")}
        return f"{type(loss).__name__}({', '.join(f'{k}={v!r}' for k, v in sorted(config.items()))})"
    return getattr(loss, "__name__", repr(loss))


@shared_docs
class KerasClassifier(_KerasEstimator, ClassifierMixin, scikeras.wrappers.BaseWrapper):
    """A Keras classifier whose training hyperparameters are estimator parameters.

    It works wherever a scikit-learn classifier does: pipelines,
    ``cross_val_score`` (stratified folds), ``GridSearchCV``, ``roc_auc``
    scoring, ``CalibratedClassifierCV``. Labels may be any values (integers,
    strings); ``predict`` returns them and ``predict_proba`` gives one column
    per class in ``classes_`` order. A user's model must end in a softmax
    layer of ``meta["n_classes_"]`` units unless a ``loss`` of its own is given.

    Parameters
    ----------
    [training parameters]
    loss : str, keras Loss or None, default=None
        None uses the built-in loss (categorical cross-entropy with label smoothing on one-hot targets).
    metrics : list or None, default=None
        Keras metrics; None means ["accuracy"].
    [running parameters]
    smoothing : float, default=0.0
        Label smoothing α in [0, 1): the true class's target becomes
        1 − α + α/K and every other class's α/K (K classes).
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, as in scikit-learn.

    Attributes
    ----------
    [fitted attributes]
    classes_ : ndarray
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

    def __init__(
        self,
        model=None,
        *,
        hidden_layer_sizes=(100,),
        activation="relu",
        conv_layers=(),
        image_shape=None,
        initializer=None,
        optimizer=None,
        learning_rate=None,
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
        tags.classifier_tags = ClassifierTags(multi_class=True, multi_label=True)
        tags.input_tags.sparse = True
        return tags

    _parameter_constraints = {
        **_KerasEstimator._parameter_constraints,
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

    def _check_targets(self, y):
        y = np.asarray(y)
        OneHotLabelEncoder().fit(y.ravel() if y.ndim == 2 and y.shape[1] == 1 else y)

    def _encodes_one_hot(self):
        encoder = self.target_encoder_
        if isinstance(encoder, OneHotLabelEncoder):
            return True
        # scikeras' encoder of a user's loss: one-hot rows given, or one-hot encoded for it
        final = getattr(encoder, "_final_encoder", None)
        steps = [step for _, step in final.steps] if hasattr(final, "steps") else [final]
        return getattr(encoder, "_target_type", None) == "multiclass-onehot" or any(
            isinstance(step, OneHotEncoder) for step in steps)

    def _encode_targets_for(self, loss):
        classes = self.target_encoder_.classes_
        self.target_encoder_ = ClassifierLabelEncoder(loss=loss, categories=[classes]).fit(classes)

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
        y = np.asarray(y)
        if one_hot_rows(y):
            y = y.argmax(axis=1)  # their class indices
        weights = compute_sample_weight(class_weight, y if y.ndim == 2 else column_or_1d(y))
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

    def _multilabel(self):
        """Whether y is multilabel: rows of 0/1 columns, any number of 1s a row."""
        encoder = self.target_encoder_
        return (getattr(encoder, "kind_", None) == "multilabel"
                or getattr(encoder, "_target_type", None) == "multilabel-indicator")

    def _build_default_model(self, meta):
        units, activation = meta["n_classes_"], "softmax"
        if self._multilabel():
            activation = "sigmoid"
        elif self.loss is not None and _is_binary_loss(self.loss):
            if meta["n_classes_"] != 2:
                raise ValueError(
                    f"loss={_loss_name(self.loss)!r} takes two classes (or multilabel rows of "
                    f"0/1 columns), but y has {meta['n_classes_']} classes; leave loss=None "
                    "(categorical cross-entropy) or pass loss='sparse_categorical_crossentropy'.")
            units, activation = 1, "sigmoid"  # one probability, as scikeras' binary encoding takes
        return build_mlp(
            self._mlp_input_shape(meta),
            units,
            self._hidden_sizes(),
            self.activation,
            output_activation=activation,
            conv_layers=self._layer_sizes("conv_layers"),
            image_shape=self.image_shape,
        )

    def _default_loss(self):
        if self._multilabel():
            return keras.losses.BinaryCrossentropy(label_smoothing=float(self.smoothing))
        return keras.losses.CategoricalCrossentropy(label_smoothing=float(self.smoothing))

    def _default_metrics(self):
        return ["binary_accuracy"] if self._multilabel() else ["accuracy"]


@shared_docs
class KerasRegressor(_KerasEstimator, RegressorMixin, scikeras.wrappers.BaseWrapper):
    """A Keras regressor whose training hyperparameters are estimator parameters.

    It works wherever a scikit-learn regressor does; ``score`` is R².
    ``y`` may have one column or several (one output unit each).

    Parameters
    ----------
    [training parameters]
    loss : str, keras Loss or None, default=None
        None uses the built-in loss (mean squared error).
    metrics : list or None, default=None
        Keras metrics; None means none.
    [running parameters]

    Attributes
    ----------
    [fitted attributes]

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = KerasRegressor(hidden_layer_sizes=(16,), epochs=2, random_state=0)
    >>> reg.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    def __init__(
        self,
        model=None,
        *,
        hidden_layer_sizes=(100,),
        activation="relu",
        conv_layers=(),
        image_shape=None,
        initializer=None,
        optimizer=None,
        learning_rate=None,
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
            conv_layers=self._layer_sizes("conv_layers"),
            image_shape=self.image_shape,
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
