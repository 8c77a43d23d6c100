"""Default model builders used when an estimator is given no ``model``."""

import keras

__all__ = ["build_mlp"]


def build_mlp(input_shape, n_outputs, hidden_layer_sizes=(100,), activation="relu",
              output_activation=None):
    """A fully connected network: ``Flatten`` (for n-d input), hidden ``Dense`` layers, output.

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

    Returns
    -------
    keras.Model
        An uncompiled model.

    Examples
    --------
    >>> model = build_mlp((8,), 3, hidden_layer_sizes=(16, 16), output_activation="softmax")
    >>> [layer.units for layer in model.layers[1:]]
    [16, 16, 3]
    """
    inputs = keras.Input(shape=tuple(input_shape))
    x = keras.layers.Flatten()(inputs) if len(input_shape) > 1 else inputs
    for units in hidden_layer_sizes:
        x = keras.layers.Dense(units, activation=activation)(x)
    mixed = keras.config.dtype_policy().name.startswith("mixed")
    outputs = keras.layers.Dense(n_outputs, activation=output_activation,
                                 dtype="float32" if mixed else None)(x)
    return keras.Model(inputs, outputs)
