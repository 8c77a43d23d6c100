"""Target encoding for the classifier's built-in loss."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.multiclass import type_of_target


def one_hot_rows(y):
    """Whether ``y`` is rows of 0/1 columns holding one 1 each (a multiclass problem, one-hot).

    Examples
    --------
    >>> one_hot_rows(np.eye(3)[[0, 2]]), one_hot_rows(np.array([[1, 1], [0, 1]])), one_hot_rows([0, 1])
    (True, False, False)
    """
    y = np.asarray(y)
    return y.ndim == 2 and y.shape[1] > 1 and bool((y.sum(axis=1) == 1).all())


class OneHotLabelEncoder(TransformerMixin, BaseEstimator):
    """Encode class labels (integers, strings, ...) as one-hot rows and back.

    Used with the classifier's built-in loss so that label smoothing works for
    binary and multiclass problems alike. It also takes targets given as rows
    of 0/1 columns: one-hot rows of a multiclass problem (every row holds one
    1; ``predict`` gives such rows back) and multilabel targets (any number of
    1s a row, ``kind_ == "multilabel"``: sigmoid outputs, ``predict`` gives
    the labels whose probability is above 0.5, as scikit-learn's multilabel
    estimators do).

    Parameters
    ----------
    classes : array-like or None
        All classes, when known in advance (``partial_fit``); else inferred.

    Attributes
    ----------
    kind_ : {"labels", "one-hot", "multilabel"}
        How the targets were given.

    Examples
    --------
    >>> enc = OneHotLabelEncoder().fit(np.array(["b", "a", "b"]))
    >>> enc.transform(np.array(["a", "b"])).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    >>> enc.inverse_transform(np.array([[0.2, 0.8]])).tolist()
    ['b']
    >>> enc = OneHotLabelEncoder().fit(np.array([[1, 0, 1], [0, 1, 0]]))
    >>> enc.kind_, enc.inverse_transform(np.array([[0.9, 0.2, 0.6]])).tolist()
    ('multilabel', [[1, 0, 1]])
    """

    def __init__(self, classes=None):
        self.classes = classes

    def fit(self, y):
        y = np.asarray(y)
        kind = type_of_target(y if self.classes is None else self.classes)
        if kind == "multilabel-indicator" and self.classes is None:
            return self._fit_columns(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"Unknown label type: {kind!r}. The classifier takes one column of "
                "class labels (binary or multiclass), one-hot rows or multilabel rows of 0/1 "
                "columns."
            )
        self.kind_ = "labels"
        self.classes_ = np.unique(y) if self.classes is None else np.asarray(self.classes)
        if self.classes_.size < 2:
            raise ValueError(
                "Classifier can't train when only one class is present: y holds "
                f"the single class {np.asarray(self.classes_[0]).tolist()!r}; it needs at least 2 "
                "classes."
            )
        self.n_classes_ = self.classes_.size
        return self

    def _fit_columns(self, y):
        self.kind_ = "one-hot" if one_hot_rows(y) else "multilabel"
        self.classes_ = np.arange(y.shape[1])
        self.n_classes_ = y.shape[1]
        if self.kind_ == "one-hot" and (y.sum(axis=0) == 0).sum() >= y.shape[1] - 1:
            raise ValueError(
                "Classifier can't train when only one class is present: every one-hot row "
                f"of y marks column {int(np.argmax(y.sum(axis=0)))}; it needs at least 2 classes.")
        return self

    def transform(self, y):
        if self.kind_ != "labels":
            y = np.asarray(y)
            if y.ndim != 2 or y.shape[1] != self.n_classes_:
                raise ValueError(f"y has shape {y.shape}, but the classifier was fitted on rows "
                                 f"of {self.n_classes_} columns.")
            return y.astype("float32")
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
        if self.kind_ == "multilabel":
            return (proba > 0.5).astype(int)
        if self.kind_ == "one-hot":
            return np.eye(self.n_classes_, dtype=int)[np.argmax(proba, axis=1)]
        return self.classes_[np.argmax(proba, axis=1)]

    def get_metadata(self):
        """Attributes the estimator copies onto itself and passes to model builders."""
        return {
            "classes_": self.classes_,
            "n_classes_": self.n_classes_,
            "n_outputs_": 1,
            "n_outputs_expected_": 1,
        }


def _one_hot_twins():
    import keras

    return {
        keras.metrics.SparseCategoricalAccuracy: (keras.metrics.CategoricalAccuracy, ()),
        keras.metrics.SparseTopKCategoricalAccuracy: (keras.metrics.TopKCategoricalAccuracy, ("k",)),
        keras.metrics.SparseCategoricalCrossentropy: (keras.metrics.CategoricalCrossentropy,
                                                      ("from_logits",)),
    }


def metrics_for_one_hot(metrics):
    """``metrics`` with the integer-label (``sparse_*``) ones as their one-hot twins.

    The classifier's built-in loss trains on one-hot targets, where Keras'
    sparse metrics would compare a row with a label; each keeps its name (its
    history key), so ``metrics=["sparse_categorical_accuracy"]`` reports as written.

    Examples
    --------
    >>> import keras
    >>> [type(m).__name__ for m in metrics_for_one_hot(
    ...     ["sparse_categorical_accuracy", keras.metrics.SparseTopKCategoricalAccuracy(2), "mse"])]
    ['CategoricalAccuracy', 'TopKCategoricalAccuracy', 'str']
    """
    import keras

    if metrics is None:
        return None
    if isinstance(metrics, dict):
        return {k: metrics_for_one_hot(v) for k, v in metrics.items()}
    if isinstance(metrics, (list, tuple)):
        return [metrics_for_one_hot(m) if isinstance(m, (list, tuple, dict)) else _twin(m, keras)
                for m in metrics]
    return _twin(metrics, keras)


def _twin(metric, keras):
    twins = _one_hot_twins()
    if isinstance(metric, str):
        named = {"sparse_categorical_accuracy": keras.metrics.SparseCategoricalAccuracy,
                 "sparse_top_k_categorical_accuracy": keras.metrics.SparseTopKCategoricalAccuracy,
                 "sparse_categorical_crossentropy": keras.metrics.SparseCategoricalCrossentropy}
        if metric not in named:
            return metric
        metric = named[metric](name=metric)
    elif isinstance(metric, type) and metric in twins:
        metric = metric()
    if type(metric) not in twins:
        return metric
    cls, settings = twins[type(metric)]
    return cls(name=metric.name, **{s: getattr(metric, s) for s in settings})
