"""Narrowing random search: its moves (narrow, extrapolate), the strategy
(NarrowingOracle) and its cross-validated search (NarrowingSearchCV)."""

import functools
import math
import numbers

import numpy as np

from skhp._sklearn import Interval, StrOptions
from skhp._validation import check_choice, check_number
from skhp.search._base import OracleSearchCV
from skhp.search._local_model import model_point
from skhp.search._oracle import Proposal, Oracle, point_key, score_key
from skhp.search._space import (
    Choice,
    Distribution,
    Integer,
    Real,
    Space,
    SpaceUnion,
    as_space,
    is_number,
)

__all__ = ["narrow", "narrow_space", "reflect", "extrapolate", "NarrowingOracle", "NarrowingSearchCV"]


# -- the narrowing moves --------------------------------------------------------


@functools.singledispatch
def narrow(dim, center, factor=2.0, scale=1.0, keep=0.7, exact=False, share=False):
    """The neighbourhood of ``center`` in ``dim``, always inside its bounds.

    - :class:`Real`: on a log scale ``[center / f, center * f]`` with
      ``f = factor ** scale``; on a linear scale ``center ± (high - low) *
      scale / (2 * factor)``, a range ``factor`` times narrower when ``scale``
      is 1. With ``share``, a log scale too is narrowed by its share of the
      range: ``scale / (2 * factor)`` of its decades on either side of
      ``center`` (a rate in ``[1e-4, 1]`` gives ``[center / 10, center * 10]``
      at ``factor=2``), whatever the range's scale.
    - :class:`Integer`: the same, rounded outwards and keeping the neighbouring
      values; with a ``base``, the powers within reach.
    - :class:`Choice` of ordered positive numbers (the book's lists such as
      ``[0.1, 0.01, 0.001]`` or ``[32, 128, 512]``): ``[x / f, x * f]``,
      clipped to the list's range, as a :class:`Real` (log scale when the list
      spans more than a decade) or, for integers, the choice ``{x / f, x, x *
      f}`` rounded (32 gives 16, 32, 64); with ``exact`` (the book's policy),
      exactly ``{x / f, x, x * f}``, past the list's ends too, as the book
      narrows its lists (0.1 gives 0.05, 0.1, 0.2). Other ordered choices:
      ``center`` and its neighbours. Unordered: all values, ``center`` drawn with probability
      ``keep`` and the others sharing the rest.
    - :class:`Distribution`: itself (never narrowed).

    Examples
    --------
    >>> narrow(Real(1e-5, 1e-1, log=True), 1e-3)
    Real(low=0.0005, high=0.002, log=True)
    >>> near = narrow(Real(1e-5, 1e-1, log=True), 1e-3, share=True)  # a quarter of 4 decades
    >>> round(near.low, 12), round(near.high, 12)
    (0.0001, 0.01)
    >>> narrow(Integer(16, 512, base=2), 64)
    Integer(low=32, high=128, log=True, base=2)
    >>> narrow(Integer(32, 512, step=32), 128).values()
    [32, 64, 96, 128, 160, 192, 224, 256]
    >>> narrow(Choice([16, 32, 64, 128], ordered=True), 32).values
    (16, 32, 64)
    >>> narrow(Choice(["adam", "sgd", "rmsprop"]), "sgd", keep=0.5).weights
    (0.25, 0.5, 0.25)
    """
    raise TypeError(f"cannot narrow {dim!r}")


@narrow.register
def _(dim: Real, center, factor=2.0, scale=1.0, keep=0.7, exact=False, share=False):
    center = min(max(float(center), dim.low), dim.high)
    if dim.log and share:
        half = math.log(dim.high / dim.low) * scale / (2 * factor)
        low, high = center * math.exp(-half), center * math.exp(half)
    elif dim.log:
        f = factor**scale
        low, high = center / f, center * f
    else:
        half = (dim.high - dim.low) * scale / (2 * factor)
        low, high = center - half, center + half
    return Real(max(dim.low, low), min(dim.high, high), dim.log)


@narrow.register
def _(dim: Integer, center, factor=2.0, scale=1.0, keep=0.7, exact=False, share=False):
    center = int(min(max(round(center), dim.low), dim.high))
    if dim.base is not None:
        values = dim.values()
        i = int(np.argmin([abs(math.log(v / center)) for v in values]))
        reach = max(1, int(math.floor(math.log(factor**scale, dim.base) + 1e-9)))
        lo, hi = values[max(0, i - reach)], values[min(len(values) - 1, i + reach)]
        return Integer(lo, hi, True, dim.base)
    if dim.step is not None:  # the range's own values near the centre, one step at least
        center = dim.nearest(center)
        near = narrow(Real(dim.low, dim.high), center, factor, scale)
        lo = max(dim.low, center - dim.step * max(1, math.ceil((center - near.low) / dim.step)))
        hi = min(dim.high, center + dim.step * max(1, math.ceil((near.high - center) / dim.step)))
        return Integer(lo, max(lo, hi - (hi - lo) % dim.step), step=dim.step)
    near = narrow(Real(dim.low, dim.high, dim.log), center, factor, scale, share=share)
    low = min(int(math.floor(near.low)), center - 1)
    high = max(int(math.ceil(near.high)), center + 1)
    return Integer(max(dim.low, low), min(dim.high, high), dim.log)


@narrow.register
def _(dim: Choice, center, factor=2.0, scale=1.0, keep=0.7, exact=False, share=False):
    values = dim.values
    if dim.ordered and all(is_number(v) and v > 0 for v in values):
        # the centre may lie between the listed numbers (drawn from an earlier narrowed range)
        f, low, high, x = factor**scale, min(values), max(values), float(center)
        integral = all(isinstance(v, numbers.Integral) for v in values)
        if exact:
            near = {int(round(v)) if integral else float(v) for v in (x / f, x, x * f)}
            return Choice(sorted(near), True)
        if integral:
            near = {int(min(max(round(v), low), high)) for v in (x / f, x, x * f)}
            return Choice(sorted(near), True)
        return Real(max(low, x / f), min(high, x * f), log=high / low > 10)
    i = dim.index(center)
    if dim.ordered:
        return Choice(values[max(0, i - 1): i + 2], True)
    if len(values) == 1:
        return dim
    rest = (1 - keep) / (len(values) - 1)
    return Choice(values, False, tuple(keep if j == i else rest for j in range(len(values))))


@narrow.register
def _(dim: Distribution, center, factor=2.0, scale=1.0, keep=0.7, exact=False, share=False):
    return dim


def narrow_space(space, center, factor=2.0, scale=1.0, keep=0.7, exact=False, share=False):
    """The space of each dimension's neighbourhood of ``center`` (see :func:`narrow`);
    in a conditional space, within the space ``center`` belongs to.

    Examples
    --------
    >>> space = Space({"learning_rate": Real(1e-4, 1e-1, log=True), "batch_size": [16, 32, 64]})
    >>> narrow_space(space, {"learning_rate": 1e-3, "batch_size": 16}).describe()
    'learning_rate=[0.0005, 0.002] log; batch_size={16, 32}'
    """
    home = space.subspace_of(center)
    return Space({name: narrow(dim, center[name], factor=factor, scale=scale, keep=keep,
                               exact=exact, share=share)
                  for name, dim in home.dimensions.items()})


def reflect(u):
    """``u`` folded back into [0, 1] at its ends, as a mirror does (1.2 gives 0.8, -0.1 gives 0.1).

    Draws that leave the box come back inside it rather than piling up on
    its bounds, as clipping them would.

    Examples
    --------
    >>> [round(float(reflect(u)), 6) for u in (0.3, 1.2, -0.1, 2.5)]
    [0.3, 0.8, 0.1, 0.5]
    """
    return 1.0 - np.abs(1.0 - np.mod(u, 2.0))


def extrapolate(space, point, origin, times):
    """``point`` moved ``times`` further along the step from ``origin`` to it.

    Only ranges move (on their own scale, reflected at the bounds); the other
    values stay those of ``point``. Points of different spaces of a
    conditional space do not move.

    Examples
    --------
    >>> round(extrapolate(Space({"x": Real(0, 10)}), {"x": 4.0}, {"x": 2.0}, 1.0)["x"], 9)
    6.0
    """
    out = dict(point)
    if set(point) != set(origin):
        return out
    for name, dim in space.subspace_of(point).dimensions.items():
        if isinstance(dim, Real) and dim.high > dim.low:
            u = dim.to_unit(point[name])
            u = u + times * (u - dim.to_unit(origin[name]))
            out[name] = dim.from_unit(float(reflect(u)))
    return out


#: A narrowing is stuck when its last _STUCK_ROUNDS rounds gained less than
#: _STUCK_GAIN of their spread of scores (creeping along a valley floor).
_STUCK_ROUNDS, _STUCK_GAIN = 16, 3e-2
#: Fewest varying dimensions for moving only some coordinates: in one or two, moving all
#: costs nothing more and follows diagonal ridges (an SVC's C and gamma).
_COORDINATES_FROM = 3
#: Neighbourhood sizes, relative to the current one, a large round's draws are split over.
_LADDER = (2.0, 1.0, 0.5, 0.25)
#: Bounds on the share of narrowed draws that move every value: whichever kind of move
#: has gained more gets more draws, but neither is ever given up.
_ALL_SHARE = (0.1, 0.9)
#: How far a round's gains move that share towards their own split.
_SHARE_RATE = 0.2
#: A trust region stops shrinking at the score's noise floor: where a round's spread of
#: scores is still _FLOOR_SPREAD of a round's drawn from a neighbourhood _FLOOR_SIZES
#: times as large (a smooth score's would be a quarter of it or less).
_FLOOR_SIZES, _FLOOR_SPREAD = 4.0, 0.5
#: Rounds held at the noise floor without a gain after which the narrowing is done: its
#: draws there differ by noise, and a lucky one is no better point.
_FLOOR_ROUNDS = 4
#: Where the model's point came from (a round's source for it).
_MODEL = "the best point of a quadratic model of the scores near the best"
#: Where the point continuing an improving step came from.
_STEP = "the last improving step, continued"


def _modelled(dim):
    """Whether the quadratic model moves ``dim``: a range of numbers (not of powers)."""
    return (isinstance(dim, Real) or (isinstance(dim, Integer) and dim.base is None)) and (
        dim.high > dim.low)


def _spread(keys):
    """The standard deviation of a round's finite scores (0 for fewer than two)."""
    scores = np.array([key[0] for key in keys], dtype=float)
    scores = scores[np.isfinite(scores)]
    return float(scores.std()) if len(scores) > 1 else 0.0


def _varies(dim):
    """Whether ``dim`` holds more than one value."""
    if isinstance(dim, Choice):
        return len(dim.values) > 1
    if isinstance(dim, (Real, Integer)):
        return dim.low < dim.high
    return True


class NarrowingOracle(Oracle):
    """Random search that zooms in around its best point and starts over when stuck.

    1. ``n_initial`` random points over the whole space;
    2. a round of ``round_size`` points around the best point of this
       narrowing: drawn from the space narrowed around it (see
       :func:`narrow`): a range narrows to ``1 / factor`` of its length
       around it, of its decades on a log scale (``"trust-region"``) or to
       ``[x / factor, x * factor]`` on a log scale as the book writes it
       (``"book"``); lists of numbers to ``[x / factor, x * factor]``,
       other ordered choices to their neighbours, the best unordered choice
       kept with probability ``keep``;
    3. how the neighbourhood adapts is the ``policy``:

       - ``"book"`` (the book's method): a round that improves re-centres on
         the new best and narrows further (size times ``shrink``); a round
         that does not improve draws again from the same neighbourhood; a
         list of numbers narrows to exactly ``{x / f, x, x * f}``, as the
         book lists them ({bs/2, bs, 2·bs} for batch sizes), past the list's
         ends too;
       - ``"trust-region"``: a round whose draws improve re-centres and
         widens (size times ``grow``, capped at the first narrowing's size);
         a round whose draws do not improve narrows further (size times
         ``shrink``), re-centred on the model's point when that improved —
         unless the score's noise floor is reached: the spread of the
         round's draws is still half that of a round drawn from a
         neighbourhood 4 times as large (a smooth score's falls to a
         quarter or less), so shrinking no longer tells better points from
         luckier ones and the size is kept; 4 rounds held there without a
         gain end the narrowing (step 4): its draws differ by noise, and a
         lucky one would be no better point;

    4. back to step 1 (random points over the whole space, the next
       narrowing starting from the best of them) once the narrowing is done:
       its neighbourhood has shrunk below ``min_scale`` (converged); or
       ``patience`` trials brought no improvement; or, without ``patience``,
       it is stuck: its last 16 rounds together improved the best score by
       less than 3 % of their spread (the best minus the median score of
       their points), creeping along a valley floor with a neighbourhood
       too wide to shrink. The overall best point is kept throughout.

    **Converging in a basin** (``model``, ``"trust-region"`` only): once a
    narrowing holds enough points, each round also tries the best point of
    a quadratic model of the scores (least squares on the points nearest
    the best, see :func:`skhp.search._local_model.model_point`) within the
    model's own trust region, which doubles (``grow``) when its point
    improves and halves (``shrink``) when it does not. On a smooth basin
    the model learns its shape (scales and correlations of the ranges) and
    its point converges much faster than draws do, as in model-based
    trust-region methods; on a rugged one it rarely wins and costs one
    point a round. A narrowing has converged when both the draws'
    neighbourhood and the model's region are below ``min_scale``. The
    model moves the ranges of the best point's space, keeps its other values
    (lists, powers of a ``base``) and is fitted to the points that share them.

    **Axes or every value**: in three or more dimensions, some narrowed
    points move about ``coordinates`` of the best point's values (each with
    probability ``coordinates / d`` among the ``d`` that can vary, at least
    one) and keep the others, searching along the axes, and the others move
    every value, following valleys across them. Which kind gets more draws
    follows their gains: after every round the share of draws that move
    every value moves a fifth of the way to that kind's share of the
    round's mean gain, within [0.1, 0.9]. After an improving round one
    point continues the step just taken. Draws that would leave the space
    are reflected back into it (:func:`reflect`), never clipped onto its
    bounds.

    Parameters
    ----------
    space : Space or dict
        What to search over.
    max_trials : int
        Budget of points.
    n_initial : int or None, default=None
        Points of each full-space round; None means two rounds
        (``2 * round_size``), at most 16 unless one round is larger.
    round_size : int, default=5
        Points per narrowed round. A round of 8 or more splits its draws
        evenly over four neighbourhood sizes (twice, once, half and a quarter
        the current one), hedging the step size as one point cannot.
    factor : float, default=2.0
        Neighbourhood factor of the first narrowing (> 1).
    policy : {"trust-region", "book"}, default="trust-region"
        How the neighbourhood adapts (step 3).
    shrink : float, default=0.5
        Size multiplier in (0, 1): after an improving round (``"book"``) or
        a round without improvement (``"trust-region"``).
    grow : float, default=2.0
        ``"trust-region"`` only: size multiplier after an improving round, in
        (0, 2] (capped at the first narrowing's size).
    patience : int or None, default=None
        Trials without improvement before starting over; None means two
        rounds (``2 * round_size``) for ``"book"`` and, for
        ``"trust-region"``, once the neighbourhood has converged or the
        narrowing is stuck (step 4).
    min_scale : float, default=1e-3
        Neighbourhood size, relative to the first narrowing, below which a
        narrowing has converged.
    keep : float, default=0.7
        Probability of the best value of an unordered choice in a narrowed round.
    coordinates : float or None, default=1.0
        Expected number of the best point's values a narrowed point moving
        only some of them changes (> 0), in a space of three or more
        dimensions; None: every narrowed point moves all of them.
    model : bool, default=True
        ``"trust-region"``: each round also tries the best point of a
        quadratic model of the scores near the best point.
    seed : int or None, default=None
        Seed of the draws.

    Attributes
    ----------
    history : list of dict
        One entry per round: its number, step (``"explore"``, ``"narrow"``,
        ``"restart"``), space, size, best score so far and whether it improved.
    converged : list of dict
        The best point of every narrowing that converged.

    Examples
    --------
    >>> from skhp.search import Real
    >>> oracle = NarrowingOracle({"x": Real(-4, 4)}, max_trials=60, seed=0)
    >>> while (proposal := oracle.ask()) is not None:
    ...     oracle.tell([-(p["x"] - 1) ** 2 for p in proposal.points])
    >>> abs(oracle.best_params["x"] - 1) < 0.05
    True
    """

    POLICIES = ("trust-region", "book")

    def __init__(self, space, max_trials, n_initial=None, round_size=5, factor=2.0,
                 policy="trust-region", shrink=0.5, grow=2.0, patience=None, min_scale=1e-3,
                 keep=0.7, coordinates=1.0, model=True, seed=None):
        super().__init__(space, max_trials, seed)
        self.policy = check_choice(policy, "policy", self.POLICIES)
        self.round_size = check_number(round_size, "round_size", low=1, integer=True)
        self.n_initial = max(self.round_size, min(2 * self.round_size, 16)) if (
            n_initial is None) else check_number(n_initial, "n_initial", low=1, integer=True)
        self.factor = check_number(factor, "factor", low=1, closed="neither")
        self.shrink = check_number(shrink, "shrink", low=0, high=1, closed="neither")
        self.grow = check_number(grow, "grow", low=0, high=2, closed="right")
        if patience is None and self.policy == "book":
            patience = 2 * self.round_size
        self.patience = None if patience is None else check_number(
            patience, "patience", low=1, integer=True)
        self.min_scale = check_number(min_scale, "min_scale", low=0, high=1, closed="neither")
        self.keep = check_number(keep, "keep", low=0, high=1)
        self.coordinates = None if coordinates is None else check_number(
            coordinates, "coordinates", low=0, closed="neither")
        if not isinstance(model, (bool, np.bool_)):
            raise ValueError(f"model must be True or False, got {model!r}.")
        self.model = bool(model)
        self._modelling = self.model and self.policy == "trust-region"
        self.scale = None  # None: the next round explores the whole space
        self.converged = []
        self._centre = None  # (score key, point) this narrowing centres on
        self._step_from = None  # the centre before the last improving round
        self._first_round = 0  # where this narrowing's trials start
        self._stall = 0
        self._held = 0  # rounds held at the noise floor since this narrowing's last gain
        self._restarts = 0
        self._trace = []  # this narrowing's best score after each narrowed round
        self._spreads = []  # this narrowing's (neighbourhood size, spread of scores) per round
        self._radius = None  # the model's trust region, relative to the first neighbourhood
        self._all_share = 0.5  # the share of narrowed draws that move every value
        self._kinds = {}  # point key -> the kind of move that drew it, for the pending round

    def current_space(self):
        """The space the next round draws from."""
        if self.scale is None:
            return self.space
        return self._neighbourhood(self.scale)

    def _neighbourhood(self, scale):
        """The space narrowed around this narrowing's centre at ``scale``: as the book
        writes it (``"book"``), or the same share of every range (``"trust-region"``)."""
        book = self.policy == "book"
        return narrow_space(self.space, self._centre[1], self.factor, scale, self.keep,
                            exact=book, share=not book)

    def _propose(self, remaining):
        if self.scale is not None:
            space = self.current_space()
            # Whole rounds, cut to the budget by ask(): the draws then do not
            # depend on the budget, so a resumed search with a larger one agrees.
            n = self.round_size
            points = []
            if self._step_from is not None:
                step = extrapolate(self.space, self._centre[1], self._step_from, 1.0)
                if point_key(step) not in self._seen:
                    points.append(step)
            label = [_STEP] * len(points)
            if self._modelling and len(points) < n:
                points += self._model_draw()
                label += [_MODEL] * (len(points) - len(label))
            rest, sizes = n - len(points), self._sizes()
            for i, size in enumerate(sizes):
                k = len(range(i, rest, len(sizes)))
                near = space if size == 1 else self._neighbourhood(min(self.scale * size, 2.0))
                for point in self._local_draws(near, k):
                    points.append(point)
                    some = self._kinds.get(point_key(point)) == "some"
                    label.append(near.describe() + (
                        f"; about {self.coordinates:g} of the best's values moved" if some else ""))
            if points:
                return Proposal(points, 0, space, "narrow", label)
            self._start_over()  # the neighbourhood holds nothing new
        self._first_round = self._round
        points = self._draw(self.space, self.n_initial)
        return Proposal(points, 0, self.space, "restart" if self._restarts else "explore")

    def _sizes(self):
        """The neighbourhood sizes (times the current one) a round's draws are split
        over: a round of 8 or more hedges the step size over four of them."""
        return _LADDER if self.round_size >= 8 else (1.0,)

    def _model_draw(self):
        """The best point of a quadratic model of this narrowing's scores around the centre
        (see :mod:`._local_model`), as a list of none or one point."""
        centre = self._centre[1]
        home = self.space.subspace_of(centre)
        names = [k for k, d in home.dimensions.items() if _modelled(d)]
        if not names:
            return []
        dims = [home[k] for k in names]
        fixed = {k: v for k, v in centre.items() if k not in names}
        trials = [t for t in self.trials if t.round >= self._first_round and not t.failed
                  and set(t.params) == set(centre)
                  and all(t.params[k] == v for k, v in fixed.items())]
        if not trials:
            return []
        X = np.array([[d.to_unit(t.params[k]) for k, d in zip(names, dims)] for t in trials])
        scores = np.array([score_key(t.score)[0] for t in trials])
        u = np.array([d.to_unit(centre[k]) for k, d in zip(names, dims)])
        # the first neighbourhood spans 1 / factor of every range (unit coordinates)
        radius = np.full(len(dims), min(self._radius / self.factor, 0.5))
        found = model_point(X, scores, u, radius, self.rng)
        if found is None or np.max(np.abs(found - u)) < 1e-9:
            return []  # no model, or it says the centre is best: nothing new to try
        point = dict(centre)
        # clipped, not reflected: a model whose best lies past a bound points at the bound
        found = np.clip(found, 0.0, 1.0)
        point.update({k: d.from_unit(float(v)) for k, d, v in zip(names, dims, found)})
        return [] if point_key(point) in self._seen else [point]

    def _local_draws(self, space, n):
        """Up to ``n`` new points of the narrowed ``space``: in three or more varying
        dimensions, some keep the best point's values but about ``coordinates`` of them,
        the others move every value, in the proportion of each kind's gains so far."""
        if self.coordinates is None:
            return self._draw(space, n)
        centre = self._centre[1]
        home = self.space.subspace_of(centre)
        movable = [k for k, d in home.dimensions.items() if _varies(d)]
        if len(movable) < _COORDINATES_FROM:
            return self._draw(space, n)
        p = min(1.0, self.coordinates / len(movable))
        share = self._all_share

        def keep_most(point):
            kind = "all" if self.rng.uniform() < share else "some"
            if kind == "some":
                moved = self.rng.uniform(size=len(movable)) < p
                if not moved.any():
                    moved[self.rng.integers(len(movable))] = True
                point.update({k: centre[k] for k, m in zip(movable, moved) if not m})
            self._kinds[point_key(point)] = kind

        return self._draw(space, n, keep_most)

    def _share_moves(self, gains):
        """Move the share of draws that move every value towards that kind's share of
        the round's mean gain (a round without gains, or without both kinds, tells nothing)."""
        if not (gains["all"] and gains["some"]):
            return
        mean_all, mean_some = np.mean(gains["all"]), np.mean(gains["some"])
        if not mean_all + mean_some > 0 or not math.isfinite(mean_all + mean_some):
            return
        target = mean_all / (mean_all + mean_some)
        share = self._all_share + _SHARE_RATE * (target - self._all_share)
        self._all_share = min(max(share, _ALL_SHARE[0]), _ALL_SHARE[1])

    def _start_over(self):
        self.scale, self._radius, self._stall, self._held = None, None, 0, 0
        self._centre, self._step_from, self._trace, self._spreads = None, None, [], []
        self._restarts += 1

    def _at_noise_floor(self, spread):
        """Whether shrinking has stopped narrowing the scores: this round's ``spread`` is
        at least half that of the last round drawn from a neighbourhood 4 times as large
        or more. A smooth score's spread falls with the neighbourhood, in proportion or
        faster; a noisy one's (a network's accuracy) stays, and shrinking further would
        only draw the same lucky point again."""
        wider = [s for size, s in self._spreads if size >= _FLOOR_SIZES * self.scale]
        return bool(wider) and spread > 0 and spread >= _FLOOR_SPREAD * wider[-1]

    def _stuck(self):
        """Whether this narrowing's last 16 rounds together gained less than
        3 % of their spread (best minus median score)."""
        if self.patience is not None or len(self._trace) <= _STUCK_ROUNDS:
            return False
        recent = [score_key(t.score)[0] for t in self.trials
                  if t.round > self._round - 1 - _STUCK_ROUNDS and not t.failed]
        spread = self._trace[-1] - float(np.median(recent))
        return self._trace[-1] - self._trace[-1 - _STUCK_ROUNDS] <= _STUCK_GAIN * spread

    def _update(self, proposal, scores, improved):
        keys = [score_key(s) for s in scores]
        i = max(range(len(keys)), key=lambda j: keys[j])  # the first of equals
        before = self._centre
        better = keys[i][0] > -math.inf and (before is None or keys[i] > before[0])
        if better:
            moved = before is not None and proposal.step == "narrow"
            self._step_from = before[1] if moved else None
            self._centre = (keys[i], proposal.points[i])
        if self._centre is None:
            return  # every trial failed so far: explore again
        if proposal.step != "narrow":
            self.scale, self._radius, self._stall = 1.0, 1.0, 0
            self._trace, self._spreads = [self._centre[0][0]], []
            return
        self._trace.append(self._centre[0][0])
        won = [key > before[0] for key in keys]
        drawn_won, gains = False, {"all": [], "some": []}
        for point, source, w, key in zip(proposal.points, proposal.sources, won, keys):
            kind = self._kinds.pop(point_key(point), None)
            if kind is not None:
                gains[kind].append(max(0.0, key[0] - before[0][0]) if w else 0.0)
            if source == _MODEL:  # the model's region follows the model's own success
                self._radius *= self.grow if w else self.shrink
                self._radius = min(self._radius, 1.0)
            else:
                drawn_won = drawn_won or w
        self._kinds = {}
        self._share_moves(gains)
        if better:
            self._stall, self._held = 0, 0
        else:
            self._stall += len(scores)
            self._step_from = None
        # The neighbourhood follows the draws (a point of the model does not tell how
        # large a neighbourhood to draw from).
        drawn_at = self.scale
        spread = _spread([k for k, source in zip(keys, proposal.sources)
                          if source not in (_MODEL, _STEP)])
        if self.policy == "book":
            self.scale *= self.shrink if better else 1.0
        elif drawn_won:
            self.scale = min(1.0, self.scale * self.grow)
        elif better or not self._at_noise_floor(spread):
            self.scale *= self.shrink
        else:
            self._held += 1
        self._spreads.append((drawn_at, spread))
        if not better or self.policy == "book":
            if (max(self.scale, self._radius if self._modelling else 0.0) < self.min_scale
                    or self._held >= _FLOOR_ROUNDS):
                self.converged.append(self._centre[1])
                self._start_over()
            elif self.patience is not None and self._stall >= self.patience:
                self._start_over()
        if self.scale is not None and self._stuck():
            self.converged.append(self._centre[1])
            self._start_over()


class NarrowingSearchCV(OracleSearchCV):
    """Cross-validated narrowing random search over hyperparameters.

    Random candidates over the whole space first, then rounds drawn from the
    space narrowed around the best candidate (half of every range, of its
    decades for a log-scale range such as a learning rate; ``[x / 2, 2 x]``
    for a list of numbers; neighbouring values of an ordered choice,
    the best unordered choice kept with probability ``keep``), some narrowed
    candidates changing about ``coordinates`` of the best one's values, and
    one candidate a round the best of a quadratic model of the scores near
    the best (``model``); narrowing further while no round improves (down to
    the scores' noise floor, where shrinking no longer narrows their
    spread), widening again while rounds improve, and starting over on the whole
    space once a narrowing has converged (or held 4 rounds at its noise floor
    without a gain), is stuck, or ``patience`` candidates bring no improvement. See
    :class:`skhp.search.NarrowingOracle` for the strategy itself.

    Used exactly like ``RandomizedSearchCV``; works with any scikit-learn
    estimator.

    Parameters
    ----------
    estimator : estimator object
        The estimator to tune.
    param_distributions : dict or Space
        Parameter name to a :class:`Real`, :class:`Integer`, :class:`Choice`,
        a list of values or a scipy.stats distribution (``loguniform``,
        ``uniform`` and ``randint`` become ranges that can narrow).
    n_iter : int, default=30
        Number of candidates in all.
    n_initial : int or None, default=None
        Candidates of each whole-space round; None means two rounds
        (``2 * round_size``), at most 16 unless one round is larger.
    round_size : int, default=5
        Candidates per narrowed round (one call of ``evaluate_candidates``,
        run in parallel with ``n_jobs``, trained as one pack); a round of 8
        or more spreads its candidates over four neighbourhood sizes.
    factor : float, default=2.0
        Size of the first neighbourhood: ``1 / factor`` of every range (of
        its decades on a log scale), ``[x / factor, x * factor]`` for a list
        of numbers; ``policy="book"``: ``[x / factor, x * factor]`` for
        log-scale ranges too.
    policy : {"trust-region", "book"}, default="trust-region"
        How the neighbourhood adapts. ``"book"``: an improving round narrows
        further around the new best, ``patience`` candidates without
        improvement go back to the whole space, and a list of numbers narrows
        to exactly ``{x / 2, x, 2 x}`` (then ``factor ** size``), unclipped. ``"trust-region"``: an
        improving round re-centres and widens (``grow``), a round without
        improvement narrows further (``shrink``), a converged neighbourhood
        goes back to the whole space.
    shrink : float, default=0.5
        Neighbourhood size multiplier when narrowing further.
    grow : float, default=2.0
        ``"trust-region"``: size multiplier after an improving round (capped
        at the first neighbourhood's size).
    patience : int or None, default=None
        Candidates without improvement before starting over on the whole
        space; None means ``2 * round_size`` for ``"book"`` and, for
        ``"trust-region"``, waiting until the neighbourhood has converged or
        the narrowing is stuck (16 rounds that together gained less than
        3 % of their spread of scores).
    min_scale : float, default=1e-2
        Neighbourhood size (relative to the first) at which a narrowing has converged.
    keep : float, default=0.7
        Probability of the best value of an unordered choice in a narrowed round.
    coordinates : float or None, default=1.0
        When three or more parameters vary, some narrowed candidates change
        about ``coordinates`` of the best one's values (the others are kept)
        and the rest change all of them, each kind in proportion to its
        gains so far; None: every narrowed candidate changes all of them.
    model : bool, default=True
        ``"trust-region"``: each narrowed round also tries the best
        candidate of a quadratic model of the scores near the best one
        (it moves ranges; lists and powers of a ``base`` keep the best one's
        values), which converges quickly on a smooth basin.
    random_state : int or None, default=None
        Seed of the draws; a fixed value makes the search reproducible.
    time_budget : float or None, default=None
        Seconds after which no new round starts (the running one finishes);
        None: only ``n_iter`` limits the search.
    storage : str, os.PathLike, TrialStore or None, default=None
        ``"sqlite:///path.db"`` (or a path): write every finished candidate
        there and, when the search runs again, replay the stored ones instead
        of training them (see :mod:`skhp.storage`); a store of your own is any
        object with the methods of :data:`skhp.storage.STORE_METHODS`.
    study : str or None, default=None
        Name of this search in ``storage`` (None: ``"default"``); a store's
        study written by a different search is refused.
    progress : callable or None, default=None
        Called as ``progress(results)`` with the ``cv_results_`` so far
        after every evaluated candidate (the ``skhp`` command draws its
        progress bar with it).
    pruning : {None, "halving", "median"} or rule, default=None
        Stop bad candidates early, epochs being the resource (see
        :mod:`skhp.search.pruning`): ``"halving"``, the top third of each
        round's candidates go on at every rung (1, 3, 9, ... epochs);
        ``"median"``, a candidate stops where its score is below the median
        of earlier rounds' completed candidates at that epoch. A promoted
        candidate continues its training (weights, optimizer state); a
        pruned one scores NaN, so it is never best and the next round is
        drawn around completed candidates. A
        :class:`~skhp.search.SuccessiveHalving` or
        :class:`~skhp.search.MedianRule` object sets the rung sizes; a rule
        of your own is any object with the methods of
        :data:`skhp.search.pruning.RULE_METHODS`. Only skhp
        estimators are pruned; others train all their epochs.
    packing : bool or "auto", default="auto"
        ``"auto"``: the (candidate, fold) jobs of skhp's built-in MLP train in
        packs (:mod:`skhp.packed`); ``False``: every job trains on its own.
        ``packing_`` and the ``packing`` column of ``cv_results_`` say how
        each candidate trained.
    pack_size : int or "auto", default="auto"
        Most slots in one pack; ``"auto"`` sizes packs from a memory budget
        (:func:`skhp.packed.auto_pack_size`).
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score, return_train_score
        As in ``RandomizedSearchCV``.

    Attributes
    ----------
    cv_results_ : dict of arrays
        As in ``RandomizedSearchCV``, with ``round``, ``step`` (``"explore"``,
        ``"narrow"`` or ``"restart"``) and ``space`` (the space the candidate
        was drawn from, as text); with ``pruning``, also ``epochs_trained``
        (per fold), ``pruned`` and ``rung_scores`` (``{epoch: mean CV
        score}``).
    best_estimator_, best_score_, best_params_, best_index_, scorer_, n_splits_, refit_time_, multimetric_
        As in ``RandomizedSearchCV``.
    n_trials_replayed_ : int
        Candidates taken from ``storage`` instead of being trained again.
    search_history_ : list of dict
        One entry per round: number, step, space, candidates, best score so
        far and whether the round improved it; with ``pruning``, ``rungs``:
        per rung its ``epoch``, the ``candidates`` scored there and those
        ``kept``.

    Examples
    --------
    >>> from scipy.stats import loguniform
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhp.search import NarrowingSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> search = NarrowingSearchCV(LogisticRegression(max_iter=500),
    ...                            {"C": loguniform(1e-4, 1e2)}, n_iter=15, random_state=0)
    >>> bool(search.fit(X, y).best_score_ > 0.95)
    True
    >>> [h["step"] for h in search.search_history_]
    ['explore', 'narrow']
    """

    _parameter_constraints = {
        **OracleSearchCV._parameter_constraints,
        "param_distributions": [dict, list, Space, SpaceUnion],
        "n_initial": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "round_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "factor": [Interval(numbers.Real, 1, None, closed="neither")],
        "policy": [StrOptions(set(NarrowingOracle.POLICIES))],
        "shrink": [Interval(numbers.Real, 0, 1, closed="neither")],
        "grow": [Interval(numbers.Real, 0, 2, closed="right")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "min_scale": [Interval(numbers.Real, 0, 1, closed="neither")],
        "keep": [Interval(numbers.Real, 0, 1, closed="both")],
        "coordinates": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "model": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, param_distributions, *, n_iter=30, n_initial=None,
                 round_size=5, factor=2.0, policy="trust-region", shrink=0.5, grow=2.0, patience=None,
                 min_scale=1e-2, keep=0.7, coordinates=1.0, model=True, random_state=None,
                 scoring=None,
                 n_jobs=None, refit=True, cv=None, verbose=0, pre_dispatch="2*n_jobs",
                 error_score=np.nan, return_train_score=False, time_budget=None, storage=None,
                 study=None, progress=None,
                 pruning=None, packing="auto", pack_size="auto"):
        super().__init__(estimator=estimator, scoring=scoring, n_jobs=n_jobs, refit=refit,
                         cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
                         error_score=error_score, return_train_score=return_train_score,
                         time_budget=time_budget, storage=storage, study=study,
                         progress=progress, pruning=pruning, packing=packing,
                         pack_size=pack_size)
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.n_initial = n_initial
        self.round_size = round_size
        self.factor = factor
        self.policy = policy
        self.shrink = shrink
        self.grow = grow
        self.patience = patience
        self.min_scale = min_scale
        self.keep = keep
        self.coordinates = coordinates
        self.model = model
        self.random_state = random_state

    _space_parameter = "param_distributions"

    def _search_space(self):
        return as_space(self.param_distributions)

    def _make_oracle(self, space):
        return NarrowingOracle(
            space, max_trials=self.n_iter, n_initial=self.n_initial,
            round_size=self.round_size, factor=self.factor, policy=self.policy, shrink=self.shrink,
            grow=self.grow, patience=self.patience, min_scale=self.min_scale,
            keep=self.keep, coordinates=self.coordinates, model=self.model,
            seed=self.random_state,
        )
