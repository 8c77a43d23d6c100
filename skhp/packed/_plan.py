"""Planning a packed fit: what packs, with what, and what one slot trains on.

:func:`pack_reason` says, from an estimator's parameters alone, why it
cannot train in a pack. :func:`plan` turns what the estimator's ordinary
fit trains with — its :class:`~skhp._training.TrainingPlan` (seed,
hold-out, sample weights, batch size, steps), its encoded targets, its
schedule's learning rate and momentum at every step, and the initial
weights and state of the model the estimator itself builds — into a slot
of arrays, so a slot starts and steps where the ordinary fit does; the
engine (:mod:`skhp.packed._engine`) knows models and arrays, not estimators. Slots pack together when their
:func:`pack_key` agree: the same model structure (layer graph, configs,
weight shapes), loss, optimizer, batch size and epochs.
"""

import inspect
import json
import os

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import keras
import numpy as np
from scipy import sparse

from skhp._training import momentum_argument, optimizer_class
from skhp.packed._engine import PackedSlot
from skhp._rows import Rows
from skhp.schedules import CosineRestarts, EpochFunction, OneCycle, Warmup

__all__ = ["OPTIMIZER_SETTINGS", "NotPackable", "pack_reason", "lottery_reason", "pack_key",
           "plan", "model_signature", "smoothed", "outputs_of"]

#: Optimizers a pack trains, with the ``optimizer__`` settings each takes (and its defaults).
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
# Settings that change the program (not only numbers in it): they split packs.
_STRUCTURAL = ("nesterov", "amsgrad", "centered")
# compile__ settings that leave the training steps as they are (metrics are not computed
# in packs; the others tune Keras' own loop).
_COMPILE_PACKS = {"metrics", "weighted_metrics", "jit_compile", "steps_per_execution",
                  "run_eagerly", "auto_scale_loss", "loss"}


class NotPackable(ValueError):
    """An estimator's built model or loss cannot train in a pack (its reason is the message)."""


def optimizer_settings(estimator, routed=True):
    """The optimizer's class name and its full settings, or ``(None, reason)``.

    ``routed=False`` leaves out ``optimizer__`` parameters and ``momentum``
    (the lottery's brief training takes only the optimizer instance's own settings).
    """
    optimizer = estimator._optimizer_in_use()
    cls, config = optimizer_class(optimizer)
    name = cls.__name__
    if name not in OPTIMIZER_SETTINGS:
        return None, f"optimizer {name} is not one a pack trains ({', '.join(OPTIMIZER_SETTINGS)})"
    settings = {"weight_decay": 0.0, **OPTIMIZER_SETTINGS[name]}
    given = {k: v for k, v in config.items() if k not in ("name",)}
    if routed:
        given.update(estimator._routed("optimizer"))
    if given.get("weight_decay", 0.0) is None:
        given["weight_decay"] = 0.0
    defaults = {k: v.default for k, v in inspect.signature(cls.__init__).parameters.items()}
    for key, value in given.items():
        if key in settings:
            settings[key] = value
        elif key not in defaults or value != defaults[key]:
            return None, f"optimizer setting {key}={value!r} is not one a pack applies"
    if routed and estimator.momentum is not None:
        settings[momentum_argument(optimizer)] = estimator.momentum
    return name, settings


def momentum_name(optimizer):
    """The setting the momentum tables drive: ``beta_1`` for the Adam family, else ``momentum``."""
    return "beta_1" if "beta_1" in OPTIMIZER_SETTINGS[optimizer] else "momentum"


def structural(settings):
    """``(nesterov, amsgrad, centered)`` of an optimizer's settings."""
    return tuple(bool(settings.get(s, False)) for s in _STRUCTURAL)


def numbers(settings):
    """The settings a slot carries per step (the structural flags left out)."""
    return {k: float(v) for k, v in settings.items() if not isinstance(v, bool)}


def seed_or_fresh(seed):
    """``seed``, or a fresh random one for ``random_state=None`` (as an ordinary fit draws anew)."""
    return seed if seed is not None else int(np.random.SeedSequence().generate_state(1)[0] % 2**30)


def pack_reason(estimator):
    """Why ``estimator`` cannot be trained in a pack, or None when it can.

    Packs train any model the estimator builds — the built-in MLP or CNN, a
    builder function (``model=build``, with ``model__`` parameters), a
    Keras model instance — with any loss, in float32 on the TensorFlow
    backend, with an optimizer of :data:`OPTIMIZER_SETTINGS`. What needs
    Keras' own training loop (callbacks, ``warm_start``, ``fit__``
    settings) trains as an ordinary fit. A model whose layers turn out not
    to vectorize is found when its pack is traced (see
    :func:`skhp.packed.start_packs`).

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
    fit_settings = sorted(set(estimator._routed("fit")) - {"shuffle"})
    draws = estimator.lottery >= 2 and estimator.initial_weights is None
    lottery = lottery_reason(estimator) if draws else None
    compile_settings = sorted(set(estimator._routed("compile")) - _COMPILE_PACKS)
    checks = [
        (estimator.learning_rate == "auto", "learning_rate='auto' runs an LR range test per fit"),
        (estimator.precision != "float32", f"precision={estimator.precision!r} trains on its own"),
        (bool(estimator.callbacks) or bool(estimator._routed("fit").get("callbacks")),
         "callbacks act inside Keras' own training loop"),
        (lottery is not None, f"lottery draws train on their own ({lottery})"),
        (estimator.warm_start, "warm_start continues an existing model"),
        (bool(fit_settings), f"fit__ settings {fit_settings} apply to Keras' fit"),
        (bool(compile_settings), f"compile__ settings {compile_settings} apply to Keras' loop"),
    ]
    for failed, reason in checks:
        if failed:
            return reason
    name, settings = optimizer_settings(estimator)
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


def _program_config(config):
    """A model's config without what only draws its starting values (initializers, seeds):
    slots differing there run one program (their values are the slots' own)."""
    if isinstance(config, dict):
        return {k: _program_config(v) for k, v in config.items()
                if not (k.endswith("initializer") or k == "seed")}
    if isinstance(config, list):
        return [_program_config(v) for v in config]
    return config


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
    >>> lottery_reason(KerasClassifier(lottery=10, optimizer="adadelta"))
    'optimizer Adadelta is not one a pack trains (SGD, Adam, AdamW, RMSprop, Nadam, Adamax, Adagrad)'
    """
    if keras.backend.backend() != "tensorflow":
        return f"packs run on the TensorFlow backend, not {keras.backend.backend()}"
    if estimator.model is not None:
        return "a model of the user's (model=...) draws on its own"
    if estimator.loss is not None:
        return "a loss of the user's (loss=...) draws on its own"
    if estimator.precision != "float32":
        return f"precision={estimator.precision!r} draws on its own"
    name, settings = optimizer_settings(estimator, routed=False)
    return settings if name is None else None


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
    names = [layer.name for layer in model._flatten_layers(include_self=True)]
    try:
        text = json.dumps(_program_config(model.get_config()), sort_keys=True, default=repr)
    except Exception:  # a subclassed model without a config: its class and weights decide
        text = f"{type(model).__module__}.{type(model).__qualname__}"
    for i, name in sorted(enumerate(names), key=lambda item: -len(item[1])):
        text = text.replace(json.dumps(name), f'"#{i}"')
    shapes = [(tuple(v.shape), str(v.dtype)) for v in model.variables]
    return f"{type(model).__name__}|{text}|{shapes}"


def loss_key(loss):
    if isinstance(loss, keras.losses.Loss):
        return f"{type(loss).__qualname__}{json.dumps(loss.get_config(), sort_keys=True, default=repr)}"
    if callable(loss):
        return f"{getattr(loss, '__module__', '')}.{getattr(loss, '__qualname__', repr(loss))}"
    return repr(loss)


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
    momenta = np.full(total, float(settings.get(momentum_name(optimizer), 0.0)))
    main, warmup_epochs = estimator._main_schedule()
    if isinstance(main, OneCycle) and optimizer not in ("RMSprop", "Adagrad"):
        offset = int(warmup_epochs * steps_per_epoch)
        steps = np.maximum(np.arange(total) - offset, 0).astype("float32")
        momenta = np.asarray(keras.ops.convert_to_numpy(main.momentum(steps)), dtype="float64")
    return rates, momenta


def _initialized(estimator, X, y):
    """``estimator.initialize(X, y)``: the model its fit builds.

    Sparse X is never densified whole: the model is built from a few rows
    (one of each class), which fixes the same shapes and encoders.
    """
    if sparse.issparse(X):
        from sklearn.base import is_classifier

        y = np.asarray(y)
        rows = np.unique(y, return_index=True)[1] if is_classifier(estimator) else [0]
        rows = np.union1d(rows, [0, min(1, len(y) - 1)])
        X, y = X[rows].toarray(), y[rows]
    estimator.initialize(X, y)
    return estimator.model_


def _built_model(estimator, X, y):
    """The model the fit builds, without its weight decay (a slot carries it as a number)."""
    decay = estimator.weight_decay
    estimator.weight_decay = 0.0
    try:
        return _initialized(estimator, X, y)
    finally:
        estimator.weight_decay = decay


def _values(variables):
    return [np.array(v.numpy()) for v in variables]


def _training_loss(estimator, model):
    """The compiled loss as one per-sample function's input, or NotPackable."""
    loss = estimator._fit_loss()
    if isinstance(loss, (dict, list, tuple)) or len(getattr(model, "outputs", None) or [0]) > 1:
        raise NotPackable("a model with several outputs or losses trains on its own")
    if isinstance(loss, type) and issubclass(loss, keras.losses.Loss):
        loss = loss()
    return loss


def smoothed(loss, targets):
    """A categorical cross-entropy's label smoothing moved into the targets.

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


def outputs_of(estimator, y):
    """The classes (a classifier) or the target shape (a regressor) of a fit on ``y``."""
    from sklearn.base import is_classifier

    if is_classifier(estimator):  # the labels, and the columns of one-hot or multilabel rows
        return tuple(np.unique(y).tolist()) + tuple(np.shape(y)[1:])
    return np.shape(y)[1:]


def _weights_key(weights):
    """``initial_weights`` as a key: a file's path, or the one object clones share."""
    return None if weights is None else str(weights) if isinstance(weights, (str, os.PathLike)) \
        else ("weights", id(weights))


def _builtin_key(estimator, X, y):
    return (type(estimator).__name__, tuple(estimator._hidden_sizes()), repr(estimator.activation),
            tuple(estimator._layer_sizes("conv_layers")), estimator.image_shape and
            tuple(estimator.image_shape), X.shape[1:], outputs_of(estimator, y),
            _weights_key(estimator.initial_weights))


# Parameters that act on training only, not on the model an estimator builds.
_TRAINING_ONLY = {"learning_rate", "epochs", "batch_size", "schedule", "warmup", "warmup_lr",
                  "momentum", "weight_decay", "early_stopping", "validation_split", "smoothing",
                  "optimizer", "verbose", "device", "metrics", "steps_per_execution",
                  "class_weight"}


def _build_key(estimator, X, y):
    """What decides the model (and its initial weights) a user's builder gives; None: no reuse.

    Slots that differ only in training parameters (a CV fold, a learning
    rate) with one ``random_state`` build the same model: it is built once.
    """
    if estimator.random_state is None:
        return None  # every fit draws anew
    built = sorted((name, repr(_weights_key(value) if name == "initial_weights" else value))
                   for name, value in estimator.get_params(deep=False).items()
                   if name not in _TRAINING_ONLY
                   and not name.startswith(("optimizer__", "schedule__", "fit__", "compile__",
                                            "callbacks__", "predict__")))
    return ("build", type(estimator).__name__, tuple(built), X.shape[1:], outputs_of(estimator, y))


def _lottery_draws(estimator, X, y, rows, targets, batch_size):
    """The slot's starting weights after its lottery: the draw the ordinary fit keeps.

    The fit's own lottery step (``_draw_lottery``: the draws as one pack, the
    error when all diverge) on the training ``rows`` the fit keeps (its samples
    as the model takes them) and their encoded ``targets``, from the model the
    fit builds, its weight decay included.
    """
    model = _initialized(estimator, X, y)
    estimator._draw_lottery(rows.toarray() if sparse.issparse(rows) else rows, targets, batch_size)
    return _values(model.trainable_variables), _values(model.non_trainable_variables)


def plan(estimator, X, y, sample_weight=None, templates=None):
    """The slot of ``estimator`` fitted on ``X, y`` and the :class:`PackRun` settings it needs.

    Sets on ``estimator`` what its fit would (``_seed``, ``learning_rate_``,
    ``schedule_``). The model is the one the estimator's fit builds (its
    builder, ``model__`` parameters, initializer, seed); the built-in
    model's later slots of one shape redraw the weights of the first's
    model (``templates``, a dict shared over one planning) instead of
    building their own. Raises :class:`NotPackable` when the built model
    or its loss cannot train in a pack, and the estimator's own errors for
    invalid parameters.

    Returns
    -------
    slot : PackedSlot
    run : dict
        :class:`PackRun`'s keyword parameters (``model``, ``loss``, ``optimizer``...).
    key : tuple
        What slots sharing a pack agree on (see :func:`pack_key`).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skhp import KerasClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> slot, run, key = plan(KerasClassifier(hidden_layer_sizes=(8,), epochs=2, smoothing=0.1), X, y)
    >>> [w.shape for w in slot.weights], run["optimizer"], len(slot.rates), slot.targets[0].round(3)
    ([(4, 8), (8,), (8, 3), (3,)], 'Adam', 10, array([0.933, 0.033, 0.033], dtype=float32))
    """
    from skhp.initializers import _kernel_layers, apply_initializer
    from skhp.runtime import seed_from

    est = estimator
    templates = {} if templates is None else templates
    rows = None
    if isinstance(X, Rows):  # rows of the search's X: the slot indexes one shared copy of it
        X, rows = X.base, X.index
    key = _builtin_key(est, X, y) if est.model is None else _build_key(est, X, y)
    source = templates.get(key) if key is not None else None
    if source is None:
        model = _built_model(est, X if rows is None else X[rows], y)
        source = (est, model, model_signature(model), _values(model.trainable_variables),
                  _values(model.non_trainable_variables))
        if key is not None:
            templates[key] = source
    else:  # a model of this build planned already: its structure, and its weights or a redraw
        est._check_params()
        est._builder_compile = getattr(source[0], "_builder_compile", None)
        est.target_encoder_ = source[0].target_encoder_  # the same classes (part of the key)
        if est.model is None:
            est._image(X.shape[1:])
        est._seed = seed_from(est.random_state)
        est.learning_rate_ = est._given_learning_rate()
    first, model, signature, weights, state = source
    if len(model.inputs or ()) > 1:
        raise NotPackable("a model with several inputs trains on its own")
    optimizer, settings = optimizer_settings(est)
    if optimizer is None:  # a build function compiled its model with another optimizer
        raise NotPackable(settings)
    if optimizer != "SGD" and any(isinstance(layer, keras.layers.Embedding)
                                  for layer in model._flatten_layers()):
        # Keras' optimizers update only an embedding's looked-up rows (its gradient is
        # sparse); a pack's gradient is dense, which is the same only for SGD
        raise NotPackable(f"an Embedding layer's sparse updates with {optimizer} train on "
                          "their own (packs apply them dense, as SGD does)")
    training = est._training_plan(y, sample_weight)  # what the ordinary fit trains on
    held, kept, batch_size = training.held, training.kept, training.batch_size
    seed = seed_or_fresh(training.seed)
    if est.model is None and first is not est and est.initial_weights is None:
        # (given initial weights are part of the key: the template starts from them)
        apply_initializer(model, est.initializer or "glorot_uniform", seed)
        weights = _values(model.trainable_variables)
    # the loss is resolved once per loss setting: resolving builds the optimizer too (~7 ms)
    loss_setting = ("loss", type(est).__name__, repr(est.loss), getattr(est, "smoothing", None),
                    repr(sorted(est._routed("loss").items())), id(model))
    if loss_setting not in templates:
        templates[loss_setting] = _training_loss(est, model)
    loss = templates[loss_setting]
    encoder = first.target_encoder_
    X_model = X if sparse.issparse(X) else _samples(first, X, templates if rows is not None else {})
    targets = np.asarray(encoder.transform(y))
    targets = targets.reshape(len(y), -1) if targets.ndim == 1 else targets
    targets = targets.astype("float32") if targets.dtype.kind in "biuf" else targets
    if est.lottery >= 2 and est.initial_weights is None:  # as the ordinary fit: no draws
        trained = kept if rows is None else rows[kept]
        weights, state = _lottery_draws(est, X if rows is None else X[rows], y, X_model[trained],
                                        targets[kept], batch_size)
    loss, targets = smoothed(loss, targets)
    sample_weight = (np.ones(len(y), "float32") if training.sample_weight is None
                     else np.asarray(training.sample_weight, "float32"))
    if rows is not None:  # the job's rows of the shared X: its targets and weights there too
        targets, sample_weight = _spread(targets, rows, len(X)), _spread(sample_weight, rows, len(X))
        kept, held = rows[kept], rows[held]
    rates, momenta = _schedule_tables(est, training.steps_per_epoch, optimizer, settings)
    kernels = {id(layer.kernel) for layer in _kernel_layers(model)}
    decayed = tuple(id(v) in kernels for v in model.trainable_variables)
    slot = PackedSlot(
        X=X_model,
        train=kept, validation=held if len(held) else None, targets=targets,
        sample_weight=sample_weight, weights=weights, rates=rates,
        momenta=momenta, settings=numbers(settings), state=state,
        l2=float(est.weight_decay), patience=int(est.early_stopping), seed=seed)
    shuffle = bool(est._routed("fit").get("shuffle", True))
    program_key = (signature, loss_key(loss))
    run = dict(model=model, loss=loss, optimizer=optimizer, batch_size=batch_size,
               epochs=int(est.epochs), shuffle=shuffle, structural=structural(settings),
               decayed=decayed, key=program_key)
    # a batch's statistics (BatchNormalization) see every row of a step: slots of one pack
    # then need equal batches, so equal numbers of training rows
    by_batch = any(isinstance(layer, keras.layers.BatchNormalization)
                   for layer in model._flatten_layers())
    key = pack_key(run, len(kept) if by_batch else None)
    return slot, run, key


def _samples(first, X, shared):
    """Dense ``X`` as the model takes it, numbers in float32; made once per planning in
    ``shared`` (a dict kept over the planning), so that the slots of a search share one copy."""
    made = shared.get(("X", id(X)))
    if made is None or made[0] is not X:
        samples, _ = first._validate_data(X=X, y=None)
        samples = np.asarray(first.feature_encoder_.transform(samples))
        samples = samples.astype("float32", copy=False) if samples.dtype.kind in "biuf" else samples
        made = shared[("X", id(X))] = (X, samples)
    return made[1]


def _spread(values, rows, n):
    """``values`` of a job's ``rows`` placed in an array over all ``n`` rows (zeros elsewhere)."""
    out = np.zeros((n, *values.shape[1:]), dtype=values.dtype)
    out[rows] = values
    return out


def pack_key(run, rows=None):
    """What slots sharing a pack agree on, from :func:`plan`'s ``run`` settings.

    Examples
    --------
    >>> run = dict(key=("model", "loss"), optimizer="Adam", batch_size=32, epochs=5,
    ...            shuffle=True, structural=(False, False, False), decayed=(True, False))
    >>> pack_key(run) == pack_key({**run, "model": None}) != pack_key({**run, "epochs": 6})
    True
    """
    return (run["key"], run["optimizer"], run["batch_size"], run["epochs"], run["shuffle"],
            tuple(run["structural"]), tuple(run["decayed"]), rows)
