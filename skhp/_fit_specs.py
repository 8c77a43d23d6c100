"""How an skhp estimator describes its fit: :class:`SpecMaking`, a mixin of the estimators.

``fit_settings()`` describes the fit from the parameters alone;
``fit_spec(X, y)`` builds the model the fit builds and describes the whole
fit on that data (:class:`skhp.fit_spec.FitSpec`), as Keras' fit would run
it; ``fitted_from_slot`` makes the estimator fitted from the weights a
packed slot trained. :mod:`skhp.packed` reads only these.
"""

import contextlib
import os

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import keras
import numpy as np
from scipy import sparse
from sklearn.base import is_classifier

from skhp._rows import Rows
from skhp.fit_spec import (FitSettings, FitSpec, model_signature, seed_or_fresh, smoothed,
                           step_tables)
from skhp.initializers import apply_initializer, kernel_layers
from skhp.runtime import seed_from

__all__ = ["SpecMaking", "outputs_of"]

# Parameters that act on training only, not on the model an estimator builds.
_TRAINING_ONLY = {"learning_rate", "epochs", "batch_size", "schedule", "warmup", "warmup_lr",
                  "momentum", "weight_decay", "early_stopping", "validation_split", "smoothing",
                  "optimizer", "verbose", "device", "metrics", "steps_per_execution",
                  "class_weight"}
# The attributes a fit sets that a packed slot's fitted estimator keeps.
_FITTED = ("_seed", "learning_rate_", "schedule_", "lottery_losses_", "lottery_best_")


def outputs_of(estimator, y):
    """The classes (a classifier) or the target shape (a regressor) of a fit on ``y``.

    Examples
    --------
    >>> from skhp import KerasClassifier
    >>> outputs_of(KerasClassifier(), [0, 1, 1])
    (0, 1)
    """
    if is_classifier(estimator):  # the labels, and the columns of one-hot or multilabel rows
        return tuple(np.unique(y).tolist()) + tuple(np.shape(y)[1:])
    return np.shape(y)[1:]


def _weights_key(weights):
    """``initial_weights`` as a key: a file's path, or the one object clones share."""
    return None if weights is None else str(weights) if isinstance(weights, (str, os.PathLike)) \
        else ("weights", id(weights))


def _values(variables):
    return [np.array(v.numpy()) for v in variables]


def _spread(values, rows, n):
    """``values`` of a job's ``rows`` placed in an array over all ``n`` rows (zeros elsewhere)."""
    out = np.zeros((n, *values.shape[1:]), dtype=values.dtype)
    out[rows] = values
    return out


def _traced_call(model):
    """``model``'s inference call, compiled once per input shape; it reads the model's
    weights at each call (slots lend theirs one after another).

    A TensorFlow function on TensorFlow; on JAX the jitted stateless call, given
    the weights as arguments; elsewhere the model itself.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(model, reduce_retracing=True)
    if backend != "jax":
        return model
    import jax

    def call(trainable, non_trainable, x):
        return model.stateless_call(trainable, non_trainable, x, training=False)[0]

    compiled = jax.jit(call)

    def traced(x, training=False):
        return compiled([v.value for v in model.trainable_variables],
                        [v.value for v in model.non_trainable_variables], x)

    return traced


class SpecMaking:
    """The estimators' fit settings, fit specs and fits from packed slots."""

    def fit_settings(self):
        """What this estimator's fit is, from its parameters alone (no data, nothing built).

        Returns
        -------
        skhp.fit_spec.FitSettings

        Examples
        --------
        >>> from skhp import KerasRegressor
        >>> settings = KerasRegressor(optimizer="sgd", momentum=0.9, epochs=4).fit_settings()
        >>> settings.optimizer.name, settings.optimizer.config["momentum"], settings.epochs
        ('SGD', 0.9, 4)
        """
        routed_fit = self._routed("fit")
        function = self._function_schedule() is not None
        schedule, stop_schedule = None, None
        if not function and not (isinstance(self.schedule, str) or self.schedule is None):
            schedule = f"schedule={self.schedule!r} is not a schedule name"
        if self.early_stopping and schedule is None and not function:
            # (only its cycles matter: any rate, and a warm-up from below any schedule's start)
            stop_schedule = self._make_learning_rate(1.0, 1, 1e-12)
        lottery = int(self.lottery) if self.lottery >= 2 and self.initial_weights is None else 0
        group = tuple(sorted((k, repr(v)) for k, v in self.get_params(deep=False).items()
                             if k.startswith(("model__", "hp__", "optimizer__"))))
        return FitSettings(
            optimizer=self._optimizer_spec(), epochs=int(self.epochs), batch_size=self.batch_size,
            stop=self._stop_rule(stop_schedule), schedule=schedule,
            lr_search=self.learning_rate == "auto", precision=self.precision,
            callbacks=self._user_callbacks(),
            warm_start=bool(self.warm_start),
            fit_options=tuple(sorted(set(routed_fit) - {"shuffle"})),
            compile_options=tuple(sorted(self._routed("compile"))),
            shuffle=bool(routed_fit.get("shuffle", True)), lottery=lottery,
            lottery_optimizer=self._optimizer_spec(routed=False),
            builtin_model=self.model is None, own_loss=self.loss is not None,
            device=str(self.device), random_state=self.random_state,
            group=(type(self).__name__, repr(self.model), repr(self.hidden_layer_sizes),
                   repr(self.conv_layers), repr(self.optimizer), group),
            validation_fraction=self._validation_fraction())

    def fit_spec(self, X, y, sample_weight=None, shared=None):
        """The complete description of this estimator's fit on ``X, y``.

        Builds the model the fit builds (its builder, ``model__`` parameters,
        initializer, seed, initial weights, lottery) and sets on the
        estimator what its fit would (its seed, ``learning_rate_``,
        ``schedule_``, encoders). Raises the estimator's own errors for
        invalid parameters.

        Parameters
        ----------
        X : array-like, sparse matrix or skhp._rows.Rows
            Samples (rows of a search's shared X, as its folds give them).
        y : array-like
        sample_weight : array-like or None
        shared : dict or None
            Kept by the caller over several specs of one data set: the
            built-in model's later specs of one shape redraw the first's
            model instead of building their own, a builder's model of the
            same build parameters is built once, and the samples as the model
            takes them are made once.

        Returns
        -------
        skhp.fit_spec.FitSpec

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skhp import KerasClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> spec = KerasClassifier(hidden_layer_sizes=(8,), epochs=2).fit_spec(X, y)
        >>> [w.shape for w in spec.weights], spec.training.batch_size, spec.rates.shape
        ([(4, 8), (8,), (8, 3), (3,)], 32, (10,))
        """
        shared = {} if shared is None else shared
        rows = None
        if isinstance(X, Rows):  # rows of the search's X: the spec indexes one shared copy of it
            X, rows = X.base, X.index
        mine = X if rows is None else X[rows]
        key = self._builtin_key(X, y) if self.model is None else self._build_key(X, y)
        source = shared.get(key) if key is not None else None
        if source is None:
            with self._decay_apart():
                model = self._initialized(mine, y)
            source = (self, model, model_signature(model), _values(model.trainable_variables),
                      _values(model.non_trainable_variables))
            if key is not None:
                shared[key] = source
        else:  # a model of this build made already: its structure, and its weights or a redraw
            self._check_params()
            self._builder_compile = getattr(source[0], "_builder_compile", None)
            self.target_encoder_ = source[0].target_encoder_  # the same classes (part of the key)
            if self.model is None:
                self._image(X.shape[1:])
            self._seed = seed_from(self.random_state)
            self.learning_rate_ = self._given_learning_rate()
        first, model, signature, weights, state = source
        settings = self.fit_settings()
        training = self._training_plan(y, sample_weight)  # what the ordinary fit trains on
        seed = seed_or_fresh(training.seed)
        if self.model is None and first is not self and self.initial_weights is None:
            # (given initial weights are part of the key: the first spec starts from them)
            apply_initializer(model, self.initializer or "glorot_uniform", seed)
            weights = _values(model.trainable_variables)
        # the loss is resolved once per loss setting: resolving builds the optimizer too (~7 ms)
        loss_setting = ("loss", type(self).__name__, repr(self.loss), getattr(self, "smoothing", None),
                        repr(sorted(self._routed("loss").items())), id(model))
        if loss_setting not in shared:
            shared[loss_setting] = self._fit_loss_instance()
        loss = shared[loss_setting]
        X_model = X if sparse.issparse(X) else first._samples(X, shared if rows is not None else {})
        targets = np.asarray(first.target_encoder_.transform(y))
        targets = targets.reshape(len(y), -1) if targets.ndim == 1 else targets
        targets = targets.astype("float32") if targets.dtype.kind in "biuf" else targets
        if settings.lottery:  # as the ordinary fit: draws from the model it builds
            trained = training.kept if rows is None else rows[training.kept]
            weights, state = self._lottery_weights(mine, y, X_model[trained],
                                                   targets[training.kept], training.batch_size)
        if not isinstance(loss, (dict, list, tuple)):
            loss, targets = smoothed(loss, targets)
        weight = (np.ones(len(y), "float32") if training.sample_weight is None
                  else np.asarray(training.sample_weight, "float32"))
        if rows is not None:  # the fit's rows of the shared X: its targets and weights there too
            targets, weight = _spread(targets, rows, len(X)), _spread(weight, rows, len(X))
        rates, momenta = self._step_tables(training.steps_per_epoch, settings.optimizer)
        kernels = {id(layer.kernel) for layer in kernel_layers(model)}
        return FitSpec(
            settings=settings, training=training, model=model, signature=signature,
            weights=weights, state=state, X=X_model, rows=rows, targets=targets,
            sample_weight=weight, loss=loss, rates=rates, momenta=momenta,
            l2=float(self.weight_decay),
            decayed=tuple(id(v) in kernels for v in model.trainable_variables),
            seed=seed, outputs=outputs_of(self, y),
            fitted={k: v for k, v in vars(self).items() if k in _FITTED})

    def fitted_from_slot(self, X, y, result, template=None, traced=False):
        """This estimator fitted on ``X, y`` with the weights a packed slot trained.

        Parameters
        ----------
        X, y : array-like
            The data of its fit.
        result : dict
            The slot's ``weights``, ``state`` (non-trainable variables),
            ``history``, ``diverged`` and ``fitted`` (its spec's fitted attributes).
        template : estimator or None
            An estimator of the same pack already fitted this way: its Keras
            model and encoders are shared instead of building new ones
            (cheap, for scoring one slot after another).
        traced : bool
            Predict through one traced call of the model (traced here
            without a template, else the template's): slots of one shape
            scored one after another share it. Copies and pickles leave it out.

        Returns
        -------
        self

        Examples
        --------
        >>> import numpy as np
        >>> from skhp import KerasRegressor
        >>> from skhp.packed import train_packs
        >>> X = np.random.default_rng(0).normal(size=(40, 2))
        >>> est = KerasRegressor(hidden_layer_sizes=(3,), epochs=1)
        >>> (out,) = train_packs([(est, X, X[:, 0], None)])
        >>> est.fitted_from_slot(X, X[:, 0], out).predict(X[:2]).shape
        (2,)
        """
        own = {k: v for k, v in vars(self).items() if k in _FITTED}
        own.update(result.get("fitted", {}))
        if template is None:
            self.initialize(X, y)
            self._initialize_callbacks()  # what predict reads (scikeras sets it in fit)
            if traced:  # (the weights are read at each call)
                self._compiled_call = _traced_call(self.model_)
        else:
            params = set(self.get_params(deep=False))
            vars(self).update({k: v for k, v in vars(template).items() if k not in params})
        vars(self).update(own)
        model = self.model_
        for variable, value in zip([*model.trainable_variables, *model.non_trainable_variables],
                                   [*result["weights"], *result["state"]]):
            variable.assign(value)
        self.history_ = dict(result["history"])
        self.diverged_ = result["diverged"]
        return self

    # -- the pieces of a spec -------------------------------------------------

    def _builtin_key(self, X, y):
        return (type(self).__name__, tuple(self._hidden_sizes()), repr(self.activation),
                tuple(self._layer_sizes("conv_layers")), self.image_shape and
                tuple(self.image_shape), X.shape[1:], outputs_of(self, y),
                _weights_key(self.initial_weights))

    def _build_key(self, X, y):
        """What decides the model (and its initial weights) a user's builder gives; None: no reuse.

        Fits that differ only in training parameters (a CV fold, a learning
        rate) with one ``random_state`` build the same model: it is built once.
        """
        if self.random_state is None:
            return None  # every fit draws anew
        built = sorted((name, repr(_weights_key(value) if name == "initial_weights" else value))
                       for name, value in self.get_params(deep=False).items()
                       if name not in _TRAINING_ONLY
                       and not name.startswith(("optimizer__", "schedule__", "fit__", "compile__",
                                                "callbacks__", "predict__")))
        return ("build", type(self).__name__, tuple(built), X.shape[1:], outputs_of(self, y))

    @contextlib.contextmanager
    def _decay_apart(self):
        """Build the model without its weight decay: a spec carries it as a number (``l2``)."""
        self._decay_in_model = False
        try:
            yield
        finally:
            del self._decay_in_model

    def _initialized(self, X, y):
        """``initialize(X, y)``: the model the fit builds.

        Sparse X is never densified whole: the model is built from a few rows
        (one of each class), which fixes the same shapes and encoders.
        """
        if sparse.issparse(X):
            y = np.asarray(y)
            rows = np.unique(y, return_index=True)[1] if is_classifier(self) else [0]
            rows = np.union1d(rows, [0, min(1, len(y) - 1)])
            X, y = X[rows].toarray(), y[rows]
        self.initialize(X, y)
        return self.model_

    def _fit_loss_instance(self):
        """The compiled loss as an object (a class is instantiated)."""
        loss = self._fit_loss()
        if isinstance(loss, type) and issubclass(loss, keras.losses.Loss):
            loss = loss()
        return loss

    def _samples(self, X, shared):
        """Dense ``X`` as the model takes it, numbers in float32; made once per ``shared``
        (a dict kept over several specs), so that the slots of a search share one copy."""
        made = shared.get(("X", id(X)))
        if made is None or made[0] is not X:
            samples, _ = self._validate_data(X=X, y=None)
            samples = np.asarray(self.feature_encoder_.transform(samples))
            samples = samples.astype("float32", copy=False) if samples.dtype.kind in "biuf" else samples
            made = shared[("X", id(X))] = (X, samples)
        return made[1]

    def _lottery_weights(self, X, y, rows, targets, batch_size):
        """The starting weights after the fit's lottery: the draw the ordinary fit keeps.

        The fit's own lottery step (``_draw_lottery``: the draws as one pack,
        the error when all diverge) on the training ``rows`` the fit keeps (its
        samples as the model takes them) and their encoded ``targets``, from
        the model the fit builds, its weight decay included.
        """
        model = self._initialized(X, y)
        self._draw_lottery(rows.toarray() if sparse.issparse(rows) else rows, targets, batch_size)
        return _values(model.trainable_variables), _values(model.non_trainable_variables)

    def _step_tables(self, steps, optimizer):
        """Learning rate and momentum of every step of the fit (``schedule_`` set)."""
        rate = float(self.learning_rate_)
        self.schedule_ = self._fit_schedule(rate, steps)
        cycle = self._cycle_momentum(optimizer)
        return step_tables(self.schedule_, rate, int(self.epochs), steps,
                           optimizer.momentum_value(), cycle)
