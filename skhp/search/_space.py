"""Search spaces: bounded ranges and choices, as data.

A space maps parameter names to dimensions. Every dimension has one interface
(:class:`Dimension`): draw values, test membership, list a grid, map values to
[0, 1] and back, and describe itself as plain JSON. How a strategy moves in a
space (narrowing around a point, line searches, walks) lives with the strategy
(:mod:`skhp.search.narrowing`, :mod:`skhp.search.guided`).

A list of spaces (``[{"kernel": ["rbf"], "gamma": ...}, {"kernel": ["linear"]}]``,
as scikit-learn's searches take) is a conditional space, a :class:`SpaceUnion`.
"""

import abc
import math
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["Dimension", "Real", "Integer", "Choice", "Distribution", "Space", "SpaceUnion",
           "LogUniformInteger", "as_space"]


class Dimension(abc.ABC):
    """The interface of every dimension of a search space.

    Examples
    --------
    >>> isinstance(Real(0, 1), Dimension) and isinstance(Choice(["a"]), Dimension)
    True
    """

    @abc.abstractmethod
    def sample(self, rng, size):
        """``size`` values drawn from ``rng`` (a numpy Generator)."""

    @abc.abstractmethod
    def contains(self, value):
        """Whether ``value`` is one of the dimension's values."""

    @abc.abstractmethod
    def grid(self, n):
        """About ``n`` values spread over the dimension (every value of a choice)."""

    @abc.abstractmethod
    def to_unit(self, value):
        """``value`` mapped to [0, 1] (see :meth:`from_unit`)."""

    @abc.abstractmethod
    def from_unit(self, u):
        """The value at ``u`` in [0, 1]."""

    @abc.abstractmethod
    def to_dict(self):
        """The dimension as plain JSON values (see :meth:`Space.from_dict`)."""

    @abc.abstractmethod
    def describe(self):
        """A short readable form."""


def _check_bounds(low, high, log, integer=False):
    kind = numbers.Integral if integer else numbers.Real
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
            what = "an integer" if integer else "a finite number"
            raise ValueError(f"{name} must be {what}, got {value!r}.")
    if low > high:
        raise ValueError(f"low must not exceed high, got low={low!r} > high={high!r}.")
    if log and low <= 0:
        raise ValueError(f"a log-scale range needs low > 0, got low={low!r}.")


def is_number(value):
    """Whether ``value`` is a finite real number (booleans are not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Real(Dimension):
    """A continuous range ``[low, high]``, drawn uniformly or log-uniformly.

    Parameters
    ----------
    low, high : float
        The bounds, ``low <= high``.
    log : bool, default=False
        Draw and narrow on a log scale (for multiplicative quantities such as
        a learning rate or a weight decay); needs ``low > 0``.

    Examples
    --------
    >>> import numpy as np
    >>> lr = Real(1e-5, 1e-1, log=True)
    >>> lr.to_unit(1e-3), lr.from_unit(0.5)
    (0.5, 0.001)
    >>> all(1e-5 <= v <= 1e-1 for v in lr.sample(np.random.default_rng(0), 5))
    True
    """

    low: float
    high: float
    log: bool = False

    def __post_init__(self):
        _check_bounds(self.low, self.high, self.log)

    def to_unit(self, value):
        """``value`` mapped to [0, 1] on the range's own scale (log or linear)."""
        if self.low == self.high:
            return 0.5
        if self.log:
            return math.log(value / self.low) / math.log(self.high / self.low)
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, u):
        """The value at ``u`` in [0, 1] on the range's own scale (inverse of :meth:`to_unit`)."""
        if self.log:
            return float(self.low * (self.high / self.low) ** u)
        return float(self.low + u * (self.high - self.low))

    def contains(self, value):
        """Whether ``value`` is a number within the bounds."""
        return is_number(value) and self.low <= value <= self.high

    def sample(self, rng, size):
        """``size`` values drawn from ``rng`` (a numpy Generator)."""
        return [self.from_unit(u) for u in rng.uniform(0, 1, size)]

    def grid(self, n):
        """``n`` evenly spaced values (log-spaced when ``log``), ends included."""
        return [self.from_unit(u) for u in np.linspace(0, 1, n)]

    def describe(self):
        return f"[{self.low:.4g}, {self.high:.4g}]" + (" log" if self.log else "")

    def to_dict(self):
        """The dimension as plain JSON values (see :meth:`Space.from_dict`)."""
        return {"type": "real", "low": float(self.low), "high": float(self.high), "log": bool(self.log)}


@dataclass(frozen=True, repr=False)
class Integer(Dimension):
    """An integer range ``[low, high]``, drawn uniformly or log-uniformly.

    Parameters
    ----------
    low, high : int
        The bounds, ``low <= high``.
    log : bool, default=False
        Draw and narrow on a log scale; needs ``low > 0``.
    base : int or None, default=None
        When given, only the powers of ``base`` within the bounds are values
        (``Integer(16, 512, base=2)`` is the batch sizes 16, 32, ..., 512);
        implies ``log``.
    step : int or None, default=None
        When given, only ``low``, ``low + step``, ... up to ``high`` are values
        (KerasTuner's ``hp.Int(step=...)``); on a linear scale only.

    Examples
    --------
    >>> Integer(16, 512, base=2).values()
    [16, 32, 64, 128, 256, 512]
    >>> Integer(32, 100, step=32).values()
    [32, 64, 96]
    >>> Integer(1, 100, log=True).to_unit(10)
    0.5
    """

    low: int
    high: int
    log: bool = False
    base: int = None
    step: int = None

    def __post_init__(self):
        _check_bounds(self.low, self.high, self.log or self.base is not None, integer=True)
        for name in ("base", "step"):
            value, least = getattr(self, name), 2 if name == "base" else 1
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)
                                      or value < least):
                raise ValueError(f"{name} must be an integer >= {least} or None, got {value!r}.")
        if self.step is not None and (self.log or self.base is not None):
            raise ValueError(
                f"step={self.step} spaces values evenly on a linear scale; with log=True or a "
                "base give the values as base= (powers) or as a Choice of integers.")
        if self.base is not None:
            if not self.values():
                raise ValueError(f"no power of {self.base} lies in [{self.low}, {self.high}].")
            object.__setattr__(self, "log", True)

    def __repr__(self):
        step = "" if self.step is None else f", step={self.step}"
        return f"Integer(low={self.low}, high={self.high}, log={self.log}, base={self.base}{step})"

    def values(self):
        """Every value of a ``base`` or ``step`` range (None when the range has neither)."""
        if self.step is not None:
            return list(range(int(self.low), int(self.high) + 1, int(self.step)))
        if self.base is None:
            return None
        k, out = 0, []
        while self.base**k <= self.high:
            if self.base**k >= self.low:
                out.append(self.base**k)
            k += 1
        return out

    def nearest(self, value):
        """The value of the range nearest to ``value`` (on its own scale)."""
        values = self.values()
        if values is None:
            return int(min(max(round(value), self.low), self.high))
        if self.log:
            return min(values, key=lambda v: abs(math.log(v / value)))
        return min(values, key=lambda v: abs(v - value))

    def to_unit(self, value):
        """``value`` mapped to [0, 1] on the range's own scale (log or linear)."""
        return Real(self.low, self.high, self.log).to_unit(value)

    def from_unit(self, u):
        """The integer nearest the value at ``u`` (the nearest power or step value with them)."""
        return self.nearest(Real(self.low, self.high, self.log).from_unit(min(max(u, 0.0), 1.0)))

    def contains(self, value):
        """Whether ``value`` is one of the range's integers."""
        if not (is_number(value) and float(value).is_integer() and self.low <= value <= self.high):
            return False
        values = self.values()
        return values is None or int(value) in values

    def sample(self, rng, size):
        """``size`` values drawn from ``rng`` (a numpy Generator)."""
        values = self.values()
        if values is not None:
            return [int(values[i]) for i in rng.integers(0, len(values), size)]
        if self.log:
            # widen by half a unit so that both ends are as likely as their neighbours
            lo, hi = math.log(self.low - 0.499), math.log(self.high + 0.499)
            raw = np.exp(rng.uniform(lo, hi, size))
        else:
            raw = rng.uniform(self.low - 0.499, self.high + 0.499, size)
        return [int(min(max(round(v), self.low), self.high)) for v in raw]

    def grid(self, n):
        """Up to ``n`` distinct values spread over the range."""
        values = self.values()
        if values is not None:
            idx = np.unique(np.round(np.linspace(0, len(values) - 1, n)).astype(int))
            return [int(values[i]) for i in idx]
        real = Real(self.low, self.high, self.log).grid(n)
        return sorted({int(round(v)) for v in real})

    def describe(self):
        if self.base is not None:
            return "{" + ", ".join(map(str, self.values())) + "}"
        step = f" step {self.step}" if self.step is not None else ""
        return f"[{self.low}, {self.high}]" + step + (" log" if self.log else "")

    def to_dict(self):
        """The dimension as plain JSON values (see :meth:`Space.from_dict`)."""
        return {"type": "integer", "low": int(self.low), "high": int(self.high),
                "log": bool(self.log), "base": self.base, "step": self.step}


@dataclass(frozen=True)
class Choice(Dimension):
    """A finite set of values, ordered (``[16, 32, 64]``) or not (``["adam", "sgd"]``).

    Parameters
    ----------
    values : sequence
        The values, at least one.
    ordered : bool, default=False
        Whether neighbours in ``values`` are alike; narrowing an ordered choice
        keeps the value and its neighbours.
    weights : sequence of float or None, default=None
        Probabilities of drawing each value; None is uniform.

    Examples
    --------
    >>> Choice([16, 32, 64, 128], ordered=True).contains(32)
    True
    >>> Choice(["adam", "sgd"]).to_unit("sgd"), Choice(["adam", "sgd"]).from_unit(0.1)
    (0.75, 'adam')
    """

    values: tuple
    ordered: bool = False
    weights: tuple = None

    def __post_init__(self):
        if isinstance(self.values, str) or not hasattr(self.values, "__len__"):
            raise ValueError(f"values must be a list of choices, got {self.values!r}.")
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise ValueError("values must hold at least one choice, got an empty list.")
        if self.weights is not None:
            w = np.asarray(self.weights, dtype=float)
            if w.shape != (len(self.values),) or (w < 0).any() or w.sum() <= 0:
                raise ValueError(
                    f"weights must be {len(self.values)} non-negative numbers with a "
                    f"positive sum, got {self.weights!r}."
                )
            object.__setattr__(self, "weights", tuple(float(x) for x in w / w.sum()))

    def index(self, value):
        for i, v in enumerate(self.values):
            if v is value or (type(v) is type(value) and v == value):
                return i
        for i, v in enumerate(self.values):  # e.g. numpy scalars against Python numbers
            try:
                if v == value:
                    return i
            except Exception:  # values that cannot be compared are simply different
                pass
        raise ValueError(f"{value!r} is not one of the choices {list(self.values)}.")

    def to_unit(self, value):
        """The middle of ``value``'s slot: slot i of n covers [i/n, (i+1)/n)."""
        return (self.index(value) + 0.5) / len(self.values)

    def from_unit(self, u):
        """The value whose slot holds ``u``."""
        return self.values[min(int(min(max(u, 0.0), 1.0) * len(self.values)), len(self.values) - 1)]

    def contains(self, value):
        """Whether ``value`` is one of the choices."""
        try:
            self.index(value)
        except ValueError:
            return False
        return True

    def sample(self, rng, size):
        """``size`` values drawn from ``rng`` (a numpy Generator)."""
        idx = rng.choice(len(self.values), size=size, p=self.weights)
        return [self.values[i] for i in idx]

    def grid(self, n):
        """Every value."""
        return list(self.values)

    def describe(self):
        text = "{" + ", ".join(map(repr, self.values)) + "}"
        if self.weights is not None:
            text += " p=" + ", ".join(f"{w:.2f}" for w in self.weights)
        return text

    def to_dict(self):
        """The dimension as plain JSON values (see :meth:`Space.from_dict`); values
        that are not numbers, strings, booleans or None are kept as their repr."""
        json_types = (bool, int, float, str, type(None))
        values = [plain(v) for v in self.values]
        return {"type": "choice", "values": [v if isinstance(v, json_types) else {"repr": repr(v)}
                                             for v in values],
                "ordered": bool(self.ordered),
                "weights": None if self.weights is None else list(self.weights)}


class Distribution(Dimension):
    """Any object with ``rvs`` (e.g. a frozen ``scipy.stats`` distribution).

    Drawn as it is and never narrowed; prefer :class:`Real` or
    :class:`Integer` for a range the narrowing search should zoom into.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import norm
    >>> len(Distribution(norm(0, 1)).sample(np.random.default_rng(0), 3))
    3
    """

    def __init__(self, dist):
        if not hasattr(dist, "rvs"):
            raise ValueError(f"a distribution needs an rvs method, got {dist!r}.")
        self.dist = dist

    def __repr__(self):
        return f"Distribution({self.dist!r})"

    def __eq__(self, other):
        return isinstance(other, Distribution) and self.describe() == other.describe()

    def __hash__(self):
        return hash(self.describe())

    def contains(self, value):
        return False

    def to_unit(self, value):
        raise ValueError(f"{self.describe()} has no unit scale; give a Real or Integer instead.")

    def from_unit(self, u):
        raise ValueError(f"{self.describe()} has no unit scale; give a Real or Integer instead.")

    def sample(self, rng, size):
        return [v.item() if hasattr(v, "item") else v for v in self.dist.rvs(size=size, random_state=rng)]

    def grid(self, n):
        raise ValueError(f"{self.describe()} has no grid; give a Real, Integer or Choice instead.")

    def describe(self):
        dist = getattr(self.dist, "dist", self.dist)
        name = getattr(dist, "name", type(dist).__name__)
        args = getattr(self.dist, "args", ())
        return f"{name}{tuple(args)!r}"

    def to_dict(self):
        """The distribution's name and arguments (it cannot be rebuilt from them)."""
        dist = getattr(self.dist, "dist", self.dist)
        return {"type": "distribution", "name": getattr(dist, "name", type(dist).__name__),
                "args": [repr(a) for a in getattr(self.dist, "args", ())],
                "kwds": {k: repr(v) for k, v in sorted(getattr(self.dist, "kwds", {}).items())}}


def plain(value):
    """numpy scalars as Python numbers, so that points print and serialize simply."""
    return value.item() if isinstance(value, np.generic) else value


def _from_scipy(dist):
    """A Real or Integer equal to a frozen scipy uniform / loguniform / randint
    (or a :class:`LogUniformInteger`)."""
    if isinstance(dist, LogUniformInteger):
        return Integer(dist.low, dist.high, log=True)
    kind = getattr(getattr(dist, "dist", None), "name", None)
    if kind in ("uniform", "loguniform", "reciprocal", "randint"):
        low, high = (float(v) for v in dist.support())
        if kind == "uniform":
            return Real(low, high)
        if kind == "randint":
            return Integer(int(low), int(high))
        if low > 0 and math.isclose(dist.median(), math.sqrt(low * high)):  # not shifted
            return Real(low, high, log=True)
    return Distribution(dist)


def _as_dimension(name, spec):
    if isinstance(spec, (Real, Integer, Choice, Distribution)):
        return spec
    if hasattr(spec, "rvs"):
        return _from_scipy(spec)
    if isinstance(spec, str) or not hasattr(spec, "__iter__"):
        raise ValueError(
            f"parameter {name!r}: expected a list of values, a scipy.stats "
            f"distribution, or a Real / Integer / Choice, got {spec!r}."
        )
    values = list(spec)
    if not values:
        raise ValueError(f"parameter {name!r}: the list of choices is empty.")
    numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)
    if numeric and len(set(values)) > 1:
        # a list of numbers is an ordered dimension whatever the order it is written in
        return Choice(sorted(set(values)), ordered=True)
    return Choice(values, ordered=False)


class LogUniformInteger:
    """Integers in ``[low, high]`` drawn on a log scale, as ``Integer(low, high, log=True)`` draws them.

    scipy.stats has no log-uniform integer distribution; this one has the
    ``rvs`` scikit-learn's ``ParameterSampler`` calls.

    Examples
    --------
    >>> draws = LogUniformInteger(4, 128).rvs(size=2000, random_state=0)
    >>> int(draws.min()), int(draws.max()), bool(np.median(draws) < 30)
    (4, 128, True)
    """

    def __init__(self, low, high):
        self.low, self.high = int(low), int(high)

    def __repr__(self):
        return f"LogUniformInteger({self.low}, {self.high})"

    def rvs(self, size=None, random_state=None):
        """``size`` draws (one int when ``size`` is None)."""
        from sklearn.utils import check_random_state

        rng = check_random_state(random_state)  # Integer.sample only needs its uniform()
        values = Integer(self.low, self.high, log=True).sample(rng, 1 if size is None else size)
        return values[0] if size is None else np.array(values)


class Space:
    """Named dimensions to search over.

    Parameters
    ----------
    dimensions : dict
        Parameter name to a :class:`Real`, :class:`Integer`, :class:`Choice`,
        a list of values (a list of numbers, in any order, is an ordered
        choice that narrows to ``[x / 2, 2 x]``),
        or a scipy.stats distribution (``loguniform`` becomes a log
        :class:`Real`, ``uniform`` a :class:`Real`, ``randint`` an
        :class:`Integer`; others are drawn from as they are). This is the
        ``param_distributions`` form scikit-learn's searches take.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import loguniform
    >>> space = Space({"learning_rate": loguniform(1e-4, 1e-1), "batch_size": [16, 32, 64]})
    >>> space["learning_rate"]
    Real(low=0.0001, high=0.1, log=True)
    >>> space.describe()
    'learning_rate=[0.0001, 0.1] log; batch_size={16, 32, 64}'
    """

    def __init__(self, dimensions):
        if isinstance(dimensions, Space):
            dimensions = dimensions.dimensions
        if not isinstance(dimensions, dict):
            raise ValueError(
                "a search space must be a dict of parameter name to values, got "
                f"{type(dimensions).__name__}: {dimensions!r}."
            )
        if not dimensions:
            raise ValueError("a search space needs at least one parameter, got an empty dict.")
        self.dimensions = {str(k): _as_dimension(k, v) for k, v in dimensions.items()}

    def __getitem__(self, name):
        return self.dimensions[name]

    def __iter__(self):
        return iter(self.dimensions)

    def __len__(self):
        return len(self.dimensions)

    def __eq__(self, other):
        return isinstance(other, Space) and self.dimensions == other.dimensions

    __hash__ = None

    def __repr__(self):
        return f"Space({self.dimensions!r})"

    @property
    def subspaces(self):
        """The spaces a point may come from: this one (see :class:`SpaceUnion`)."""
        return [self]

    def subspace_of(self, point):
        """The subspace ``point`` belongs to: this one."""
        return self

    def sample(self, rng, size):
        """``size`` points (dicts) drawn from ``rng`` (a numpy Generator)."""
        columns = {name: dim.sample(rng, size) for name, dim in self.dimensions.items()}
        return [{name: columns[name][i] for name in columns} for i in range(size)]

    def to_param_distributions(self):
        """The same space in the form scikit-learn's ``RandomizedSearchCV`` takes.

        Ranges become scipy.stats distributions (``loguniform``, ``uniform``,
        ``randint``; a log-scale integer range a :class:`LogUniformInteger`;
        a ``base`` range the list of its powers), choices lists, and a
        :class:`Distribution` its own distribution.

        Examples
        --------
        >>> Space({"bs": Integer(16, 64, base=2), "opt": ["adam", "sgd"]}).to_param_distributions()
        {'bs': [16, 32, 64], 'opt': ['adam', 'sgd']}
        """
        from scipy.stats import loguniform, randint, uniform

        out = {}
        for name, dim in self.dimensions.items():
            if isinstance(dim, Real):
                out[name] = loguniform(dim.low, dim.high) if dim.log else uniform(dim.low, dim.high - dim.low)
            elif isinstance(dim, Integer):
                out[name] = dim.values() or (
                    LogUniformInteger(dim.low, dim.high) if dim.log else randint(dim.low, dim.high + 1))
            elif isinstance(dim, Choice):
                out[name] = list(dim.values)
            else:
                out[name] = dim.dist
        return out

    def to_dict(self):
        """The space as plain JSON values, exact (no rounding), for storage and comparison.

        Examples
        --------
        >>> space = Space({"lr": Real(1e-4, 0.1, log=True), "bs": [32, 64]})
        >>> space.to_dict()["lr"]
        {'type': 'real', 'low': 0.0001, 'high': 0.1, 'log': True}
        >>> Space.from_dict(space.to_dict()) == space
        True
        """
        return {name: dim.to_dict() for name, dim in self.dimensions.items()}

    @classmethod
    def from_dict(cls, data):
        """The space :meth:`to_dict` described (a :class:`SpaceUnion` for a union);
        :class:`Distribution` dimensions cannot be rebuilt."""
        if "union" in data and set(data) <= {"union", "weights"}:
            return SpaceUnion([cls.from_dict(space) for space in data["union"]], data.get("weights"))
        dims = {}
        for name, d in data.items():
            kind = d.get("type")
            if kind == "real":
                dims[name] = Real(d["low"], d["high"], d["log"])
            elif kind == "integer":
                dims[name] = Integer(d["low"], d["high"], d["log"], d["base"], d.get("step"))
            elif kind == "choice" and not any(isinstance(v, dict) for v in d["values"]):
                weights = None if d["weights"] is None else tuple(d["weights"])
                dims[name] = Choice(d["values"], d["ordered"], weights)
            else:
                raise ValueError(f"parameter {name!r}: a {kind} dimension cannot be rebuilt from {d!r}.")
        return cls(dims)

    def describe(self):
        """A one-line readable form, as recorded in ``cv_results_["space"]``."""
        return "; ".join(f"{name}={dim.describe()}" for name, dim in self.dimensions.items())


class SpaceUnion:
    """A conditional space: a list of :class:`Space`, as scikit-learn's list of dicts.

    A point comes from one of the spaces, drawn uniformly (as scikit-learn's
    ``ParameterSampler`` does); narrowing around a point stays in its space.

    Parameters
    ----------
    spaces : list of dict or Space
        The alternatives, at least one.
    weights : sequence of float or None, default=None
        Probabilities of drawing each space; None draws them uniformly.

    Examples
    --------
    >>> import numpy as np
    >>> union = as_space([{"kernel": ["rbf"], "gamma": Real(1e-3, 1, log=True)},
    ...                   {"kernel": ["linear"]}])
    >>> sorted({p["kernel"] for p in union.sample(np.random.default_rng(0), 20)})
    ['linear', 'rbf']
    >>> union.subspace_of({"kernel": "linear"}).describe()
    "kernel={'linear'}"
    """

    def __init__(self, spaces, weights=None):
        if not isinstance(spaces, (list, tuple)) or not spaces:
            raise ValueError(f"a conditional space must be a non-empty list of dicts, got {spaces!r}.")
        self.spaces = [Space(space) for space in spaces]
        if weights is not None:
            w = np.asarray(weights, dtype=float)
            if w.shape != (len(self.spaces),) or (w < 0).any() or w.sum() <= 0:
                raise ValueError(f"weights must be {len(self.spaces)} non-negative numbers with a "
                                 f"positive sum, got {weights!r}.")
            weights = tuple(float(x) for x in w / w.sum())
        self.weights = weights

    @property
    def subspaces(self):
        """The alternative spaces."""
        return list(self.spaces)

    @property
    def dimensions(self):
        raise AttributeError(
            "a conditional space (a list of spaces) has no single set of dimensions; use "
            ".subspaces, or .subspace_of(point)."
        )

    def subspace_of(self, point):
        """The first space whose names are the point's and that contains its values."""
        for space in self.spaces:
            if set(space) == set(point) and all(
                    space[k].contains(v) or isinstance(space[k], Distribution)
                    for k, v in point.items()):
                return space
        for space in self.spaces:  # values drawn from a narrowed range, outside a choice
            if set(space) == set(point):
                return space
        raise ValueError(f"{point} belongs to none of the spaces {self.describe()}.")

    def __eq__(self, other):
        return (isinstance(other, SpaceUnion) and self.spaces == other.spaces
                and self.weights == other.weights)

    __hash__ = None

    def __iter__(self):
        names = []
        for space in self.spaces:
            names += [n for n in space if n not in names]
        return iter(names)

    def __repr__(self):
        return f"SpaceUnion({self.spaces!r})"

    def sample(self, rng, size):
        """``size`` points, each from a space drawn uniformly (or by ``weights``)."""
        picks = (rng.integers(0, len(self.spaces), size) if self.weights is None
                 else rng.choice(len(self.spaces), size=size, p=self.weights))
        return [self.spaces[i].sample(rng, 1)[0] for i in picks]

    def to_param_distributions(self):
        """The list of dicts scikit-learn's ``RandomizedSearchCV`` takes (which draws one
        uniformly: ``weights`` do not carry over)."""
        return [space.to_param_distributions() for space in self.spaces]

    def to_dict(self):
        """The spaces as plain JSON values."""
        data = {"union": [space.to_dict() for space in self.spaces]}
        if self.weights is not None:
            data["weights"] = list(self.weights)
        return data

    def describe(self):
        """The spaces' descriptions, separated by " | "."""
        return " | ".join(space.describe() for space in self.spaces)


def as_space(spec):
    """A :class:`Space` from a dict, or a :class:`SpaceUnion` from a list of dicts.

    Examples
    --------
    >>> type(as_space({"C": [1, 10]})).__name__, type(as_space([{"C": [1]}, {"C": [2]}])).__name__
    ('Space', 'SpaceUnion')
    """
    if isinstance(spec, (Space, SpaceUnion)):
        return spec
    if isinstance(spec, (list, tuple)):
        return SpaceUnion(spec)
    return Space(spec)
