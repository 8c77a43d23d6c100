"""KerasTuner build functions of ``hp`` as estimators, and the spaces they declare."""

import pickle
import sys

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import RandomizedSearchCV as SklearnRandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skhp import KerasClassifier, KerasRegressor
from skhp.packed import fit_packed
from skhp.search import (
    Choice,
    Integer,
    NarrowingSearchCV,
    Real,
    SamplerSearchCV,
    Space,
    SpaceUnion,
    space_from,
)

X, Y = load_digits(return_X_y=True)
X = (X[:450] / 16).astype("float32")
Y = Y[:450]


def build(hp):
    """The Hyperband article's shape, on flat digits: filters from hp.Int(step), a rate from hp.Choice."""
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(hp.Int("units", 16, 48, step=16), activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(hp.Choice("learning_rate", [1e-1, 1e-2, 1e-3])),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_conditional(hp):
    """An MLP or a small CNN, as KerasTuner users switch between them."""
    inputs = keras.Input((64,))
    x = inputs
    if hp.Choice("kind", ["mlp", "cnn"]) == "cnn":
        x = keras.layers.Reshape((8, 8, 1))(x)
        x = keras.layers.Conv2D(hp.Int("filters", 4, 8, step=4), 3, activation="relu")(x)
        x = keras.layers.Flatten()(x)
    else:
        x = keras.layers.Dense(hp.Int("units", 16, 32, step=16), activation="relu")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-3, 3e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy")
    return model


def build_uncompiled(hp, meta):
    """A build function that leaves compiling to skhp (and takes meta, as skhp's builders may)."""
    return keras.Sequential([
        keras.Input((meta["n_features_in_"],)),
        keras.layers.Dense(hp.Int("units", 8, 16, step=8), activation="relu"),
        keras.layers.Dense(meta["n_classes_"], activation="softmax"),
    ])


def build_sgd(hp):
    model = build(hp)
    model.compile(optimizer=keras.optimizers.SGD(hp.Float("lr", 0.01, 0.1, sampling="log"),
                                                 momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy")
    return model


def every_kind(hp):
    hp.Int("plain", 1, 5)
    hp.Int("stepped", 32, 96, step=32)
    hp.Int("logged", 4, 256, sampling="log")
    hp.Int("doubling", 8, 64, step=2, sampling="log")
    hp.Int("tripling", 2, 54, step=3, sampling="log")
    hp.Float("rate", 1e-4, 1e-1, sampling="log")
    hp.Float("dropout", 0.0, 0.5, step=0.25)
    hp.Choice("activation", ["relu", "tanh"])
    hp.Choice("width", [8, 16, 32])
    hp.Choice("unordered", [1, 3, 2], ordered=False)
    hp.Boolean("shortcut")
    hp.Fixed("depth", 2)
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])


def scoped(hp):
    """KerasTuner's explicit conditions: conditional_scope, and parent_name/parent_values."""
    kind = hp.Choice("kind", ["linear", "deep"])
    with hp.conditional_scope("kind", ["deep"]):
        layers = hp.Int("layers", 1, 2)
        if kind == "deep":
            for i in range(layers):
                hp.Int(f"units_{i}", 8, 16, step=8)
    hp.Float("l2", 1e-5, 1e-3, sampling="log", parent_name="kind", parent_values=["linear"])
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])


@pytest.fixture(params=["keras-tuner", "skhp"])
def hp_kind(request, monkeypatch):
    """Run with KerasTuner's HyperParameters, and with skhp's own (keras-tuner not installed)."""
    if request.param == "skhp":
        monkeypatch.setitem(sys.modules, "keras_tuner", None)
    else:
        pytest.importorskip("keras_tuner")
    return request.param


def test_hp_parameters_reach_the_build_function_and_its_compile_is_honoured(hp_kind):
    clf = KerasClassifier(model=build, hp__units=32, hp__learning_rate=1e-2, epochs=2,
                          random_state=0).fit(X, Y)
    assert clf.model_.layers[0].units == 32
    assert isinstance(clf.model_.optimizer, keras.optimizers.Adam)
    assert clf.history_["lr"] == pytest.approx([1e-2, 1e-2])  # the build function's rate
    assert clf.model_.loss == "sparse_categorical_crossentropy"  # its loss: labels as integers
    assert clf.score(X, Y) > 0.8
    default = KerasClassifier(model=build, epochs=1, random_state=0).fit(X, Y)
    assert default.model_.layers[0].units == 16  # the declared defaults: min_value, values[0]
    assert default.history_["lr"] == pytest.approx([0.1])


def test_hp_parameters_round_trip_through_get_params_set_params_clone_and_pickle():
    clf = KerasClassifier(model=build, hp__units=48, epochs=1, random_state=0)
    assert clf.get_params()["hp__units"] == 48
    clf.set_params(hp__units=32, hp__learning_rate=1e-3)
    twin = clone(clf)
    assert twin.get_params()["hp__units"] == 32 and twin.get_params()["hp__learning_rate"] == 1e-3
    twin.fit(X, Y)
    again = pickle.loads(pickle.dumps(twin))
    np.testing.assert_array_equal(again.predict_proba(X), twin.predict_proba(X))
    assert again.get_params()["hp__units"] == 32 and again.model_.layers[0].units == 32


def test_a_pipeline_and_a_regressor_take_build_functions_of_hp():
    pipe = make_pipeline(MinMaxScaler(), KerasClassifier(model=build, hp__learning_rate=1e-2,
                                                          epochs=2, random_state=0))
    pipe.set_params(kerasclassifier__hp__units=48).fit(X * 16, Y)
    assert pipe[-1].model_.layers[0].units == 48 and pipe.score(X * 16, Y) > 0.8

    def regression(hp):
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(hp.Int("units", 4, 8)),
                                  keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(hp.Choice("lr", [1e-2, 1e-3])), loss="mae")
        return model

    reg = KerasRegressor(model=regression, hp__units=6, epochs=1, random_state=0).fit(X, Y.astype(float))
    assert reg.model_.layers[0].units == 6 and reg.model_.loss == "mae"
    assert isinstance(reg.model_.optimizer, keras.optimizers.SGD)
    assert reg.history_["lr"] == pytest.approx([1e-2])


def test_an_uncompiled_build_function_trains_with_skhps_parameters():
    clf = KerasClassifier(model=build_uncompiled, hp__units=16, optimizer="sgd", learning_rate=0.05,
                          epochs=1, random_state=0).fit(X, Y)
    assert clf.model_.layers[0].units == 16
    assert isinstance(clf.model_.optimizer, keras.optimizers.SGD)
    assert clf.history_["lr"] == pytest.approx([0.05])


def scikeras_style(meta, compile_kwargs):
    model = keras.Sequential([keras.Input((meta["n_features_in_"],)),
                              keras.layers.Dense(meta["n_classes_"], activation="softmax")])
    model.compile(**compile_kwargs)  # compiles with what skhp hands it
    return model


def test_a_builder_compiling_with_the_handed_compile_kwargs_trains_with_skhps_settings():
    clf = KerasClassifier(model=scikeras_style, optimizer="sgd", learning_rate=0.05, epochs=1,
                          random_state=0).fit(X, Y)
    assert isinstance(clf.model_.optimizer, keras.optimizers.SGD)
    assert clf.history_["lr"] == pytest.approx([0.05])
    assert pickle.loads(pickle.dumps(clf)).predict(X[:5]).shape == (5,)


def test_a_keras_tuner_hypermodel_is_a_model():
    keras_tuner = pytest.importorskip("keras_tuner")

    class Tuned(keras_tuner.HyperModel):
        def build(self, hp):
            return build(hp)

    clf = KerasClassifier(model=Tuned(), hp__units=48, epochs=1, random_state=0).fit(X, Y)
    assert clf.model_.layers[0].units == 48
    assert space_from(Tuned()) == space_from(build)


@pytest.mark.parametrize("params, message", [
    (dict(hp__unit=32), r"hp__unit: the build function 'build' declares no hyperparameter 'unit'. "
                        r"Did you mean 'units'\?"),
    (dict(smoothing=0.1), r"smoothing=0.1 applies to the built-in loss"),
])
def test_what_cannot_apply_beside_the_build_functions_compile_is_refused_before_training(
        params, message):
    clf = KerasClassifier(model=build, epochs=1, **params)
    with pytest.raises(ValueError, match=message):
        clf.fit(X, Y)
    assert not hasattr(clf, "history_")  # refused before any training


def test_values_set_beside_the_build_functions_compile_replace_its_own():
    clf = KerasClassifier(model=build, learning_rate=0.05, epochs=1, random_state=0).fit(X, Y)
    assert isinstance(clf.model_.optimizer, keras.optimizers.Adam)
    assert clf.history_["lr"] == pytest.approx([0.05])
    clf = KerasClassifier(model=build, optimizer="sgd", epochs=1, random_state=0).fit(X, Y)
    assert isinstance(clf.model_.optimizer, keras.optimizers.SGD)
    clf = KerasClassifier(model=build, loss="categorical_crossentropy", epochs=1,
                          random_state=0).fit(X, Y)
    assert clf.model_.loss.__name__ == "categorical_crossentropy" and clf.score(X, Y) > 0


def test_an_unknown_name_is_refused_for_a_build_function_taking_meta_too():
    with pytest.raises(ValueError, match=r"hp__unit: .* Did you mean 'units'\? It declares \['units'\]"):
        KerasClassifier(model=build_uncompiled, hp__unit=8, epochs=1).fit(X, Y)
    assert space_from(build_uncompiled, meta={"n_features_in_": 64, "n_classes_": 10}) == \
        Space({"hp__units": Integer(8, 16, step=8)})


def test_a_set_rate_equal_to_the_build_functions_default_is_still_the_rate():
    # SGD's own default rate is 0.01, and so is hp "lr"'s default here
    clf = KerasClassifier(model=build_sgd, learning_rate=0.5, epochs=1).fit(X, Y)
    assert clf.history_["lr"] == pytest.approx([0.5])
    clf = KerasClassifier(model=build_sgd, learning_rate=0.01, hp__lr=0.05, epochs=1).fit(X, Y)
    assert clf.history_["lr"] == pytest.approx([0.01])
    assert clf.model_.optimizer.get_config()["nesterov"]  # the rest of its SGD kept


def test_hp_parameters_without_a_build_function_of_hp_are_refused():
    with pytest.raises(ValueError, match=r"hp__units: hp__ parameters set the hyperparameters of a "
                                         r"build function of hp"):
        KerasClassifier(hp__units=3, epochs=1).fit(X, Y)


def test_a_condition_branch_value_for_an_inactive_branch_is_accepted():
    # a flat grid sets filters for the MLP too: KerasTuner ignores inactive values, and so does skhp
    clf = KerasClassifier(model=build_conditional, hp__kind="mlp", hp__filters=8, epochs=1,
                          random_state=0).fit(X, Y)
    assert isinstance(clf.model_.layers[1], keras.layers.Dense)


def test_space_from_maps_every_declaration(hp_kind):
    space = space_from(every_kind)
    assert isinstance(space, Space)
    assert space.dimensions == {
        "hp__plain": Integer(1, 5),
        "hp__stepped": Integer(32, 96, step=32),
        "hp__logged": Integer(4, 256, log=True),
        "hp__doubling": Integer(8, 64, base=2),
        "hp__tripling": Choice([2, 6, 18, 54], ordered=True),
        "hp__rate": Real(1e-4, 1e-1, log=True),
        "hp__dropout": Choice([0.0, 0.25, 0.5], ordered=True),
        "hp__activation": Choice(["relu", "tanh"]),
        "hp__width": Choice([8, 16, 32], ordered=True),
        "hp__unordered": Choice([1, 3, 2], ordered=False),
        "hp__shortcut": Choice([False, True]),
        "hp__depth": Choice([2]),
    }


def test_space_from_finds_branches_and_keras_tuner_conditions(hp_kind):
    union = space_from(build_conditional)
    assert isinstance(union, SpaceUnion)
    by_kind = {sub["hp__kind"].values: set(sub) for sub in union.subspaces}
    assert by_kind == {("mlp",): {"hp__kind", "hp__units", "hp__learning_rate"},
                       ("cnn",): {"hp__kind", "hp__filters", "hp__learning_rate"}}
    assert union.weights == (0.5, 0.5)
    scopes = space_from(scoped)
    names = sorted(tuple(sorted(sub)) for sub in scopes.subspaces)
    assert names == [("hp__kind", "hp__l2"), ("hp__kind", "hp__layers", "hp__units_0"),
                     ("hp__kind", "hp__layers", "hp__units_0", "hp__units_1")]
    # KerasTuner's draws: kind half and half, then layers half and half
    assert sorted(scopes.weights) == [0.25, 0.25, 0.5]


def test_space_from_refuses_what_is_not_a_build_function_of_hp():
    with pytest.raises(TypeError, match="space_from takes a build function of hp"):
        space_from(lambda meta: None)

    def reverse(hp):
        hp.Float("x", 0.1, 1.0, sampling="reverse_log")

    with pytest.raises(ValueError, match=r"sampling='reverse_log'.*hp__x"):
        space_from(reverse)


def test_a_packed_compiled_build_function_equals_its_ordinary_fit():
    params = dict(model=build_sgd, hp__units=16, hp__lr=0.05, epochs=2, fit__shuffle=False,
                  random_state=0, schedule="cosine")
    ordinary = KerasClassifier(**params).fit(X, Y)
    (packed,) = fit_packed([KerasClassifier(**params)], X, Y)
    for a, b in zip(ordinary.model_.get_weights(), packed.model_.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(packed.history_["loss"], ordinary.history_["loss"], rtol=1e-4)


@pytest.mark.parametrize("search", ["narrowing", "tpe"])
def test_build_functions_tune_through_skhps_searches_packed_and_pruned(search):
    estimator = KerasClassifier(model=build_conditional, epochs=3, random_state=0)
    space = space_from(build_conditional)
    if search == "narrowing":
        tuner = NarrowingSearchCV(estimator, space, n_iter=8, round_size=4, cv=2,
                                  pruning="halving", random_state=0)
    else:
        pytest.importorskip("optuna")
        tuner = SamplerSearchCV(estimator, space, sampler="tpe", n_iter=6, round_size=3, cv=2,
                                random_state=0)
    tuner.fit(X, Y)
    results = tuner.cv_results_
    assert set(results["packing"]) == {"packed"}
    kinds = {params["hp__kind"] for params in results["params"]}
    assert kinds == {"mlp", "cnn"}  # both branches tried
    for params in results["params"]:  # each point carries its branch's hyperparameters only
        assert ("hp__filters" in params) == (params["hp__kind"] == "cnn")
    if search == "narrowing":
        assert results["pruned"].any()
    assert tuner.best_score_ > 0.5
    assert tuner.best_estimator_.model_.count_params() > 0


def test_scikit_learns_randomized_search_takes_the_space():
    distributions = space_from(build_conditional).to_param_distributions()
    search = SklearnRandomizedSearchCV(KerasClassifier(model=build_conditional, epochs=1,
                                                       random_state=0),
                                       distributions, n_iter=4, cv=2, random_state=0)
    search.fit(X, Y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_a_search_space_naming_an_undeclared_hp_is_refused_before_training():
    search = NarrowingSearchCV(KerasClassifier(model=build, epochs=1), {"hp__unit": [16, 32]},
                               n_iter=2, cv=2)
    with pytest.raises(ValueError, match=r"names 'hp__unit'.*Did you mean 'units'\?"):
        search.fit(X, Y)
    assert not hasattr(search, "cv_results_")


@pytest.mark.slow
def test_the_command_tunes_a_build_functions_own_space(tmp_path):
    import json
    import subprocess

    (tmp_path / "tuned_model.py").write_text(
        "import keras\n\n\n"
        "def build(hp):\n"
        "    model = keras.Sequential([keras.Input((4,)),\n"
        "                              keras.layers.Dense(hp.Int('units', 4, 12, step=4), activation='relu'),\n"
        "                              keras.layers.Dense(3, activation='softmax')])\n"
        "    model.compile(optimizer=keras.optimizers.Adam(hp.Float('learning_rate', 1e-3, 1e-1, sampling='log')),\n"
        "                  loss='sparse_categorical_crossentropy')\n"
        "    return model\n")
    (tmp_path / "exp.toml").write_text(
        '[data]\nname = "iris"\n\n[model]\nbuilder = "tuned_model:build"\nepochs = 2\n\n'
        '[search]\nstrategy = "random"\ntrials = 3\ncv = 2\n\n[output]\ndir = "out"\nbaselines = false\n')
    run = subprocess.run([sys.executable, "-m", "skhp", "tune", "--config", "exp.toml", "--quiet"],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    best = json.loads((tmp_path / "out" / "best_params.json").read_text())["best_params"]
    assert sorted(best) == ["hp__learning_rate", "hp__units"]  # the space the build declares
    assert best["hp__units"] in (4, 8, 12) and 1e-3 <= best["hp__learning_rate"] <= 1e-1


def build_with_tuner(tuner):
    """The Hyperband article's spelling: KerasTuner passes hp positionally, under any name."""
    model = keras.Sequential([keras.Input((64,)),
                              keras.layers.Dense(tuner.Int("units", 8, 16, step=8), activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(tuner.Choice("learning_rate", [1e-2, 1e-3])),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_a_build_functions_argument_may_have_any_name():
    clf = KerasClassifier(model=build_with_tuner, hp__units=16, epochs=1, random_state=0).fit(X, Y)
    assert clf.model_.layers[0].units == 16 and clf.history_["lr"] == pytest.approx([1e-2])
    assert space_from(build_with_tuner) == Space({"hp__units": Integer(8, 16, step=8),
                                                  "hp__learning_rate": Choice([1e-2, 1e-3],
                                                                              ordered=True)})
    with pytest.raises(ValueError, match=r"hp__unit: .* Did you mean 'units'\?"):
        KerasClassifier(model=build_with_tuner, hp__unit=8, epochs=1).fit(X, Y)
