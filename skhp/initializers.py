"""Weight initializers by name, applied to every layer that has a kernel.

The estimators build a model (the built-in MLP or a user's builder) and then
draw every kernel again from the chosen initializer, so the ``initializer``
parameter takes effect whatever built the model. The same two steps put an L2
penalty on every kernel (``weight_decay``).
"""


import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import keras
import numpy as np

from skhp._validation import check_choice

__all__ = ["INITIALIZERS", "get_initializer", "apply_initializer", "apply_weight_decay", "kernel_layers",
           "with_weight_decay", "WithWeightDecay",
           "redraw_weights"]


def _initializer_names():
    names = {
        "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal",
        "lecun_uniform", "orthogonal", "random_normal", "random_uniform",
        "truncated_normal", "variance_scaling", "zeros", "ones", "identity", "constant",
    }
    for name in dir(keras.initializers):
        obj = getattr(keras.initializers, name)
        if isinstance(obj, type) and issubclass(obj, keras.initializers.Initializer):
            if obj is not keras.initializers.Initializer:
                names.add(name)
    return frozenset(names)


#: Initializer names Keras knows: class names such as ``HeNormal`` and the
#: snake-case aliases such as ``he_normal``.
INITIALIZERS = _initializer_names()


def get_initializer(initializer, seed=None):
    """Return a Keras initializer for a name, config dict or object, seeded.

    Parameters
    ----------
    initializer : str, dict or keras.initializers.Initializer
        Any Keras initializer name (``"he_normal"``, ``"GlorotUniform"``, ...),
        a serialized config, or an instance.
    seed : int or None
        Seed for initializers that draw random numbers; None keeps the
        initializer's own.

    Returns
    -------
    keras.initializers.Initializer

    Examples
    --------
    >>> get_initializer("he_normal", seed=0).get_config()["seed"]
    0
    """
    if isinstance(initializer, keras.initializers.Initializer):
        obj = initializer
    elif isinstance(initializer, (str, dict)):
        try:
            obj = keras.initializers.get(initializer)
        except ValueError:
            check_choice(initializer, "initializer", INITIALIZERS)
            raise
    else:
        raise TypeError(
            "initializer must be a Keras initializer name, config dict or "
            f"keras.initializers.Initializer, got {initializer!r}."
        )
    config = obj.get_config()
    if seed is not None and "seed" in config:
        config["seed"] = seed
        obj = type(obj).from_config(config)
    return obj


def kernel_layers(model):
    """The layers of ``model`` that have a kernel (nested ones included).

    Examples
    --------
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3), keras.layers.Dropout(0.1)])
    >>> [type(layer).__name__ for layer in kernel_layers(model)]
    ['Dense']
    """
    # _flatten_layers also reaches layers nested in sub-models and custom layers.
    return [layer for layer in model._flatten_layers() if getattr(layer, "kernel", None) is not None]


def apply_initializer(model, initializer, seed=None):
    """Redraw the kernel of every layer of ``model`` from ``initializer``.

    Each layer gets its own seed (``seed + i``) so that layers of the same shape
    do not receive identical weights. Biases are left as built (zeros).

    Parameters
    ----------
    model : keras.Model
        A built model.
    initializer : str, dict or keras.initializers.Initializer
        See :func:`get_initializer`.
    seed : int or None
        Base seed; None draws fresh random weights.

    Returns
    -------
    int
        The number of kernels redrawn.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> apply_initializer(model, "zeros")
    1
    >>> float(abs(model.layers[0].kernel.numpy()).sum())
    0.0
    """
    layers = kernel_layers(model)
    for i, layer in enumerate(layers):
        init = get_initializer(initializer, None if seed is None else seed + i)
        kernel = layer.kernel
        kernel.assign(init(kernel.shape, dtype=kernel.dtype))
        if hasattr(layer, "kernel_initializer"):
            layer.kernel_initializer = init
    return len(layers)


#: Weight attributes a layer may have, each with an ``<name>_initializer``.
_WEIGHTS = ("kernel", "recurrent_kernel", "depthwise_kernel", "pointwise_kernel", "embeddings",
            "bias", "gamma", "beta", "moving_mean", "moving_variance")


def redraw_weights(model, initializer=None, seed=None):
    """Give a built model a fresh random draw of weights, in place, without rebuilding it.

    Kernels are drawn from ``initializer`` (each layer's own kernel
    initializer when None), every other weight a layer knows the initializer
    of (biases, batch-normalization scales and statistics, embeddings) is reset
    from it. Each layer gets its own seed (``seed + i``).

    Parameters
    ----------
    model : keras.Model
        A built model.
    initializer : str, dict, keras.initializers.Initializer or None, default=None
        See :func:`get_initializer`.
    seed : int or None, default=None
        Base seed; None draws fresh random weights.

    Returns
    -------
    int
        The number of weights reset.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, bias_initializer="ones")])
    >>> before = model.get_weights()
    >>> redraw_weights(model, "he_normal", seed=1)
    2
    >>> bool(np.allclose(before[0], model.get_weights()[0])), model.get_weights()[1].tolist()
    (False, [1.0, 1.0, 1.0])
    """
    count = 0
    for i, layer in enumerate(model._flatten_layers(include_self=False)):
        layer_seed = None if seed is None else seed + i
        for name in _WEIGHTS:
            variable = getattr(layer, name, None)
            if not isinstance(variable, keras.Variable):
                continue
            own = getattr(layer, f"{name}_initializer", None)
            if name == "kernel" and initializer is not None:
                init = get_initializer(initializer, layer_seed)
            elif own is not None:
                init = get_initializer(own, layer_seed)
            else:
                continue
            variable.assign(init(variable.shape, dtype=variable.dtype))
            count += 1
    return count


@keras.saving.register_keras_serializable(package="skhp")
class WithWeightDecay(keras.regularizers.Regularizer):
    """A user's own kernel regularizer plus skhp's L2 ``weight_decay`` term.

    Used by :func:`apply_weight_decay` for regularizers other than Keras'
    L1, L2 and L1L2 (those simply gain the L2 factor).

    Parameters
    ----------
    regularizer : keras.regularizers.Regularizer
        The layer's own regularizer, kept as it is.
    l2 : float
        The added L2 factor.

    Examples
    --------
    >>> import numpy as np
    >>> r = WithWeightDecay(keras.regularizers.get({"class_name": "OrthogonalRegularizer",
    ...                                            "config": {"factor": 0.0}}), 0.5)
    >>> float(r(np.ones((2, 1), "float32")))  # 0 + 0.5 * (1 + 1)
    1.0
    """

    def __init__(self, regularizer, l2):
        self.regularizer = keras.regularizers.get(regularizer)
        self.l2 = float(l2)
        self._l2 = keras.regularizers.L2(self.l2)

    def __call__(self, x):
        return self.regularizer(x) + self._l2(x)

    def get_config(self):
        return {"regularizer": keras.regularizers.serialize(self.regularizer), "l2": self.l2}


def with_weight_decay(regularizer, weight_decay):
    """``regularizer`` (None, or a layer's own) with an L2 term ``weight_decay · Σw²`` added.

    Examples
    --------
    >>> config = with_weight_decay(keras.regularizers.L1(1e-3), 5e-4).get_config()
    >>> round(config["l1"], 6), round(config["l2"], 6)
    (0.001, 0.0005)
    >>> with_weight_decay(None, 5e-4).get_config()
    {'l2': 0.0005}
    """
    if regularizer is None:
        return keras.regularizers.L2(weight_decay)
    if type(regularizer) in (keras.regularizers.L1, keras.regularizers.L2, keras.regularizers.L1L2):
        config = regularizer.get_config()
        return keras.regularizers.L1L2(l1=config.get("l1", 0.0),
                                       l2=config.get("l2", 0.0) + weight_decay)
    return WithWeightDecay(regularizer, weight_decay)


def apply_weight_decay(model, weight_decay):
    """Add an L2 penalty ``weight_decay · Σw²`` to every kernel of ``model``.

    The penalty joins ``model.losses`` and so the training loss, and is kept in
    the layers' configs so that a saved model reloads with it. A kernel's own
    regularizer (a user's ``kernel_regularizer=L1(1e-4)``) is kept: the L2
    term is added to it (:func:`with_weight_decay`).

    Parameters
    ----------
    model : keras.Model
        A built model.
    weight_decay : float
        The L2 factor, >= 0; 0 removes nothing and adds nothing.

    Returns
    -------
    int
        The number of kernels regularized.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> apply_weight_decay(model, 1e-3)
    1
    >>> len(model.losses)
    1
    """
    if not weight_decay:
        return 0
    layers = kernel_layers(model)
    for layer in layers:
        own = getattr(layer, "kernel_regularizer", None) or layer.kernel.regularizer
        regularizer = with_weight_decay(own, weight_decay)
        layer.kernel.regularizer = regularizer
        if hasattr(layer, "kernel_regularizer"):
            layer.kernel_regularizer = regularizer
    return len(layers)
