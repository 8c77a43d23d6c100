"""Planning a packed fit: what packs, and the slot a fit's spec trains as.

:func:`pack_reason` says, from an estimator's fit settings alone
(:meth:`fit_settings`), why it cannot train in a pack. :func:`plan` turns a
fit's spec (:class:`skhp.fit_spec.FitSpec`: its model and initial weights,
training plan, targets, optimizer, learning rate and momentum at every
step) into a slot of arrays, so a slot starts and steps where the ordinary
fit does; the planner reads the spec and the engine
(:mod:`skhp.packed._engine`) models and arrays, neither the estimator.
Slots pack together when their :func:`pack_key` agree: the same model
structure (layer graph, configs, weight shapes), loss, optimizer, batch
size and epochs.
"""

import json

import numpy as np

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import keras

from skhp.fit_spec import numbers, structural
from skhp.packed._engine import PackedSlot
from skhp.packed._widths import padded, widened

__all__ = ["NotPackable", "pack_reason", "lottery_reason", "pack_key", "plan", "loss_key",
           "Packable"]

# compile__ settings that leave the training steps as they are (metrics are not computed
# in packs; the others tune Keras' own loop).
_COMPILE_PACKS = {"metrics", "weighted_metrics", "jit_compile", "steps_per_execution",
                  "run_eagerly", "auto_scale_loss", "loss"}


class NotPackable(ValueError):
    """A fit's built model or loss cannot train in a pack (its reason is the message)."""


class Packable:
    """What a packed fit needs of an estimator (the skhp estimators have it).

    ``fit_settings()`` returns a :class:`skhp.fit_spec.FitSettings`;
    ``fit_spec(X, y, sample_weight, shared)`` a :class:`skhp.fit_spec.FitSpec`;
    ``fitted_from_slot(X, y, result, template)`` makes the estimator
    fitted with a slot's weights. Anything else trains the ordinary way.
    """

    METHODS = ("fit_settings", "fit_spec", "fitted_from_slot")

    @classmethod
    def implemented_by(cls, estimator):
        """Whether ``estimator`` has every method a packed fit calls.

        Examples
        --------
        >>> from sklearn.linear_model import Ridge
        >>> from skhp import KerasRegressor
        >>> Packable.implemented_by(KerasRegressor()), Packable.implemented_by(Ridge())
        (True, False)
        """
        return all(callable(getattr(estimator, name, None)) for name in cls.METHODS)


def _backend_reason():
    if keras.backend.backend() not in ("tensorflow", "jax", "torch"):
        return (f"packs run on the TensorFlow, JAX and PyTorch backends, not "
                f"{keras.backend.backend()}")
    return None


def pack_reason(estimator):
    """Why ``estimator`` cannot be trained in a pack, or None when it can.

    Packs train any model the estimator builds — the built-in MLP or CNN, a
    builder function (``model=build``, with ``model__`` parameters), a
    Keras model instance — with any loss, in float32 on the TensorFlow, JAX or
    PyTorch backend, with an optimizer of :data:`skhp.fit_spec.OPTIMIZER_SETTINGS`.
    What needs Keras' own training loop (callbacks, ``warm_start``,
    ``fit__`` settings) trains as an ordinary fit. A model whose layers
    turn out not to vectorize is found when its pack is traced (see
    :func:`skhp.packed.start_packs`).

    Examples
    --------
    >>> from skhp import KerasClassifier
    >>> pack_reason(KerasClassifier()) is None
    True
    >>> pack_reason(KerasClassifier(learning_rate="auto"))
    "learning_rate='auto' runs an LR range test per fit"
    """
    if not Packable.implemented_by(estimator):
        return f"{type(estimator).__name__} is not an skhp Keras estimator"
    backend = _backend_reason()
    if backend is not None:
        return backend
    settings = estimator.fit_settings()
    lottery = lottery_reason(settings) if settings.lottery else None
    compile_options = sorted(set(settings.compile_options) - _COMPILE_PACKS)
    checks = [
        (settings.lr_search, "learning_rate='auto' runs an LR range test per fit"),
        (settings.precision != "float32", f"precision={settings.precision!r} trains on its own"),
        (settings.callbacks, "callbacks act inside Keras' own training loop"),
        (lottery is not None, f"lottery draws train on their own ({lottery})"),
        (settings.warm_start, "warm_start continues an existing model"),
        (bool(settings.fit_options), f"fit__ settings {list(settings.fit_options)} apply to Keras' fit"),
        (bool(compile_options), f"compile__ settings {compile_options} apply to Keras' loop"),
    ]
    for failed, reason in checks:
        if failed:
            return reason
    _, reason = settings.optimizer.pack_settings()
    if reason is not None:
        return reason
    if settings.schedule is not None:
        return settings.schedule
    if settings.stop.ends is not None:
        return "early stopping at the ends of cycles runs as a Keras callback"
    return None


def lottery_reason(settings):
    """Why a fit's lottery draws cannot train as one pack, or None when they can.

    The draws of skhp's built-in MLP with its built-in loss, in float32, with
    an optimizer of :data:`skhp.fit_spec.OPTIMIZER_SETTINGS` train as one
    pack; other models draw one after another (:func:`skhp.lottery.draw_lottery`).

    Parameters
    ----------
    settings : skhp.fit_spec.FitSettings

    Examples
    --------
    >>> from skhp import KerasClassifier
    >>> lottery_reason(KerasClassifier(lottery=10).fit_settings()) is None
    True
    >>> lottery_reason(KerasClassifier(lottery=10, optimizer="adadelta").fit_settings())
    'optimizer Adadelta is not one a pack trains (SGD, Adam, AdamW, RMSprop, Nadam, Adamax, Adagrad)'
    """
    backend = _backend_reason()
    if backend is not None:
        return backend
    if not settings.builtin_model:
        return "a model of the user's (model=...) draws on its own"
    if settings.own_loss:
        return "a loss of the user's (loss=...) draws on its own"
    if settings.precision != "float32":
        return f"precision={settings.precision!r} draws on its own"
    return settings.lottery_optimizer.pack_settings()[1]


def loss_key(loss):
    if isinstance(loss, keras.losses.Loss):
        return f"{type(loss).__qualname__}{json.dumps(loss.get_config(), sort_keys=True, default=repr)}"
    if callable(loss):
        return f"{getattr(loss, '__module__', '')}.{getattr(loss, '__qualname__', repr(loss))}"
    return repr(loss)


def plan(spec):
    """The slot of a fit's spec and the :class:`PackRun` settings it needs.

    Raises :class:`NotPackable` when the spec's model or loss cannot train
    in a pack.

    Parameters
    ----------
    spec : skhp.fit_spec.FitSpec

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
    >>> slot, run, key = plan(KerasClassifier(hidden_layer_sizes=(8,), epochs=2, smoothing=0.1).fit_spec(X, y))
    >>> [w.shape for w in slot.weights], run["optimizer"], len(slot.rates), slot.targets[0].round(3)
    ([(4, 8), (8,), (8, 3), (3,)], 'Adam', 10, array([0.933, 0.033, 0.033], dtype=float32))
    """
    model, settings = spec.model, spec.settings
    if len(model.inputs or ()) > 1:
        raise NotPackable("a model with several inputs trains on its own")
    if isinstance(spec.loss, (dict, list, tuple)) or len(getattr(model, "outputs", None) or [0]) > 1:
        raise NotPackable("a model with several outputs or losses trains on its own")
    optimizer = settings.optimizer.name
    optimizer_settings, reason = settings.optimizer.pack_settings()
    if reason is not None:  # a build function compiled its model with another optimizer
        raise NotPackable(reason)
    weights, state, signature, shapes = spec.weights, spec.state, spec.signature, None
    wide = widened(model, signature)
    if wide is not None:  # hidden widths rounded up: slots of nearby widths share a program
        model, signature = wide
        shapes = [np.shape(v) for v in (*weights, *state)]
        weights = padded(weights, model.trainable_variables)
        state = padded(state, model.non_trainable_variables)
    slot = PackedSlot(
        X=spec.X, train=spec.train, validation=spec.validation, targets=spec.targets,
        sample_weight=spec.sample_weight, weights=weights, rates=spec.rates,
        momenta=spec.momenta, settings=numbers(optimizer_settings), state=state,
        l2=spec.l2, patience=spec.settings.stop.patience, seed=spec.seed, shapes=shapes)
    run = dict(model=model, loss=spec.loss, optimizer=optimizer,
               batch_size=spec.training.batch_size, epochs=settings.epochs,
               shuffle=settings.shuffle, structural=structural(optimizer_settings),
               decayed=spec.decayed, key=(signature, loss_key(spec.loss)))
    # a batch's statistics (BatchNormalization) see every row of a step: slots of one pack
    # then need equal batches, so equal numbers of training rows
    by_batch = any(isinstance(layer, keras.layers.BatchNormalization)
                   for layer in model._flatten_layers())
    key = pack_key(run, len(spec.training.kept) if by_batch else None)
    return slot, run, key


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
