"""Every target a classifier takes: labels, one-hot rows, multilabel rows; metrics of labels.

One-hot rows of a multiclass problem (as the Beale article's listings encode
them) and multilabel rows of 0/1 columns (sigmoid outputs, as scikit-learn's
``MLPClassifier`` takes them) train, predict in the form they were given and
pack in searches with the ordinary fit's numbers; Keras' metrics of integer
labels work beside the built-in one-hot loss; a binary cross-entropy gives the
built-in model one sigmoid output.
"""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, make_multilabel_classification
from sklearn.metrics import accuracy_score
from sklearn.model_selection import KFold

from skhp import KerasClassifier
from skhp.packed import fit_packed
from skhp.search import GridSearchCV


def small(**params):
    return KerasClassifier(**{"hidden_layer_sizes": (8,), "epochs": 2, "random_state": 0,
                              "learning_rate": 0.05, **params})


@pytest.fixture(scope="module")
def multilabel():
    X, Y = make_multilabel_classification(120, 6, n_classes=3, random_state=0)
    return (X / X.max()).astype("float32"), Y


def test_one_hot_rows_train_as_their_labels_and_predict_rows(iris):
    X, y = iris
    Y = np.eye(3, dtype=int)[y]
    by_rows, by_labels = small().fit(X, Y), small().fit(X, y)
    np.testing.assert_allclose(by_rows.predict_proba(X), by_labels.predict_proba(X), atol=1e-5)
    predicted = by_rows.predict(X)
    assert predicted.shape == (150, 3) and (predicted.sum(axis=1) == 1).all()
    np.testing.assert_array_equal(predicted.argmax(axis=1), by_labels.predict(X))
    assert by_rows.score(X, Y) == pytest.approx(by_labels.score(X, y))


def test_multilabel_rows_train_sigmoid_outputs(multilabel):
    X, Y = multilabel
    clf = small(smoothing=0.1, epochs=3).fit(X, Y)
    assert clf.model_.layers[-1].activation.__name__ == "sigmoid"
    assert isinstance(clf.model_.loss, keras.losses.BinaryCrossentropy)
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_array_equal(clf.predict(X), (proba > 0.5).astype(int))
    assert clf.score(X, Y) == accuracy_score(Y, clf.predict(X))
    assert "binary_accuracy" in clf.history_


@pytest.mark.parametrize("kind", ["one-hot", "multilabel"])
def test_row_targets_pack_with_the_ordinary_fits_numbers(iris, multilabel, kind):
    X, Y = (iris[0], np.eye(3)[iris[1]]) if kind == "one-hot" else multilabel
    params = dict(smoothing=0.1, fit__shuffle=False, batch_size=16, weight_decay=1e-3)
    ordinary = small(**params).fit(X, Y)
    (packed,) = fit_packed([small(**params)], X, Y)
    np.testing.assert_allclose(packed.predict_proba(X), ordinary.predict_proba(X), atol=1e-4)
    folds = KFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(small(fit__shuffle=False), {"learning_rate": [0.01, 0.1]},
                          cv=folds).fit(X, Y)
    assert list(search.cv_results_["packing"]) == ["packed", "packed"]
    from sklearn.model_selection import GridSearchCV as Plain

    plain = Plain(small(fit__shuffle=False), {"learning_rate": [0.01, 0.1]}, cv=folds).fit(X, Y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               plain.cv_results_["mean_test_score"], atol=1e-6)


@pytest.mark.parametrize("metric, key", [
    ("sparse_categorical_accuracy", "sparse_categorical_accuracy"),
    (keras.metrics.SparseTopKCategoricalAccuracy(2), "sparse_top_k_categorical_accuracy"),
    (keras.metrics.SparseCategoricalCrossentropy(), "sparse_categorical_crossentropy"),
])
def test_metrics_of_integer_labels_work_beside_the_one_hot_loss(iris, metric, key):
    X, y = iris
    clf = small(metrics=[metric], epochs=1).fit(X, y)
    assert key in clf.history_ and np.isfinite(clf.history_[key]).all()
    if key == "sparse_categorical_accuracy":  # the same figure as "accuracy"
        same = small(metrics=["accuracy"], epochs=1).fit(X, y)
        assert clf.history_[key] == pytest.approx(same.history_["accuracy"])
    (packed,) = fit_packed([small(metrics=[metric], epochs=1)], X, y)
    assert packed.predict(X).shape == (150,)


def test_a_binary_cross_entropy_gives_the_built_in_model_one_sigmoid_output():
    X, y = load_breast_cancer(return_X_y=True)
    X = ((X - X.mean(0)) / X.std(0)).astype("float32")
    clf = small(loss="binary_crossentropy").fit(X, y)
    assert clf.model_.output_shape == (None, 1)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(axis=1), 1)
    assert clf.score(X, y) > 0.8


def test_a_binary_cross_entropy_on_three_classes_is_refused_naming_loss(iris):
    X, y = iris
    clf = small(loss="binary_crossentropy")
    with pytest.raises(ValueError, match=r"loss='binary_crossentropy' takes two classes .* y has 3"):
        clf.fit(X, y)
    assert not hasattr(clf, "history_")
