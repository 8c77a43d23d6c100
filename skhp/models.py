"""Default model builders used when an estimator is given no ``model``."""

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import keras
import numpy as np

__all__ = ["build_mlp", "image_channels", "input_image"]


def image_channels(image_shape):
    """``image_shape`` as ``(height, width, channels)``: one channel when only two are given.

    Examples
    --------
    >>> image_channels((8, 8)), image_channels([28, 28, 3])
    ((8, 8, 1), (28, 28, 3))
    """
    shape = tuple(int(n) for n in image_shape)
    return shape + (1,) if len(shape) == 2 else shape


def input_image(sample_shape, conv, image_shape=None, conv_layers=None):
    """``(height, width, channels)`` the built-in model's convolutions see; None without them.

    ``sample_shape`` is one sample's shape (``X.shape[1:]``): flat rows
    are reshaped to ``image_shape``; 3-d/4-d X (images as they come) give
    their own shape, which ``image_shape``, when given, must match. A
    given ``image_shape`` is checked against X with or without
    convolutions (without them the MLP sees the same pixels, flat).

    Parameters
    ----------
    sample_shape : tuple of int
    conv : list of int
        Filters of the convolutions (empty: none).
    image_shape : tuple of int or None
        The estimator's ``image_shape``.
    conv_layers : object
        The estimator's ``conv_layers`` as given (for messages).

    Raises
    ------
    ValueError
        Naming ``image_shape`` (or ``conv_layers``) when it does not fit X.

    Examples
    --------
    >>> input_image((64,), [8], (8, 8)), input_image((8, 8), [8]), input_image((64,), [])
    ((8, 8, 1), (8, 8, 1), None)
    """
    sample_shape = tuple(int(n) for n in np.atleast_1d(sample_shape))
    n_features = int(np.prod(sample_shape))
    if image_shape is None:
        if not conv:
            return None
        if len(sample_shape) in (2, 3):
            return image_channels(sample_shape)
        raise ValueError(
            f"conv_layers={conv_layers if conv_layers is not None else tuple(conv)!r} needs "
            "image_shape, the (height, width) or (height, width, channels) of one sample; X "
            f"has {n_features} features per sample.")
    image = image_channels(image_shape)
    if int(np.prod(image)) != n_features:
        raise ValueError(
            f"image_shape={tuple(image_shape)!r} holds {int(np.prod(image))} values, but X "
            f"has {n_features} features per sample.")
    if len(sample_shape) > 1 and image_channels(sample_shape) != image:
        raise ValueError(
            f"image_shape={tuple(image_shape)!r} does not match X's samples of shape "
            f"{sample_shape}; leave image_shape=None to take the shape from X.")
    return image if conv else None


def build_mlp(input_shape, n_outputs, hidden_layer_sizes=(100,), activation="relu",
              output_activation=None, conv_layers=(), image_shape=None):
    """A fully connected network, optionally led by small convolutions.

    ``Flatten`` (for n-d input), hidden ``Dense`` layers, output. With
    ``conv_layers``, each flat sample is first reshaped to ``image_shape``
    and goes through one 3×3 ``Conv2D`` (same padding, ``activation``)
    followed by 2×2 ``MaxPooling2D`` (same padding) per entry.

    Kernels are left at Keras' defaults; the estimators redraw them from their
    ``initializer`` and add their ``weight_decay`` after building. Under a
    mixed-precision dtype policy the output layer stays in float32, so that the
    softmax and the loss keep their precision.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample.
    n_outputs : int
        Units of the output layer.
    hidden_layer_sizes : sequence of int, default=(100,)
        Units of each hidden layer; empty for a linear model.
    activation : str or callable, default="relu"
        Activation of the hidden layers.
    output_activation : str or None
        Activation of the output layer (``"softmax"`` for classifiers).
    conv_layers : sequence of int, default=()
        Filters of each convolution; empty for none.
    image_shape : tuple of int or None, default=None
        ``(height, width)`` or ``(height, width, channels)`` of one sample,
        whose product is the number of input features; None takes it from
        ``input_shape`` (images as they come).

    Returns
    -------
    keras.Model
        An uncompiled model.

    Examples
    --------
    >>> model = build_mlp((8,), 3, hidden_layer_sizes=(16, 16), output_activation="softmax")
    >>> [layer.units for layer in model.layers[1:]]
    [16, 16, 3]
    >>> cnn = build_mlp((64,), 10, (32,), conv_layers=(8, 16), image_shape=(8, 8))
    >>> cnn.layers[-3].output.shape  # two 3x3 convolutions, each pooled: 8x8 -> 4x4 -> 2x2
    (None, 64)
    """
    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    if conv_layers:
        image = image_channels(tuple(input_shape) if image_shape is None else image_shape)
        x = keras.layers.Reshape(image)(x)
        for filters in conv_layers:
            x = keras.layers.Conv2D(filters, 3, padding="same", activation=activation)(x)
            x = keras.layers.MaxPooling2D(2, padding="same")(x)
    x = keras.layers.Flatten()(x) if len(x.shape) > 2 else x
    for units in hidden_layer_sizes:
        x = keras.layers.Dense(units, activation=activation)(x)
    mixed = keras.config.dtype_policy().name.startswith("mixed")
    outputs = keras.layers.Dense(n_outputs, activation=output_activation,
                                 dtype="float32" if mixed else None)(x)
    return keras.Model(inputs, outputs)
