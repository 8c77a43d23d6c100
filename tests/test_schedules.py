"""Schedules against their formulas, composition, serialization, estimator integration."""

import math

import keras
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

from skhp import KerasClassifier, plot_schedule
from skhp.callbacks import CycleAwareEarlyStopping, MomentumCycler
from skhp.schedules import (
    SCHEDULES,
    Constant,
    CosineAnnealing,
    CosineRestarts,
    Decrement,
    ExponentialDecay,
    LinearToZero,
    OneCycle,
    Ramp,
    TimeDecay,
    Warmup,
    make_schedule,
)


def values(schedule, steps):
    return np.array([float(schedule(s)) for s in steps])


STEPS = [0, 1, 7, 25, 49, 50, 73, 99, 100]


def test_time_decay():
    s = TimeDecay(0.1, decay=1e-2, per="iteration")
    np.testing.assert_allclose(values(s, STEPS), [0.1 / (1 + 1e-2 * t) for t in STEPS], rtol=1e-6)
    s = TimeDecay(0.1, decay=0.3, steps_per_epoch=10)
    np.testing.assert_allclose(values(s, STEPS), [0.1 / (1 + 0.3 * t / 10) for t in STEPS], rtol=1e-6)
    with pytest.raises(ValueError, match="per="):
        TimeDecay(0.1, per="step")


def test_exponential_decay_in_epochs():
    s = ExponentialDecay(0.1, decay=0.3, steps_per_epoch=10)
    np.testing.assert_allclose(values(s, STEPS), [0.1 * math.exp(-0.3 * t / 10) for t in STEPS], rtol=1e-5)


def test_ramp_divides_at_each_drop():
    s = Ramp(0.1, drop_epochs=[3, 7], factor=10, steps_per_epoch=10)
    expected = [0.1 * 10.0 ** -((t // 10 >= 3) + (t // 10 >= 7)) for t in STEPS]
    np.testing.assert_allclose(values(s, STEPS), expected, rtol=1e-6)
    assert Ramp(0.1, epochs=20).drop_epochs == [15]


def test_linear_to_zero():
    s = LinearToZero(0.1, epochs=10, steps_per_epoch=10)
    np.testing.assert_allclose(values(s, STEPS), [0.1 * max(0, 1 - t / 100) for t in STEPS], atol=1e-7)


def test_cosine_annealing_with_floor():
    s = CosineAnnealing(0.1, epochs=10, alpha=0.2, steps_per_epoch=10)
    expected = [0.1 * ((1 - 0.2) * 0.5 * (1 + math.cos(math.pi * t / 100)) + 0.2) for t in STEPS]
    np.testing.assert_allclose(values(s, STEPS), expected, rtol=1e-5)


def test_cosine_restarts_longer_cycles_lower_peaks():
    s = CosineRestarts(0.1, cycle_epochs=2, t_mul=2.0, m_mul=0.5, steps_per_epoch=5)
    # Cycles: epochs [0, 2), [2, 6), [6, 14); peaks 0.1, 0.05, 0.025.
    np.testing.assert_allclose(values(s, [0, 10, 30]), [0.1, 0.05, 0.025], rtol=1e-5)
    mid_second = 10 + 10  # half way through the second cycle (20 steps long)
    assert float(s(mid_second)) == pytest.approx(0.05 * 0.5 * (1 + math.cos(math.pi * 0.5)), rel=1e-5)
    assert s.cycle_starts(14) == [0, 2, 6]


def test_one_cycle_rate_and_momentum_curves():
    s = OneCycle(1.0, epochs=10, div=25, final_div=1e4, pct_start=0.3, steps_per_epoch=10)
    start, end = 1.0 / 25, 1.0 / 25 / 1e4
    assert float(s(0)) == pytest.approx(start, rel=1e-5)
    assert float(s(30)) == pytest.approx(1.0, rel=1e-5)
    assert float(s(100)) == pytest.approx(end, rel=1e-3)
    # Cosine rise and fall in between.
    assert float(s(15)) == pytest.approx(1.0 + (start - 1.0) * 0.5 * (1 + math.cos(math.pi * 0.5)), rel=1e-5)
    assert float(s(65)) == pytest.approx(end + (1.0 - end) * 0.5 * (1 + math.cos(math.pi * 0.5)), rel=1e-4)
    momentum = values(s.momentum, [0, 15, 30, 65, 100])
    np.testing.assert_allclose(momentum, [0.95, 0.9, 0.85, 0.9, 0.95], rtol=1e-5)


# The book's Table 10.1 (lr0 0.1, k 1e-3), epochs 1-10.
BOOK_TABLE_10_1 = [0.0999, 0.0997, 0.0994, 0.0990, 0.0985, 0.0979, 0.0972, 0.0964, 0.0955, 0.0945]


def test_decrement_reproduces_the_books_table_exactly():
    s = Decrement(0.1, decay=1e-3, steps_per_epoch=4)
    epochs = np.arange(1, 11)
    np.testing.assert_allclose(values(s, 4 * epochs), BOOK_TABLE_10_1, atol=5e-8)
    np.testing.assert_allclose(values(s, 4 * epochs + 3), BOOK_TABLE_10_1, atol=5e-8)  # per epoch
    np.testing.assert_allclose(values(s, 4 * epochs), 0.1 * (1 - 1e-3 * epochs * (epochs + 1) / 2),
                               rtol=1e-6)
    assert float(Decrement(0.1, decay=0.5)(10)) == 0.0  # never below zero


def test_decrement_trains_as_the_book_prints_it(iris):
    X, y = iris
    est = KerasClassifier(hidden_layer_sizes=(4,), optimizer="sgd", learning_rate=0.1, epochs=11,
                          schedule="decrement", random_state=0).fit(X, y)
    np.testing.assert_allclose(est.history_["lr"][1:11], BOOK_TABLE_10_1, atol=5e-8)


def test_one_cycle_linear_follows_the_articles_three_phases():
    s = OneCycle(0.1, epochs=20, shape="linear")  # div 10, 45 % up, 45 % down, 10 % annihilation
    t = np.linspace(0, 20, 81)
    rise = np.interp(t, [0, 9, 18, 20], [0.01, 0.1, 0.01, 0.01 / 1e4])
    np.testing.assert_allclose(values(s, t), rise, rtol=1e-5, atol=1e-9)
    momentum = np.interp(t, [0, 9, 18, 20], [0.95, 0.85, 0.95, 0.95])
    np.testing.assert_allclose(values(s.momentum, t), momentum, rtol=1e-5)
    assert values(s, [20])[0] < values(s, [0])[0] / 1000  # the last steps orders lower
    s = OneCycle(0.1, epochs=10, shape="linear", div=20, pct_start=0.4)
    np.testing.assert_allclose(values(s, [0, 4, 8, 10]), [0.005, 0.1, 0.005, 5e-7], rtol=1e-5,
                               atol=1e-9)
    with pytest.raises(ValueError, match="pct_start"):
        OneCycle(0.1, epochs=10, shape="linear", pct_start=0.6)


def test_restarts_can_cap_their_number_and_lower_their_floor():
    t = np.array([0.0, 1.0, 3.999, 4.0, 5.0, 7.999, 8.0, 30.0])
    s = CosineRestarts(0.1, cycle_epochs=4, t_mul=1.0, m_mul=0.5, alpha=0.2, floor="falling",
                       max_restarts=1)
    i = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    fraction = np.where(t >= 8, 1.0, (t - 4 * i) / 4)
    expected = 0.1 * 0.5 ** i * (0.2 + 0.8 * 0.5 * (1 + np.cos(np.pi * fraction)))
    np.testing.assert_allclose(values(s, t), expected, rtol=1e-4)
    assert values(s, [7.999])[0] < values(s, [3.999])[0]  # the low falls with the high
    assert s.cycle_starts(30) == [0, 4]
    capped = CosineRestarts(0.1, cycle_epochs=2, t_mul=2.0, max_restarts=2)
    uncapped = CosineRestarts(0.1, cycle_epochs=2, t_mul=2.0)
    steps = np.arange(0, 14, 0.5)
    np.testing.assert_allclose(values(capped, steps), values(uncapped, steps), atol=1e-7)
    assert values(capped, [20.0])[0] == pytest.approx(0.0, abs=1e-7)  # held at the floor


def test_warmup_composes_in_front_of_any_schedule():
    inner = CosineAnnealing(0.1, epochs=10, steps_per_epoch=10)
    s = Warmup(inner, epochs=4, start_lr=0.01, steps_per_epoch=10)
    step = (0.1 - 0.01) / 4
    np.testing.assert_allclose(values(s, [0, 10, 20, 30]), [0.01 + e * step for e in range(4)], rtol=1e-5)
    np.testing.assert_allclose(values(s, [40, 90, 140]), values(inner, [0, 50, 100]), rtol=1e-5)
    np.testing.assert_allclose(values(s, [5]), [0.01 + 0.5 * step], rtol=1e-5)  # smooth per step


ALL = [
    Constant(0.1),
    TimeDecay(0.1, decay=1e-3),
    ExponentialDecay(0.1, decay=0.2, steps_per_epoch=3),
    Ramp(0.1, drop_epochs=[2], steps_per_epoch=3),
    LinearToZero(0.1, epochs=5, steps_per_epoch=3),
    CosineAnnealing(0.1, epochs=5, alpha=0.1, steps_per_epoch=3),
    CosineRestarts(0.1, cycle_epochs=2, steps_per_epoch=3),
    CosineRestarts(0.1, cycle_epochs=2, m_mul=0.5, alpha=0.1, floor="falling", max_restarts=2,
                   steps_per_epoch=3),
    OneCycle(0.1, epochs=5, steps_per_epoch=3),
    OneCycle(0.1, epochs=5, shape="linear", steps_per_epoch=3),
    Decrement(0.1, decay=1e-3, steps_per_epoch=3),
    Warmup(OneCycle(0.1, epochs=5, steps_per_epoch=3), epochs=2, start_lr=1e-3, steps_per_epoch=3),
]


@pytest.mark.parametrize("schedule", ALL, ids=lambda s: type(s).__name__)
def test_config_round_trip(schedule):
    config = keras.optimizers.schedules.serialize(schedule)
    restored = keras.optimizers.schedules.deserialize(config)
    assert type(restored) is type(schedule)
    np.testing.assert_allclose(values(restored, range(16)), values(schedule, range(16)), rtol=1e-6)


def test_schedule_survives_a_saved_model(tmp_path):
    schedule = Warmup(CosineRestarts(0.05, cycle_epochs=2, steps_per_epoch=4), epochs=1, start_lr=1e-3, steps_per_epoch=4)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(schedule), "mse")
    model.fit(np.ones((8, 3)), np.ones((8, 2)), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    restored = loaded.optimizer._learning_rate
    assert isinstance(restored, Warmup) and isinstance(restored.schedule, CosineRestarts)
    np.testing.assert_allclose(values(restored, range(20)), values(schedule, range(20)), rtol=1e-6)


BAD = [
    (lambda: CosineAnnealing(-0.1, epochs=5), "initial_learning_rate == -0.1, must be > 0"),
    (lambda: CosineAnnealing(0.1, epochs=0), "epochs == 0, must be > 0"),
    (lambda: LinearToZero(0.1, epochs=-3), "epochs == -3, must be > 0"),
    (lambda: OneCycle(0.1, epochs=5, div=1), "div == 1, must be > 1"),
    (lambda: OneCycle(0.1, epochs=5, final_div=0.5), "final_div == 0.5, must be > 1"),
    (lambda: CosineAnnealing(0.1, epochs=5, alpha=1.5), "alpha == 1.5, must be <= 1"),
    (lambda: CosineRestarts(0.1, alpha=-0.1), "alpha == -0.1, must be >= 0"),
    (lambda: make_schedule("cosinee", 0.1, 5, 1), "schedule='cosinee'.*Did you mean 'cosine'"),
    (lambda: Warmup(Constant(0.01), epochs=2, start_lr=0.1), "start_lr .* must not exceed"),
]


@pytest.mark.parametrize("build, message", BAD, ids=range(len(BAD)))
def test_bad_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# -- in the estimator ------------------------------------------------------------


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_every_name_trains_and_logs_its_rate(iris, name):
    X, y = iris
    est = KerasClassifier(
        hidden_layer_sizes=(8,), epochs=3, batch_size=50, schedule=name, learning_rate=0.01, random_state=0
    ).fit(X, y)
    expected = values(est.schedule_, [0, 3, 6])  # 150 / 50 = 3 steps per epoch
    np.testing.assert_allclose(est.history_["lr"], expected, rtol=1e-5)


def test_schedule_arguments_are_tunable_by_name(iris):
    X, y = iris
    est = KerasClassifier(hidden_layer_sizes=(8,), epochs=4, warmup=1, schedule="cosine", schedule__alpha=0.25)
    est.set_params(schedule__alpha=0.5).fit(X, y)
    assert isinstance(est.schedule_, Warmup)
    assert est.schedule_.schedule.alpha == 0.5 and est.schedule_.schedule.epochs == 3


@pytest.mark.parametrize("optimizer, attribute", [("sgd", "momentum"), ("adam", "beta_1")])
def test_one_cycle_moves_momentum_inversely(iris, optimizer, attribute):
    X, y = iris
    est = KerasClassifier(
        hidden_layer_sizes=(8,), epochs=10, batch_size=150, schedule="onecycle", optimizer=optimizer
    ).fit(X, y)
    lr, momentum = np.array(est.history_["lr"]), np.array(est.history_["momentum"])
    peak = int(np.argmax(lr))
    assert peak == 3 and int(np.argmin(momentum)) == peak
    np.testing.assert_allclose(momentum, values(est.schedule_.momentum, range(10)), rtol=1e-5)
    assert isinstance(getattr(est.model_.optimizer, attribute), float)  # plain again after training


def test_cycled_momentum_really_drives_the_update():
    X, y = np.random.RandomState(0).normal(size=(32, 3)), np.random.RandomState(1).normal(size=(32, 1))

    def train(momentum, cycler=None):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.05, momentum=momentum), "mse")
        model.fit(X, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=cycler or [])
        return model.get_weights()[0]

    constant_half = OneCycle(0.05, epochs=3, base_momentum=0.5, max_momentum=0.5)
    cycled = train(0.9, [MomentumCycler(constant_half)])
    np.testing.assert_allclose(cycled, train(0.5), rtol=1e-5)
    assert not np.allclose(cycled, train(0.9))


class _Model:
    stop_training = False


def _run_stopper(stopper, losses):
    stopper.set_model(_Model())
    stopper.on_train_begin()
    for epoch, loss in enumerate(losses):
        stopper.on_epoch_end(epoch, {"loss": loss})
        if stopper.model.stop_training:
            return epoch + 1
    return len(losses)


def test_cycle_aware_early_stopping_waits_for_the_cycle_end():
    # Loss improves, then jumps at the restart after epoch 4 and never recovers.
    losses = [1.0, 0.8, 0.6, 0.5, 0.9, 0.85, 0.8, 0.7, 0.9, 0.9, 0.9, 0.9]
    plain = keras.callbacks.EarlyStopping(monitor="loss", patience=2)
    assert _run_stopper(plain, losses) == 6  # quits mid-cycle, right after the restart
    cyclic = CycleAwareEarlyStopping([4, 8, 12], monitor="loss", patience=2)
    assert _run_stopper(cyclic, losses) == 8  # patience ran out mid-cycle; stops at its end


def test_estimator_uses_cycle_aware_stopping_for_restarts(iris):
    X, y = iris
    est = KerasClassifier(schedule="restarts", schedule__cycle_epochs=2, epochs=4, early_stopping=1)
    est.fit(X, y)
    stopper = [cb for cb in est._fit_callbacks if isinstance(cb, CycleAwareEarlyStopping)]
    assert stopper and stopper[0].cycle_ends == [2, 4]


def test_plot_schedule_writes_a_picture(tmp_path):
    path = tmp_path / "onecycle.png"
    plot_schedule("onecycle", epochs=10, steps_per_epoch=5, path=path)
    assert path.stat().st_size > 5000
