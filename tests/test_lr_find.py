"""The LR range test."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skhp import KerasClassifier, KerasRegressor, lr_find


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def result(digits):
    return lr_find(KerasClassifier(hidden_layer_sizes=(32,), random_state=0), *digits)


def test_rates_grow_exponentially_from_start(result):
    assert result.lrs[0] == pytest.approx(1e-7)
    ratios = result.lrs[1:] / result.lrs[:-1]
    np.testing.assert_allclose(ratios, (10.0 / 1e-7) ** (1 / 199), rtol=1e-3)
    assert len(result.lrs) == len(result.losses) == len(result.smoothed) <= 200


def test_suggestions_on_digits(result):
    assert 1e-4 <= result.suggestion <= 1
    assert set(result.suggestions) == {"minimum", "divergence", "steepest"}
    minimum = result.lrs[np.nanargmin(result.smoothed)]
    assert result.suggestions["minimum"] == pytest.approx(minimum / 10)
    # the article's rule: 10x below the minimum, where the loss starts to climb
    assert result.climbed and result.suggestion == result.suggestions["minimum"]
    assert result.fell


def test_steepest_is_past_the_initial_flat_part(result):
    steepest = result.suggestions["steepest"]
    assert steepest > 1e-5  # not the start of the range (1e-7), where the loss is flat
    i = int(np.flatnonzero(result.lrs == steepest)[0])
    assert result.smoothed[i] < result.smoothed[0] - 0.05 * (result.smoothed[0] - np.nanmin(result.smoothed))


def test_no_divergence_suggestion_when_the_loss_never_blew_up(digits):
    short = lr_find(KerasClassifier(hidden_layer_sizes=(32,), random_state=0), *digits,
                    end_lr=1e-2, num_steps=60)
    assert not short.diverged and short.suggestions["divergence"] is None
    # the minimum is the range's end (1e-2): the steepest fall is taken instead
    assert not short.climbed and short.suggestion == short.suggestions["steepest"]


def test_a_curve_that_never_falls_warns(digits):
    with pytest.warns(RuntimeWarning, match=r"loss never fell over learning rates 1e-09 to 1e-08"):
        flat = lr_find(KerasClassifier(hidden_layer_sizes=(32,), random_state=0), *digits,
                       start_lr=1e-9, end_lr=1e-8, num_steps=30)
    assert not flat.fell


def test_suggestion_trains_on_unscaled_data():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import cross_val_score

    X, y = load_breast_cancer(return_X_y=True)  # unscaled: features up to ~4000
    est = KerasClassifier(hidden_layer_sizes=(32,), random_state=0)
    rate = lr_find(est, X, y).suggestion
    assert rate < 0.1  # the minimum of this curve sits at lr 10 (suggesting 1.0, which diverges)
    score = cross_val_score(est.set_params(learning_rate=rate, epochs=5), X, y, cv=3).mean()
    assert score > 0.8  # the majority class is 0.63


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("data", ["standardized breast cancer", "unscaled digits"])
def test_the_suggestion_trains_well(data, optimizer):
    """The suggestion lies where the loss really falls, not in the first steps' noise.

    On standardized breast cancer the smoothed loss of the first five steps
    (at 1e-7) swung 0.70 -> 0.60 and back; read as the steepest fall, it made
    1.1e-07 the suggestion and ``learning_rate="auto"`` trained to the majority
    class (CV 0.64). (Unscaled breast cancer has no rate that trains SGD well for
    every seed: 4.5e-6 gives 0.90 with one and 0.87 with another.)
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import cross_val_score
    from sklearn.preprocessing import StandardScaler

    if data == "unscaled digits":
        X, y = load_digits(return_X_y=True)
    else:
        X, y = load_breast_cancer(return_X_y=True)
        X = StandardScaler().fit_transform(X)
    est = KerasClassifier(hidden_layer_sizes=(32,), optimizer=optimizer, random_state=0)
    result = lr_find(est, X, y)
    assert result.suggestion > 1e-6  # not the start of the range
    score = cross_val_score(est.set_params(learning_rate=result.suggestion, epochs=10), X, y,
                            cv=3).mean()
    # plain SGD on unscaled pixels peaks just below 0.9 in 10 epochs whatever the rate
    # (measured: 0.853 at 0.005, 0.898 at 0.0153, 0.894 at 0.03)
    floor = 0.88 if (data, optimizer) == ("unscaled digits", "sgd") else 0.9
    assert score >= floor, (result.suggestions, score)


def test_stops_once_the_loss_diverges():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 5))
    y = X @ rng.normal(size=5)
    reg = KerasRegressor(hidden_layer_sizes=(16,), optimizer="sgd", random_state=0)
    result = lr_find(reg, X, y)
    assert len(result.lrs) < 200
    last = result.smoothed[-1]
    assert not np.isfinite(last) or last > 4 * np.nanmin(result.smoothed)


def test_plot_is_written(result, tmp_path):
    result.plot(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 5000


def test_estimator_is_left_unchanged(digits):
    est = KerasClassifier(hidden_layer_sizes=(32,), schedule="cosine", warmup=2)
    before = est.get_params()
    lr_find(est, *digits, num_steps=20)
    assert est.get_params() == before and not hasattr(est, "model_")


def test_auto_learning_rate_uses_the_suggestion(digits):
    est = KerasClassifier(hidden_layer_sizes=(32,), learning_rate="auto", epochs=1, random_state=0).fit(*digits)
    assert est.learning_rate_ == est.lr_find_.suggestion
    assert est.history_["lr"][0] == pytest.approx(est.learning_rate_, rel=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"start_lr": 0}, "start_lr == 0, must be > 0"),
    ({"end_lr": 1e-8}, "end_lr == 1e-08, must be > 1e-07"),
    ({"diverge": 1}, "diverge == 1, must be > 1"),
])
def test_bad_arguments(digits, kwargs, message):
    with pytest.raises(ValueError, match=message):
        lr_find(KerasClassifier(), *digits, **kwargs)
