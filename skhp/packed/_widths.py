"""Slots of different widths in one pack: hidden Dense layers padded to a few widths.

Every model structure is its own program, traced once (about half a second
on a CPU): a search over a layer's width would trace one per width it
tries. Instead, a model whose hidden ``Dense`` layers may be widened
exactly trains as the same model with each hidden width rounded up to a
*bucket* (8, 12, 16, 24, 32, 48, 64, 96, ...: powers of 2 and one and a
half times them), its slot's weights zero-padded: one program serves every
width of a bucket, and slots of widths 100 and 120 share a pack.

Why the padding changes nothing: a padded unit has zero incoming weights
and bias, so its pre-activation is 0; its activation maps 0 to 0 (checked),
and its outgoing weights are zero, so it adds nothing to the next layer.
Every gradient of a padded weight is then zero too (the unit's output and
its outgoing weights are both zero), so every optimizer leaves it at zero,
and a weight decay of zero is zero. Between the first widened layer and the
last ``Dense`` only layers that act on each unit alone may stand
(``BatchNormalization`` of the last axis normalizes a constant padded unit
to 0); regularizers, constraints and ``Dropout`` at a rate above 0 (its
draws would be of another shape than the ordinary fit's) keep a model as it
is. A slot's results are cut back to its own shapes.
"""

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import keras
import numpy as np

from skhp.fit_spec import config_text, model_signature
from skhp.packed._kept import Kept

__all__ = ["bucket", "widened", "padded", "cut"]

_WIDENED = Kept(64)  # a model's signature -> (its bucket's model, signature) or None
_BUCKETS = Kept(64)  # a bucket's config -> (its model, signature) or None

# Layers that act on each unit alone (a padded unit stays 0 through them).
_UNITWISE = (keras.layers.Dense, keras.layers.Activation, keras.layers.BatchNormalization,
             keras.layers.Dropout, keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.ELU)
_EXTRAS = ("kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
           "bias_constraint", "beta_regularizer", "gamma_regularizer", "beta_constraint",
           "gamma_constraint", "noise_shape", "lora_rank")


def bucket(units):
    """The width a hidden layer of ``units`` trains at in a pack: the next of 8, 12, 16, 24,
    32, 48, 64, 96, ... (powers of 2 and one and a half times them).

    Examples
    --------
    >>> [bucket(u) for u in (1, 8, 9, 13, 64, 65, 100, 200, 256)]
    [8, 8, 12, 16, 64, 96, 128, 256, 256]
    """
    width = 8
    while width < units:
        width = width * 3 // 2 if width & (width - 1) == 0 else width * 4 // 3
    return width


def _keeps_zero(activation):
    try:
        out = keras.ops.convert_to_numpy(activation(keras.ops.zeros((1, 2))))
    except Exception:  # noqa: BLE001  (an activation that cannot be checked is not trusted)
        return False
    return bool(np.all(out == 0.0))


def _plain(layer):
    config = layer.get_config()
    return all(config.get(name) is None for name in _EXTRAS) and \
        (not isinstance(layer, keras.layers.BatchNormalization) or config["axis"] in (-1, [-1])) \
        and (not isinstance(layer, keras.layers.Dropout) or config["rate"] == 0)


def _widths(model):
    """``{layer name: bucket}`` of the hidden Dense layers to widen, or None when the model
    cannot be widened exactly or has nothing to widen."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    dense = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Dense)]
    if len(dense) < 2:
        return None
    try:
        flat = [len(layers[i].input.shape) == 2 for i in dense]
    except (AttributeError, ValueError):  # a layer called more than once, or never
        return None
    if not all(flat):
        return None
    between = layers[dense[0]:dense[-1] + 1]
    for layer in between:
        if type(layer) not in _UNITWISE or not _plain(layer):
            return None
        if layer is not layers[dense[-1]] and isinstance(layer, (keras.layers.Dense,
                                                                 keras.layers.Activation)) \
                and not _keeps_zero(layer.activation):
            return None
    widths = {layers[i].name: bucket(layers[i].units) for i in dense[:-1]}
    if all(layers[i].units == widths[layers[i].name] for i in dense[:-1]):
        return None
    return widths


def _widen(model):
    if not type(model).__module__.startswith("keras.") or \
            type(model).__name__ not in ("Functional", "Sequential"):
        return None  # a subclassed model: its call may not be a chain of its layers
    try:
        widths = _widths(model)
        if widths is None:
            return None
        config = model.get_config()
        for layer in config["layers"]:  # the bucket's config; its layers' shapes follow from it
            layer.pop("build_config", None)
            if layer["config"]["name"] in widths:
                layer["config"]["units"] = widths[layer["config"]["name"]]
    except Exception:  # noqa: BLE001  (any doubt: the model packs at its own widths)
        return None
    return _BUCKETS.get((type(model).__name__, config_text(model, config)),
                        lambda: _bucket_model(model, widths))


def _bucket_model(model, widths):
    def clone(layer):
        config = layer.get_config()
        if layer.name in widths:
            config["units"] = widths[layer.name]
        # its own values are never used (a pack passes its slots'): drawing none spares
        # JAX a compilation of its random draws per shape
        config.update({k: "zeros" for k in config if k.endswith("initializer")})
        return type(layer).from_config(config)

    try:
        template = keras.models.clone_model(model, clone_function=clone)
    except Exception:  # noqa: BLE001
        return None
    mine = [tuple(v.shape) for v in model.variables]
    theirs = [tuple(v.shape) for v in template.variables]
    if len(mine) != len(theirs) or any(len(a) != len(b) or any(x > y for x, y in zip(a, b))
                                       for a, b in zip(mine, theirs)):
        return None
    return template, model_signature(template)


def widened(model, signature):
    """The model a slot of ``model`` trains as in a pack, with its structure's signature:
    ``model`` widened to its buckets (:func:`bucket`), or None when it trains as it is.

    Kept per ``signature`` (``model``'s own), so every slot of a width shares one model.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(20, activation="relu"),
    ...                           keras.layers.Dense(3)])
    >>> template, _ = widened(model, model_signature(model))
    >>> [tuple(v.shape) for v in template.trainable_variables]
    [(4, 24), (24,), (24, 3), (3,)]
    >>> sigmoid = keras.Sequential([keras.Input((4,)), keras.layers.Dense(20, activation="sigmoid"),
    ...                             keras.layers.Dense(3)])
    >>> widened(sigmoid, model_signature(sigmoid)) is None  # sigmoid(0) is not 0
    True
    """
    return _WIDENED.get(signature, lambda: _widen(model))


def padded(values, variables):
    """``values`` zero-padded at the end of every axis to the shapes of ``variables``.

    Examples
    --------
    >>> padded([np.ones((2, 1))], [np.zeros((3, 2))])[0]
    array([[1., 0.],
           [1., 0.],
           [0., 0.]])
    """
    out = []
    for value, variable in zip(values, variables):
        value = np.asarray(value)
        shape = tuple(variable.shape)
        if value.shape == shape:
            out.append(value)
            continue
        wide = np.zeros(shape, value.dtype)
        wide[tuple(slice(0, n) for n in value.shape)] = value
        out.append(wide)
    return out


def cut(values, shapes):
    """``values`` cut back to ``shapes`` (the inverse of :func:`padded`).

    Examples
    --------
    >>> cut([np.arange(6).reshape(2, 3)], [(2, 2)])[0]
    array([[0, 1],
           [3, 4]])
    """
    return [value[tuple(slice(0, n) for n in shape)] for value, shape in zip(values, shapes)]
