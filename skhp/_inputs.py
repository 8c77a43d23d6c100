"""X for a model of several inputs: one array's columns split among the inputs."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["InputSplitter"]


class InputSplitter(TransformerMixin, BaseEstimator):
    """Split each row of X among a model's inputs, in their order, reshaped to each input.

    scikit-learn splits, scores and pipelines one array X; a Keras model of
    several inputs takes a list of arrays. The estimators use this as their
    feature encoder for such a model: X holds the inputs' features side by
    side (their widths summing to X's number of features).

    Parameters
    ----------
    shapes : list of tuple
        Each input's sample shape, in the model's input order.
    names : list of str or None
        The inputs' names, for messages.

    Examples
    --------
    >>> split = InputSplitter([(2,), (1,)]).fit(np.zeros((1, 3)))
    >>> [part.tolist() for part in split.transform(np.array([[1.0, 2.0, 3.0]]))]
    [[[1.0, 2.0]], [[3.0]]]
    """

    def __init__(self, shapes, names=None):
        self.shapes = shapes
        self.names = names

    def fit(self, X, y=None):
        widths = [int(np.prod(shape)) if None not in shape else None for shape in self.shapes]
        n_features = int(np.prod(np.shape(X)[1:]))
        names = self.names or [f"input {i}" for i in range(len(self.shapes))]
        described = ", ".join(f"{n} {tuple(s)}" for n, s in zip(names, self.shapes))
        if None in widths or sum(widths) != n_features:
            raise ValueError(
                f"the model takes {len(self.shapes)} inputs ({described}), and X has "
                f"{n_features} features per sample: skhp splits X's columns among the inputs "
                "in their order, so X must hold each input's features side by side (np.hstack "
                "of the inputs' rows, widths summing to X's). For another layout, subclass the "
                "estimator with a feature_encoder (scikeras' way) that returns the list of arrays.")
        self.widths_ = widths
        return self

    def transform(self, X):
        X = np.asarray(X).reshape(len(X), -1)
        parts = np.split(X, np.cumsum(self.widths_)[:-1], axis=1)
        return [part.reshape((len(X), *shape)) for part, shape in zip(parts, self.shapes)]
