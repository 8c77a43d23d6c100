"""One fit, described once: Keras' fit and a packed slot are built from the same spec."""

import dataclasses

import keras
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from skhp import KerasClassifier
from skhp.callbacks import CycleAwareEarlyStopping
from skhp.fit_spec import CycleMomentum, FitSpec, OptimizerSpec, StopRule, step_tables
from skhp.packed import Packable, pack_reason, plan, train_packs

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS).astype("float32")


@pytest.mark.parametrize("extra", [
    # 1cycle moves RMSprop's momentum in Keras' fit: the slot's table moves it too
    dict(optimizer="rmsprop", schedule="onecycle"),
    dict(optimizer="rmsprop", momentum=0.5, schedule="onecycle", warmup=1),
    # Keras 2's decay is a time schedule per step, in both
    dict(optimizer="sgd", optimizer__decay=0.05),
])
def test_a_pack_of_one_equals_the_ordinary_fit_it_describes(extra):
    params = dict(hidden_layer_sizes=(8,), epochs=3, random_state=0, fit__shuffle=False,
                  learning_rate=0.01, **extra)
    ordinary = KerasClassifier(**params).fit(X_IRIS, Y_IRIS)
    (out,) = train_packs([(KerasClassifier(**params), X_IRIS, Y_IRIS, None)])
    assert isinstance(out, dict), out  # it packed (a reason would say why not)
    assert max(float(np.abs(np.asarray(v) - w).max()) for v, w in
               zip(ordinary.model_.trainable_variables, out["weights"])) < 1e-5


def test_the_spec_is_immutable_and_the_planner_reads_only_it():
    est = KerasClassifier(hidden_layer_sizes=(8,), epochs=2, optimizer="sgd", momentum=0.9,
                          random_state=0)
    spec = est.fit_spec(X_IRIS, Y_IRIS)
    assert isinstance(spec, FitSpec)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.l2 = 1.0
    del est  # the planner needs nothing of the estimator
    slot, run, _ = plan(spec)
    assert run["optimizer"] == "SGD" and slot.settings == {"weight_decay": 0.0, "momentum": 0.9}
    np.testing.assert_array_equal(slot.momenta, np.full(len(slot.rates), 0.9))


def test_keras_compiles_the_optimizer_the_spec_describes():
    est = KerasClassifier(hidden_layer_sizes=(4,), epochs=1, optimizer="sgd", momentum=0.8,
                          optimizer__nesterov=True, learning_rate=0.05).fit(X_IRIS, Y_IRIS)
    described = est.fit_settings().optimizer
    compiled = est.model_.optimizer
    assert type(compiled) is described.cls
    assert compiled.nesterov is True and float(compiled.momentum) == pytest.approx(0.8)
    assert described.pack_settings()[0] == {"weight_decay": 0.0, "momentum": 0.8, "nesterov": True}


def test_one_early_stopping_rule_for_keras_and_packs():
    plain = KerasClassifier(early_stopping=3, epochs=6)
    cyclic = KerasClassifier(early_stopping=3, epochs=6, schedule="restarts",
                             schedule__cycle_epochs=2, schedule__t_mul=2.0)
    assert plain.fit_settings().stop == StopRule(3, "val_loss", None)
    assert cyclic.fit_settings().stop.ends == (2, 6)
    assert isinstance(cyclic.fit_settings().stop.callback(), CycleAwareEarlyStopping)
    assert isinstance(plain.fit_settings().stop.callback(), keras.callbacks.EarlyStopping)
    assert pack_reason(cyclic) == "early stopping at the ends of cycles runs as a Keras callback"
    fitted = KerasClassifier(hidden_layer_sizes=(4,), early_stopping=2, epochs=2).fit(X_IRIS, Y_IRIS)
    stoppers = [c for c in fitted._fit_callbacks if isinstance(c, keras.callbacks.EarlyStopping)]
    assert [(s.monitor, s.patience) for s in stoppers] == [("val_loss", 2)]


def test_the_momentum_table_is_the_one_keras_fit_moves_the_optimizer_along():
    est = KerasClassifier(hidden_layer_sizes=(4,), epochs=3, warmup=1, optimizer="sgd",
                          schedule="onecycle", learning_rate=0.1, random_state=0)
    spec = est.fit_spec(X_IRIS, Y_IRIS)
    steps = spec.training.steps_per_epoch
    fitted = KerasClassifier(**est.get_params()).fit(X_IRIS, Y_IRIS)
    # Keras' history logs the momentum at the start of every epoch
    np.testing.assert_allclose(fitted.history_["momentum"], spec.momenta[::steps], rtol=1e-6)
    assert spec.momenta[:steps].tolist() == [spec.momenta[0]] * steps  # warm-up: still


def test_step_tables_follow_their_formulas():
    from skhp.schedules import OneCycle, make_schedule

    rates, momenta = step_tables(make_schedule("linear", 0.1, 3, 2), 0.1, 3, 2, 0.9)
    np.testing.assert_allclose(rates, [0.1 * (1 - step / 6) for step in range(6)], rtol=1e-6)
    assert momenta.tolist() == [0.9] * 6
    cycle = OneCycle(0.1, epochs=2, steps_per_epoch=2)
    _, momenta = step_tables(cycle, 0.1, 2, 2, 0.0, CycleMomentum(cycle))
    np.testing.assert_allclose(momenta, [float(cycle.momentum(s)) for s in range(4)], rtol=1e-6)


def test_optimizer_settings_a_pack_cannot_apply_are_named():
    spec = OptimizerSpec(keras.optimizers.SGD, {"clipnorm": 1.0})
    assert spec.pack_settings() == (None, "optimizer setting clipnorm=1.0 is not one a pack applies")
    assert OptimizerSpec(keras.optimizers.Adadelta, {}).pack_settings()[1].startswith(
        "optimizer Adadelta is not one a pack trains")


def test_only_estimators_with_the_packable_protocol_pack():
    assert Packable.implemented_by(KerasClassifier())
    assert pack_reason(Ridge()) == "Ridge is not an skhp Keras estimator"


def test_a_warm_1cycle_with_early_stopping_and_a_lottery_fits():
    """The settings' stop rule needs only the schedule's cycles: a warm-up below any rate."""
    est = KerasClassifier(hidden_layer_sizes=(4,), epochs=3, warmup=1, schedule="onecycle",
                          early_stopping=2, lottery=2, lottery_steps=2, random_state=0)
    assert est.fit_settings().stop.ends == (3,)
    assert len(est.fit(X_IRIS, Y_IRIS).lottery_losses_) == 2
