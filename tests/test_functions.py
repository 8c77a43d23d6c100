"""The benchmark suite's test functions: known optima, bounds, counting."""

import numpy as np
import pytest

from skhp.benchmarks.beale import beale
from skhp.benchmarks.functions import SUITE, Hartmann6, Rosenbrock

NAMES = sorted(SUITE)


def test_the_suite_has_at_least_eight_functions_beyond_beale_from_2_to_8_dimensions():
    others = [SUITE[name]() for name in NAMES if name != "beale"]
    assert len(others) >= 8
    assert {f.dim for f in others} >= {2, 3, 4, 5, 6, 8}


@pytest.mark.parametrize("name", NAMES)
def test_the_known_optimum_is_in_the_box_and_has_the_known_value(name):
    f = SUITE[name]()
    low, high = np.array(f.bounds).T
    assert np.all(low <= f.global_optimum) and np.all(f.global_optimum <= high)
    assert f(f.global_optimum) == pytest.approx(f.fglob, abs=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_no_sampled_point_beats_the_optimum(name):
    f = SUITE[name]()
    low, high = np.array(f.bounds).T
    rng = np.random.default_rng(0)
    X = rng.uniform(low, high, size=(20000, f.dim))
    # also points close to the optimum, where a wrong optimum would show
    X = np.vstack([X, np.clip(f.global_optimum + rng.normal(0, 1e-2 * (high - low), (2000, f.dim)),
                              low, high)])
    values = f(X)
    assert values.shape == (22000,) and f.nfev == 22000
    assert values.min() >= f.fglob - 1e-4
    assert f.best == pytest.approx(values.min()) and f.gap() >= -1e-4


def test_values_against_hand_computed_ones():
    assert Rosenbrock(2)([0.0, 0.0]) == 1.0
    assert SUITE["rastrigin5"]()(np.ones(5)) == pytest.approx(5.0)
    assert SUITE["beale"]()([1.0, 2.0]) == pytest.approx(beale([1.0, 2.0]))
    with pytest.raises(ValueError, match="hartmann6 takes points of 6 coordinates, got 2"):
        Hartmann6()([0.5, 0.5])
