"""Standard test functions for comparing search strategies: bounds, known optima, evaluation counts.

Each function is a :class:`TestFunction`: call it on a point (or on an
array of points, one per row); it counts its evaluations (``nfev``) and
keeps the best value seen. :data:`SUITE` holds named instances in 2 to 8
dimensions — smooth valleys (Rosenbrock, Beale), many local minima
(Rastrigin, Griewank, Ackley, Levy, Michalewicz, Styblinski-Tang), narrow
basins (Shekel, Hartmann, Goldstein-Price). Formulas, bounds and optima are
the usual ones (Surjanovic & Bingham's Virtual Library of Simulation
Experiments; Jamil & Yang 2013).

Examples
--------
>>> f = SUITE["hartmann3"]()
>>> round(f(f.global_optimum), 4), f.fglob, f.nfev
(-3.8628, -3.86278, 1)
>>> sorted(SUITE)[:4]
['ackley5', 'beale', 'goldstein_price', 'griewank5']
"""

import math
from functools import partial

import numpy as np

__all__ = ["TestFunction", "GoldsteinPrice", "Hartmann3", "Hartmann6", "StyblinskiTang",
           "Rastrigin", "Griewank", "Shekel", "Michalewicz", "Rosenbrock", "Ackley", "Levy",
           "BealeFunction", "Branin", "SixHumpCamel", "Zakharov", "Schwefel", "RotatedEllipsoid",
           "SUITE", "CHECKS"]


class TestFunction:
    """A function to minimize on a box, with its known global minimum and an evaluation count.

    Subclasses define ``bounds``, ``global_optimum``, ``fglob`` and
    ``_evaluate(X)`` on an array of points (one per row).

    Attributes
    ----------
    dim : int
    bounds : list of (float, float)
    global_optimum : ndarray
        A point where the minimum is reached.
    fglob : float
        The global minimum value.
    nfev : int
        Points evaluated so far.
    best : float
        Lowest value seen so far (``inf`` before any evaluation).

    Examples
    --------
    >>> f = Rastrigin(3)
    >>> f.name, f.dim, f(np.zeros(3)), f([[0.0, 0.0, 1.0], [1.0, 1.0, 1.0]]).tolist()
    ('rastrigin3', 3, 0.0, [1.0, 3.0])
    >>> f.nfev, f.gap()
    (3, 0.0)
    """

    __test__ = False  # not a pytest test class, whatever its name
    name = ""

    def __init__(self):
        self.nfev = 0
        self.best = math.inf

    @property
    def dim(self):
        return len(self.bounds)

    def __call__(self, x):
        X = np.asarray(x, dtype=float)
        single = X.ndim == 1
        X = np.atleast_2d(X)
        if X.shape[1] != self.dim:
            raise ValueError(f"{self.name} takes points of {self.dim} coordinates, got {X.shape[1]}.")
        values = np.asarray(self._evaluate(X), dtype=float)
        self.nfev += len(X)
        self.best = min(self.best, float(np.min(values)))
        return float(values[0]) if single else values

    def gap(self):
        """``best - fglob``: how far the best value seen is from the global minimum."""
        return self.best - self.fglob

    def __repr__(self):
        return f"{type(self).__name__}(dim={self.dim})"


class _AnyDimension(TestFunction):
    """A function of any dimension on ``[low, high]^dim``, minimal where every coordinate is ``at``."""

    low = high = at = 0.0
    default_dim = 2

    def __init__(self, dim=None):
        super().__init__()
        dim = self.default_dim if dim is None else dim
        self.name = f"{self.prefix}{dim}"
        self.bounds = [(self.low, self.high)] * dim
        self.global_optimum = np.full(dim, self.at)
        self.fglob = float(self._evaluate(self.global_optimum[None])[0])


class GoldsteinPrice(TestFunction):
    """Goldstein-Price on [-2, 2]^2; minimum 3 at (0, -1), with steep walls and flat floors."""

    name = "goldstein_price"
    bounds = [(-2.0, 2.0)] * 2
    global_optimum = np.array([0.0, -1.0])
    fglob = 3.0

    def _evaluate(self, X):
        x, y = X[:, 0], X[:, 1]
        a = 1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)
        b = 30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
        return a * b


class _Hartmann(TestFunction):
    alpha = np.array([1.0, 1.2, 3.0, 3.2])

    def _evaluate(self, X):
        inner = np.sum(self.A[None] * (X[:, None, :] - self.P[None]) ** 2, axis=2)
        return -np.sum(self.alpha * np.exp(-inner), axis=1)


class Hartmann3(_Hartmann):
    """Hartmann's 3-d function on [0, 1]^3; minimum -3.86278, four local minima."""

    name = "hartmann3"
    bounds = [(0.0, 1.0)] * 3
    A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
    P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547],
                         [381, 5743, 8828]])
    global_optimum = np.array([0.114614, 0.555649, 0.852547])
    fglob = -3.86278


class Hartmann6(_Hartmann):
    """Hartmann's 6-d function on [0, 1]^6; minimum -3.32237, six local minima."""

    name = "hartmann6"
    bounds = [(0.0, 1.0)] * 6
    A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
    P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
    global_optimum = np.array([0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573])
    fglob = -3.32237


class StyblinskiTang(_AnyDimension):
    """Styblinski-Tang in ``dim`` dimensions on [-5, 5]; minimum -39.16617 per dimension."""

    prefix, low, high, at, default_dim = "styblinski_tang", -5.0, 5.0, -2.903534027771178, 4

    def _evaluate(self, X):
        return 0.5 * np.sum(X**4 - 16 * X**2 + 5 * X, axis=1)


class Rastrigin(_AnyDimension):
    """Rastrigin in ``dim`` dimensions on [-5.12, 5.12]; minimum 0 at 0 on a grid of local minima."""

    prefix, low, high, at, default_dim = "rastrigin", -5.12, 5.12, 0.0, 5

    def _evaluate(self, X):
        return 10 * X.shape[1] + np.sum(X**2 - 10 * np.cos(2 * np.pi * X), axis=1)


class Griewank(_AnyDimension):
    """Griewank in ``dim`` dimensions on [-600, 600]; minimum 0 at 0."""

    prefix, low, high, at, default_dim = "griewank", -600.0, 600.0, 0.0, 5

    def _evaluate(self, X):
        i = np.sqrt(np.arange(1, X.shape[1] + 1))
        return 1 + np.sum(X**2, axis=1) / 4000 - np.prod(np.cos(X / i), axis=1)


class Shekel(TestFunction):
    """Shekel's foxholes (m = 10) on [0, 10]^4; minimum -10.5364 near (4, 4, 4, 4), ten narrow basins."""

    name = "shekel10"
    bounds = [(0.0, 10.0)] * 4
    beta = 0.1 * np.array([1, 2, 2, 4, 4, 6, 3, 7, 5, 5])
    C = np.array([[4, 1, 8, 6, 3, 2, 5, 8, 6, 7], [4, 1, 8, 6, 7, 9, 3, 1, 2, 3.6],
                  [4, 1, 8, 6, 3, 2, 5, 8, 6, 7], [4, 1, 8, 6, 7, 9, 3, 1, 2, 3.6]], dtype=float)
    global_optimum = np.array([4.00074687, 3.99950948, 4.00074687, 3.99950948])
    fglob = -10.53644315

    def _evaluate(self, X):
        squares = np.sum((X[:, :, None] - self.C[None]) ** 2, axis=1)
        return -np.sum(1.0 / (squares + self.beta), axis=1)


class Michalewicz(TestFunction):
    """Michalewicz (m = 10) on [0, pi]^2; minimum -1.8013 at (2.2029, 1.5708), steep narrow ridges."""

    name = "michalewicz2"
    bounds = [(0.0, math.pi)] * 2
    global_optimum = np.array([2.202905520, 1.570796327])
    fglob = -1.801303410

    def _evaluate(self, X):
        i = np.arange(1, X.shape[1] + 1)
        return -np.sum(np.sin(X) * np.sin(i * X**2 / np.pi) ** 20, axis=1)


class Rosenbrock(_AnyDimension):
    """Rosenbrock in ``dim`` dimensions on [-5, 10]; minimum 0 at (1, ..., 1) in a curved valley."""

    prefix, low, high, at, default_dim = "rosenbrock", -5.0, 10.0, 1.0, 8

    def _evaluate(self, X):
        return np.sum(100 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1 - X[:, :-1]) ** 2, axis=1)


class Ackley(_AnyDimension):
    """Ackley in ``dim`` dimensions on [-32.768, 32.768]; minimum 0 at 0, a nearly flat outer region."""

    prefix, low, high, at, default_dim = "ackley", -32.768, 32.768, 0.0, 5

    def _evaluate(self, X):
        return (-20 * np.exp(-0.2 * np.sqrt(np.mean(X**2, axis=1)))
                - np.exp(np.mean(np.cos(2 * np.pi * X), axis=1)) + 20 + math.e)


class Levy(_AnyDimension):
    """Levy in ``dim`` dimensions on [-10, 10]; minimum 0 at (1, ..., 1)."""

    prefix, low, high, at, default_dim = "levy", -10.0, 10.0, 1.0, 4

    def _evaluate(self, X):
        w = 1 + (X - 1) / 4
        first = np.sin(np.pi * w[:, 0]) ** 2
        middle = np.sum((w[:, :-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:, :-1] + 1) ** 2), axis=1)
        last = (w[:, -1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[:, -1]) ** 2)
        return first + middle + last


class BealeFunction(TestFunction):
    """The Beale function of :mod:`skhp.benchmarks.beale` as a suite member."""

    name = "beale"
    bounds = [(-4.5, 4.5)] * 2
    global_optimum = np.array([3.0, 0.5])
    fglob = 0.0

    def _evaluate(self, X):
        from skhp.benchmarks.beale import beale

        return beale(X.T)


class Branin(TestFunction):
    """Branin on [-5, 10] x [0, 15]; minimum 0.397887 at three points, among them (pi, 2.275)."""

    name = "branin"
    bounds = [(-5.0, 10.0), (0.0, 15.0)]
    global_optimum = np.array([math.pi, 2.275])
    fglob = 0.39788735772973816

    def _evaluate(self, X):
        x, y = X[:, 0], X[:, 1]
        b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
        return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * np.cos(x) + 10


class SixHumpCamel(TestFunction):
    """The six-hump camel on [-3, 3] x [-2, 2]; minimum -1.0316285 at (0.0898, -0.7126) and its mirror."""

    name = "six_hump_camel"
    bounds = [(-3.0, 3.0), (-2.0, 2.0)]
    global_optimum = np.array([0.08984201368301331, -0.7126564032704135])
    fglob = -1.0316284534898774

    def _evaluate(self, X):
        x, y = X[:, 0], X[:, 1]
        return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2


class Zakharov(_AnyDimension):
    """Zakharov in ``dim`` dimensions on [-5, 10]; minimum 0 at 0, a plate bent by coupled terms."""

    prefix, low, high, at, default_dim = "zakharov", -5.0, 10.0, 0.0, 6

    def _evaluate(self, X):
        s = np.sum(0.5 * np.arange(1, X.shape[1] + 1) * X, axis=1)
        return np.sum(X**2, axis=1) + s**2 + s**4


class Schwefel(_AnyDimension):
    """Schwefel in ``dim`` dimensions on [-500, 500]; minimum 0 near 420.9687 in every
    coordinate, far from the next best minima."""

    prefix, low, high, at, default_dim = "schwefel", -500.0, 500.0, 420.968746, 4

    def _evaluate(self, X):
        return 418.9828872724339 * X.shape[1] - np.sum(X * np.sin(np.sqrt(np.abs(X))), axis=1)


class RotatedEllipsoid(_AnyDimension):
    """An ellipsoid of condition 10^6, rotated (a fixed random rotation) and shifted to 1.5,
    on [-5, 5]; minimum 0. No axis helps: only a learnt shape converges."""

    prefix, low, high, at, default_dim = "rotated_ellipsoid", -5.0, 5.0, 1.5, 6

    def _evaluate(self, X):
        n = X.shape[1]
        rotation = np.linalg.qr(np.random.default_rng(n).standard_normal((n, n)))[0]
        Z = (X - 1.5) @ rotation.T
        return np.sum(10 ** (6 * np.arange(n) / max(n - 1, 1)) * Z**2, axis=1)


#: The suite: name -> a callable of no arguments making a fresh instance (its own count).
SUITE = {
    "beale": BealeFunction,
    "goldstein_price": GoldsteinPrice,
    "hartmann3": Hartmann3,
    "hartmann6": Hartmann6,
    "styblinski_tang4": partial(StyblinskiTang, 4),
    "styblinski_tang8": partial(StyblinskiTang, 8),
    "rastrigin5": partial(Rastrigin, 5),
    "griewank5": partial(Griewank, 5),
    "shekel10": Shekel,
    "michalewicz2": Michalewicz,
    "rosenbrock8": partial(Rosenbrock, 8),
    "ackley5": partial(Ackley, 5),
    "levy4": partial(Levy, 4),
}

#: Functions kept apart from :data:`SUITE` to check that a strategy's gains there are not
#: the suite's alone: never looked at while choosing narrowing's mechanisms.
CHECKS = {
    "branin": Branin,
    "six_hump_camel": SixHumpCamel,
    "zakharov6": partial(Zakharov, 6),
    "schwefel4": partial(Schwefel, 4),
    "rotated_ellipsoid6": partial(RotatedEllipsoid, 6),
}
