"""Epoch-level callbacks the estimators add to every fit."""

import keras

__all__ = ["LearningRateLogger"]


class LearningRateLogger(keras.callbacks.Callback):
    """Record the learning rate in force at the start of each epoch as ``logs["lr"]``.

    The value is read from the optimizer at that moment, so it is the rate the
    schedule (and any warm-up) really applies to the epoch's first step.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> h = model.fit(np.ones((4, 2)), np.ones(4), epochs=2, verbose=0,
    ...               callbacks=[LearningRateLogger()])
    >>> [round(v, 4) for v in h.history["lr"]]
    [0.01, 0.01]
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = self._lr
