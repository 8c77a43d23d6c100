"""Valid inputs that the estimators once misread or crashed on, as users and the book write them."""

import pickle

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits

from skhp import KerasClassifier, KerasRegressor
from skhp.search import GridSearchCV


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:400] / 16.0).astype("float32"), y[:400]


def small(cls=KerasClassifier, **params):
    return cls(**{**dict(hidden_layer_sizes=(8,), epochs=1, random_state=0), **params})


# -- an optimizer object's own learning rate -------------------------------------------

def test_an_optimizer_instance_keeps_its_own_learning_rate(iris):
    X, y = iris
    clf = small(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)).fit(X, y)
    assert clf.learning_rate_ == pytest.approx(0.1)
    assert clf.history_["lr"][0] == pytest.approx(0.1)
    assert float(clf.model_.optimizer.momentum) == pytest.approx(0.9)
    # the book's Adam(0.0001); an instance at its class default (SGD: 0.01) trains at it
    assert small(optimizer=keras.optimizers.Adam(1e-4)).fit(X, y).history_["lr"][0] == \
        pytest.approx(1e-4)
    assert small(optimizer=keras.optimizers.SGD()).fit(X, y).learning_rate_ == pytest.approx(0.01)


def test_learning_rate_set_beside_an_instance(iris):
    X, y = iris
    # an instance without a rate of its own: learning_rate (tuned by a search) wins
    clf = small(optimizer=keras.optimizers.SGD(momentum=0.9), learning_rate=0.05).fit(X, y)
    assert clf.history_["lr"][0] == pytest.approx(0.05)
    # both set: the set learning_rate is the rate (the instance's other settings stay)
    both = small(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                 learning_rate=0.01).fit(X, y)
    assert both.history_["lr"][0] == pytest.approx(0.01)
    assert both.model_.optimizer.get_config()["momentum"] == pytest.approx(0.9)
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    with pytest.raises(ValueError, match="carries a learning-rate schedule"):
        small(optimizer=keras.optimizers.SGD(learning_rate=schedule)).fit(X, y)


# -- a user's own regularizers -----------------------------------------------------------

def _regularized(meta):
    return keras.Sequential([
        keras.Input((meta["n_features_in_"],)),
        keras.layers.Dense(8, activation="relu", kernel_regularizer=keras.regularizers.L1(1e-3)),
        keras.layers.Dense(meta["n_classes_"], activation="softmax"),
    ])


def test_weight_decay_adds_to_a_users_regularizer(iris):
    X, y = iris
    clf = small(model=_regularized, weight_decay=5e-4).fit(X, y)
    first, last = (layer.kernel_regularizer.get_config() for layer in clf.model_.layers)
    assert first["l1"] == pytest.approx(1e-3) and first["l2"] == pytest.approx(5e-4)
    assert last == {"l2": pytest.approx(5e-4)}
    kernel = clf.model_.layers[0].kernel.numpy()
    penalty = 1e-3 * np.abs(kernel).sum() + 5e-4 * np.square(kernel).sum()
    assert float(clf.model_.losses[0]) == pytest.approx(penalty, rel=1e-4)
    # without weight decay the user's L1 stays as it was
    alone = small(model=_regularized).fit(X, y).model_.layers[0].kernel_regularizer.get_config()
    assert alone == {"l1": pytest.approx(1e-3)}


# -- images ------------------------------------------------------------------------------

def test_image_shape_is_checked_without_convolutions_and_refused_with_a_users_model(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"image_shape=\(3, 3\) holds 9 values, but X has 4"):
        small(image_shape=(3, 3)).fit(X, y)
    small(image_shape=(2, 2)).fit(X, y)  # the MLP sees the same 4 values, flat
    with pytest.raises(ValueError, match="image_shape=.* shapes the built-in model's input"):
        small(model=_regularized, image_shape=(2, 2)).fit(X, y)


@pytest.mark.parametrize("shape", [(8, 8), (8, 8, 1)])
def test_images_as_they_come(digits, shape):
    X, y = digits
    images = X.reshape((-1, *shape))
    clf = small(conv_layers=(4,)).fit(images, y)
    kinds = [type(layer).__name__ for layer in clf.model_.layers]
    assert kinds[kinds.index("Reshape"):][:3] == ["Reshape", "Conv2D", "MaxPooling2D"]
    assert clf.model_.layers[kinds.index("Conv2D")].kernel.shape == (3, 3, 1, 4)
    assert clf.predict(images[:3]).shape == (3,)
    assert (pickle.loads(pickle.dumps(clf)).predict(images) == clf.predict(images)).all()
    small(conv_layers=(4,), image_shape=(8, 8)).fit(images, y)  # a matching shape is fine
    with pytest.raises(ValueError, match=r"image_shape=\(4, 16\) does not match X's samples"):
        small(conv_layers=(4,), image_shape=(4, 16)).fit(images, y)


# -- validation data, callbacks, schedules -----------------------------------------------

def test_validation_data_with_ordinary_labels(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = small(epochs=2).fit(X, names, validation_data=(X[:30], names[:30]))
    assert len(clf.history_["val_accuracy"]) == 2
    routed = small(epochs=2, fit__validation_data=(X[:30], y[:30])).fit(X, y)
    assert len(routed.history_["val_loss"]) == 2
    reg = small(KerasRegressor, epochs=2).fit(X, X[:, 0], validation_data=(X[:20], X[:20, 0]))
    assert np.isfinite(reg.history_["val_loss"]).all()


class _SetsRate(keras.callbacks.Callback):
    """Sets the rate as Keras documents it, before every batch (an LR range test's way)."""

    def __init__(self, rate, assign=True):
        super().__init__()
        self.rate, self.assign = rate, assign

    def on_train_batch_begin(self, batch, logs=None):
        if self.assign:
            self.model.optimizer.learning_rate.assign(self.rate)
        else:
            self.model.optimizer.learning_rate = self.rate


@pytest.mark.parametrize("assign", [True, False])
@pytest.mark.parametrize("schedule", [None, "cosine"])
def test_a_callback_sets_the_learning_rate(iris, assign, schedule):
    X, y = iris
    clf = small(epochs=2, schedule=schedule, callbacks=[_SetsRate(0.02, assign)]).fit(X, y)
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(0.02)


def test_the_schedule_drives_a_settable_rate_beside_callbacks(iris):
    X, y = iris
    quiet = keras.callbacks.Callback()  # a callback that leaves the rate alone
    with_cb = small(epochs=4, schedule="cosine", learning_rate=0.1, callbacks=[quiet]).fit(X, y)
    without = small(epochs=4, schedule="cosine", learning_rate=0.1).fit(X, y)
    assert with_cb.history_["lr"] == pytest.approx(without.history_["lr"], rel=1e-5)
    assert with_cb.history_["lr"][2] == pytest.approx(0.05, rel=1e-5)  # half way down the cosine


def test_a_one_argument_schedule_function(iris):
    X, y = iris
    clf = small(epochs=3, schedule=lambda epoch: 0.01 * 0.5 ** epoch).fit(X, y)
    assert clf.history_["lr"] == pytest.approx([0.01, 0.005, 0.0025])
    two = small(epochs=3, schedule=lambda epoch, lr: lr * 0.5, learning_rate=0.01).fit(X, y)
    assert two.history_["lr"] == pytest.approx([0.005, 0.0025, 0.00125])
    with pytest.raises(TypeError, match=r"must take \(epoch, lr\) or \(epoch\)"):
        small(schedule=lambda: 0.1).fit(X, y)


def _halving(epoch):
    return 0.1 * 0.5 ** epoch


def test_the_new_behaviours_survive_clone_and_pickle(iris):
    X, y = iris
    clf = small(optimizer=keras.optimizers.SGD(learning_rate=0.1), model=_regularized,
                weight_decay=1e-4, schedule=_halving)
    fitted = clone(clf).fit(X, y)
    assert fitted.learning_rate_ == pytest.approx(0.1)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(again.predict_proba(X), fitted.predict_proba(X), rtol=1e-6)


def test_a_packed_slot_trains_at_the_optimizer_instances_rate(iris):
    from skhp.packed import fit_packed

    X, y = iris
    instance = small(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9), epochs=2)
    by_name = small(optimizer="sgd", learning_rate=0.1, momentum=0.9, epochs=2)
    packed, named = fit_packed([instance, by_name], X, y)
    assert packed.history_["lr"] == pytest.approx([0.1, 0.1])
    np.testing.assert_allclose(packed.predict_proba(X), named.predict_proba(X), atol=1e-6)


@pytest.mark.slow
def test_fits_in_a_fresh_process_print_no_tensorflow_noise(tmp_path):
    import os
    import subprocess
    import sys

    code = (
        "from sklearn.datasets import load_iris\n"
        "from sklearn.model_selection import GridSearchCV\n"
        "import skhp\n"
        "X, y = load_iris(return_X_y=True)\n"
        "GridSearchCV(skhp.KerasClassifier(hidden_layer_sizes=(4,), epochs=1),\n"
        "             {'learning_rate': [1e-3, 1e-2, 1e-1]}, cv=3).fit(X, y)\n"
        "print('fitted')\n")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env=env, cwd=tmp_path)
    assert run.returncode == 0 and "fitted" in run.stdout, run.stderr[-2000:]
    for noise in ("I0000", "E0000", "absl::InitializeLog", "cpu_feature_guard", "retracing"):
        assert noise not in run.stderr, run.stderr[-2000:]


# -- a model of several inputs -------------------------------------------------------------

def two_inputs(meta):
    a, b = keras.Input((2,), name="sepal"), keras.Input((2,), name="petal")
    hidden = keras.layers.Concatenate()([keras.layers.Dense(4, activation="relu")(a),
                                         keras.layers.Dense(4, activation="relu")(b)])
    return keras.Model([a, b], keras.layers.Dense(meta["n_classes_"], activation="softmax")(hidden))


def test_a_two_input_model_takes_x_split_among_its_inputs(iris):
    X, y = iris
    clf = KerasClassifier(model=two_inputs, epochs=2, learning_rate=0.05, early_stopping=1,
                          random_state=0).fit(X, y)
    # the same as feeding Keras the two halves itself
    direct = clf.model_.predict([X[:, :2], X[:, 2:]], verbose=0)
    np.testing.assert_allclose(clf.predict_proba(X), direct, atol=1e-6)
    assert pickle.loads(pickle.dumps(clf)).predict(X).tolist() == clf.predict(X).tolist()
    search = GridSearchCV(KerasClassifier(model=two_inputs, epochs=1), {"learning_rate": [0.01, 0.1]},
                          cv=2).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.packing_ == ["a model with several inputs trains on its own"] * 2


def test_x_that_does_not_fit_the_inputs_is_refused_before_training_saying_how(iris):
    X, y = iris
    clf = KerasClassifier(model=two_inputs, epochs=1)
    with pytest.raises(ValueError, match=r"the model takes 2 inputs \(sepal \(2,\), petal \(2,\)\), "
                                         r"and X has 3 features .* feature_encoder"):
        clf.fit(X[:, :3], y)
    assert not hasattr(clf, "history_")
