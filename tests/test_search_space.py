"""Search spaces: conversion from scikit-learn style, sampling, narrowing, bad spaces."""

import math

import numpy as np
import pytest
from scipy.stats import loguniform, norm, randint, uniform

from skhp.search import Choice, Distribution, Integer, Real, Space
from skhp.search.narrowing import narrow, narrow_space


def test_param_distributions_convert():
    space = Space({
        "lr": loguniform(1e-4, 1e-1),
        "dropout": uniform(0.1, 0.4),
        "units": randint(8, 65),
        "batch_size": [16, 32, 64],
        "optimizer": ["adam", "sgd"],
        "mixed": [3, 1, 2],
        "noise": norm(0, 1),
    })
    assert space["lr"] == Real(1e-4, 1e-1, log=True)
    assert space["dropout"] == Real(0.1, 0.5)
    assert space["units"] == Integer(8, 64)
    assert space["batch_size"] == Choice([16, 32, 64], ordered=True)
    assert space["optimizer"] == Choice(["adam", "sgd"], ordered=False)
    assert space["mixed"] == Choice([1, 2, 3], ordered=True)  # numbers are ordered in any order
    assert isinstance(space["noise"], Distribution)


def test_samples_stay_in_bounds_and_log_scale_spreads_over_decades():
    rng = np.random.default_rng(0)
    values = np.array(Real(1e-5, 1e-1, log=True).sample(rng, 4000))
    assert values.min() >= 1e-5 and values.max() <= 1e-1
    decades = np.histogram(np.log10(values), bins=[-5, -4, -3, -2, -1])[0]
    assert decades.min() > 800  # about 1000 per decade: log-uniform, not uniform
    ints = Integer(1, 5).sample(rng, 5000)
    assert set(ints) == {1, 2, 3, 4, 5}
    assert min(np.bincount(ints)[1:]) > 800  # the ends are as likely as the middle


def test_narrow_log_range_is_x_over_factor_to_x_times_factor():
    lr = Real(1e-5, 1.0, log=True)
    assert narrow(lr, 1e-3) == Real(5e-4, 2e-3, log=True)
    near = narrow(lr, 1e-3, factor=3)
    assert math.isclose(near.low, 1e-3 / 3) and math.isclose(near.high, 3e-3)
    half = narrow(lr, 1e-3, factor=2, scale=0.5)
    assert math.isclose(half.low, 1e-3 / 2**0.5) and math.isclose(half.high, 1e-3 * 2**0.5)


def test_narrow_clips_to_the_original_bounds():
    lr = Real(1e-4, 1e-1, log=True)
    assert narrow(lr, 0.08) == Real(0.04, 0.1, log=True)
    assert narrow(lr, 1e-4).low == 1e-4
    lin = Real(-4.5, 4.5)
    assert narrow(lin, 4.0) == Real(1.75, 4.5)  # half-width 9 / 4, cut at 4.5
    assert narrow(Integer(1, 10), 1) == Integer(1, 4)  # 1 + 9 / 4, rounded up


def test_narrow_integers_and_choices():
    batch = Integer(16, 512, base=2)
    assert batch.values() == [16, 32, 64, 128, 256, 512]
    assert narrow(batch, 64).values() == [32, 64, 128]
    assert narrow(batch, 512).values() == [256, 512]
    assert narrow(Integer(1, 100, log=True), 10) == Integer(5, 20, log=True)
    ordered = Choice([1, 2, 4, 8, 16], ordered=True)
    assert narrow(ordered, 4).values == (2, 4, 8)
    assert narrow(ordered, 16).values == (8, 16)
    unordered = Choice(["adam", "sgd", "rmsprop", "nadam"])
    narrowed = narrow(unordered, "sgd", keep=0.7)
    assert narrowed.values == unordered.values
    assert narrowed.weights == pytest.approx((0.1, 0.7, 0.1, 0.1))
    draws = narrowed.sample(np.random.default_rng(0), 2000)
    assert 0.65 < draws.count("sgd") / 2000 < 0.75


def test_space_narrow_and_describe():
    space = Space({"lr": Real(1e-4, 1e-1, log=True), "bs": [16, 32, 64], "opt": ["adam", "sgd"]})
    narrowed = narrow_space(space, {"lr": 1e-2, "bs": 16, "opt": "adam"})
    assert narrowed["lr"] == Real(5e-3, 2e-2, log=True)
    assert narrowed["bs"].values == (16, 32)
    assert narrowed.describe() == (
        "lr=[0.005, 0.02] log; bs={16, 32}; opt={'adam', 'sgd'} p=0.70, 0.30")
    points = narrowed.sample(np.random.default_rng(1), 50)
    assert all(5e-3 <= p["lr"] <= 2e-2 and p["bs"] in (16, 32) for p in points)


@pytest.mark.parametrize("make, message", [
    (lambda: Space({"opt": []}), "empty"),
    (lambda: Choice([]), "at least one"),
    (lambda: Real(1.0, 0.1), "low must not exceed high"),
    (lambda: Integer(10, 1), "low must not exceed high"),
    (lambda: Real(0.0, 1.0, log=True), "log-scale range needs low > 0"),
    (lambda: Real(-1e-3, 1.0, log=True), "log-scale range needs low > 0"),
    (lambda: Real(0, math.inf), "high must be a finite number"),
    (lambda: Integer(1.5, 3), "low must be an integer"),
    (lambda: Integer(5, 7, base=2), "no power of 2"),
    (lambda: Space({}), "at least one parameter"),
    (lambda: Space([("lr", [1])]), "must be a dict"),
    (lambda: Space({"lr": "0.1"}), "parameter 'lr': expected a list"),
])
def test_bad_spaces_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("values", [[0.1, 0.01, 0.001, 0.0001], [0.0001, 0.001, 0.01, 0.1],
                                    [0.01, 0.1, 0.0001, 0.001]])
def test_a_list_of_numbers_narrows_like_the_book_whatever_its_order(values):
    dim = Space({"lr": values})["lr"]
    assert dim == Choice([0.0001, 0.001, 0.01, 0.1], ordered=True)
    assert narrow(dim, 0.01) == Real(0.005, 0.02, log=True)  # [x/2, 2x], log: spans > a decade
    assert narrow(dim, 0.1) == Real(0.05, 0.1, log=True)  # clipped to the list's range
    rng = np.random.default_rng(0)
    drawn = narrow(dim, 0.001).sample(rng, 200)
    assert min(drawn) >= 0.0005 and max(drawn) <= 0.002 and len(set(drawn)) > 100


def test_integer_lists_narrow_to_integers():
    dim = Space({"batch_size": [512, 32, 128]})["batch_size"]
    assert narrow(dim, 128).values == (64, 128, 256)
    assert narrow(dim, 32).values == (32, 64)  # 16 is below the list
    assert narrow(Space({"x": [1.0, 2.0, 3.0]})["x"], 2.0) == Real(1.0, 3.0, log=False)
    # a later round's centre, drawn from an earlier narrowed range, lies between the listed values
    assert narrow(Space({"s": [0.05, 0.1, 0.2]})["s"], 0.19) == Real(0.095, 0.2, log=False)
    assert narrow(dim, 64).values == (32, 64, 128)


def test_every_dimension_has_the_declared_interface_and_round_trips_through_json():
    import json

    from skhp.search import Dimension

    space = Space({"lr": Real(1e-4, 1e-1, log=True), "bs": Integer(16, 256, base=2),
                   "units": Integer(4, 64), "opt": ["adam", "sgd"], "drop": [0.1, 0.3, 0.2]})
    for dim in space.dimensions.values():
        assert isinstance(dim, Dimension)
        for value in dim.sample(np.random.default_rng(0), 20):
            assert dim.contains(value)
            assert 0.0 <= dim.to_unit(value) <= 1.0
            assert dim.from_unit(dim.to_unit(value)) == pytest.approx(value)
    assert Space.from_dict(json.loads(json.dumps(space.to_dict()))) == space
    # exact: no rounding of the bounds
    assert Space.from_dict(Space({"x": Real(0.123456789, 1.0)}).to_dict())["x"].low == 0.123456789


def test_a_list_of_dicts_is_a_conditional_space():
    from skhp.search import SpaceUnion
    from skhp.search._space import as_space

    union = as_space([{"kernel": ["rbf"], "gamma": Real(1e-4, 1.0, log=True)},
                      {"kernel": ["linear"], "C": Real(0.1, 10.0, log=True)}])
    assert isinstance(union, SpaceUnion)
    points = union.sample(np.random.default_rng(0), 40)
    assert {frozenset(p) for p in points} == {frozenset({"kernel", "gamma"}), frozenset({"kernel", "C"})}
    near = narrow_space(union, {"kernel": "rbf", "gamma": 1e-2})
    assert set(near) == {"kernel", "gamma"} and near["gamma"] == Real(5e-3, 2e-2, log=True)
    assert Space.from_dict(union.to_dict()) == union
    with pytest.raises(AttributeError, match="has no single set of dimensions"):
        union.dimensions


def test_a_log_integer_range_stays_log_scale_for_scikit_learn():
    from sklearn.model_selection import ParameterSampler

    from skhp.search._space import Integer, LogUniformInteger, Space

    dists = Space({"units": Integer(4, 128, log=True)}).to_param_distributions()
    assert isinstance(dists["units"], LogUniformInteger)
    draws = np.array([p["units"] for p in ParameterSampler(dists, 3000, random_state=0)])
    assert draws.min() == 4 and draws.max() == 128
    # log scale: as many draws in [4, 22] as in [23, 128] (uniform would put 15% below 23)
    assert 0.45 < np.mean(draws <= 22) < 0.6
    assert Space(dists).dimensions["units"] == Integer(4, 128, log=True)


def test_integer_step_ranges_keep_their_step_everywhere():
    from skhp.search.guided import line, next_value

    filters = Integer(32, 96, step=32)
    assert filters.values() == [32, 64, 96]
    assert filters.contains(64) and not filters.contains(48)
    rng = np.random.default_rng(0)
    draws = filters.sample(rng, 3000)
    assert set(draws) == {32, 64, 96} and min(draws.count(v) for v in (32, 64, 96)) > 900
    assert filters.grid(2) == [32, 96] and filters.from_unit(0.4) == 64
    assert Integer(0, 100, step=10).nearest(44) == 40
    narrowed = narrow(Integer(32, 512, step=32), 128)
    assert narrowed.step == 32 and all(v % 32 == 0 for v in narrowed.values())
    assert 128 in narrowed.values() and narrowed.low < 128 < narrowed.high
    assert narrow(filters, 96).values() == [64, 96]  # clipped, one step at least
    assert line(Integer(32, 512, step=32), 128, 2) == [32, 128, 352]  # +-(512 - 32) / 2, on the grid
    assert line(Integer(32, 512, step=32), 128, 100) == [96, 128, 160]  # one step at least
    assert next_value(filters, 64, 1) == 96 and next_value(filters, 96, 1) is None
    assert Space.from_dict(Space({"f": filters}).to_dict())["f"] == filters
    assert Space({"f": filters}).to_param_distributions() == {"f": [32, 64, 96]}
    assert "step 32" in filters.describe()
    with pytest.raises(ValueError, match="step"):
        Integer(1, 64, log=True, step=2)
    with pytest.raises(ValueError, match="step must be an integer >= 1"):
        Integer(1, 64, step=0)
