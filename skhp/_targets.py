"""Target encoding for the classifier's built-in loss."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.multiclass import type_of_target


class OneHotLabelEncoder(TransformerMixin, BaseEstimator):
    """Encode class labels (integers, strings, ...) as one-hot rows and back.

    Used with the classifier's built-in categorical cross-entropy so that label
    smoothing works for binary and multiclass problems alike.

    Parameters
    ----------
    classes : array-like or None
        All classes, when known in advance (``partial_fit``); else inferred.

    Examples
    --------
    >>> enc = OneHotLabelEncoder().fit(np.array(["b", "a", "b"]))
    >>> enc.transform(np.array(["a", "b"])).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    >>> enc.inverse_transform(np.array([[0.2, 0.8]])).tolist()
    ['b']
    """

    def __init__(self, classes=None):
        self.classes = classes

    def fit(self, y):
        y = np.asarray(y)
        kind = type_of_target(y if self.classes is None else self.classes)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"Unknown label type: {kind!r}. The classifier takes one column of "
                "class labels (binary or multiclass)."
            )
        self.classes_ = np.unique(y) if self.classes is None else np.asarray(self.classes)
        if self.classes_.size < 2:
            raise ValueError(
                "Classifier can't train when only one class is present: y holds "
                f"the single class {self.classes_[0]!r}; it needs at least 2 classes."
            )
        self.n_classes_ = self.classes_.size
        return self

    def transform(self, y):
        y = np.asarray(y).reshape(-1)
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, self.n_classes_ - 1)
        unknown = self.classes_[index] != y
        if unknown.any():
            raise ValueError(f"y contains labels not seen in fit: {np.unique(y[unknown])}.")
        return np.eye(self.n_classes_, dtype="float32")[index]

    def inverse_transform(self, proba, return_proba=False):
        proba = np.asarray(proba)
        if return_proba:
            return proba
        return self.classes_[np.argmax(proba, axis=1)]

    def get_metadata(self):
        """Attributes the estimator copies onto itself and passes to model builders."""
        return {
            "classes_": self.classes_,
            "n_classes_": self.n_classes_,
            "n_outputs_": 1,
            "n_outputs_expected_": 1,
        }
