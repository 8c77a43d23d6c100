"""Search strategies as pure objects: they propose points and are told scores.

An oracle knows nothing of scikit-learn or Keras. Its whole protocol is::

    while (proposal := oracle.ask()) is not None:
        scores = [evaluate(point) for point in proposal.points]
        oracle.tell(scores)

Scores are maximized. A score may be a number or a tuple of numbers compared
in order (the second breaks ties of the first); NaN or infinite scores mark a
failed trial, which is recorded and never chosen as the best. An oracle is
reproducible: the same seed and the same scores give the same proposals, so a
search can be replayed from stored trials.
"""

import math
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from skhp._validation import check_choice, check_number
from skhp.search._space import Choice, Distribution, Integer, Real, Space

__all__ = ["Proposal", "Decision", "RandomOracle", "GridOracle", "NarrowingOracle", "GuidedOracle"]

#: A batch of points to evaluate, the round it belongs to, the space it was
#: drawn from, the step of the strategy that made it, and optionally where
#: each point came from when not all were drawn from ``space``.
Proposal = namedtuple("Proposal", "points round space step sources", defaults=(None,))


def sources(proposal):
    """Where each point of ``proposal`` came from: its ``sources``, else its space."""
    return list(proposal.sources or [proposal.space.describe()] * len(proposal.points))


def _score_key(score):
    """A tuple to compare scores with; failed (non-finite) scores are lowest."""
    values = score if isinstance(score, (tuple, list, np.ndarray)) else (score,)
    out = []
    for v in values:
        try:
            v = float(v)
        except (TypeError, ValueError):
            v = math.nan
        out.append(v if math.isfinite(v) else -math.inf)
    return tuple(out)


def _plain(value):
    """numpy scalars as Python numbers, so that points print and serialize simply."""
    return value.item() if isinstance(value, np.generic) else value


def _point_key(point):
    return tuple(sorted((k, repr(_plain(v))) for k, v in point.items()))


class _Oracle:
    """Bookkeeping shared by every strategy: trials, best point, budget."""

    def __init__(self, space, max_trials, seed=None):
        self.space = Space(space)
        self.max_trials = check_number(max_trials, "max_trials", low=1, integer=True)
        if isinstance(seed, np.random.RandomState):  # scikit-learn style random_state
            seed = int(seed.randint(2**31 - 1))
        self.rng = np.random.default_rng(seed)
        self.trials = []
        self.history = []
        self.best_params = None
        self.best_score = None
        self._best_key = None
        self._seen = set()
        self._pending = None
        self._round = 0

    @property
    def n_trials(self):
        """Number of points told so far."""
        return len(self.trials)

    def ask(self):
        """The next :class:`Proposal`, or None when the search is over."""
        if self._pending is not None:
            raise RuntimeError("tell() the scores of the last proposal before asking again.")
        remaining = self.max_trials - self.n_trials
        if remaining <= 0:
            return None
        proposal = self._propose(remaining)
        if proposal is None or not proposal.points:
            return None
        points = [{k: _plain(v) for k, v in p.items()} for p in proposal.points[:remaining]]
        self._pending = proposal._replace(points=points, round=self._round,
                                          sources=sources(proposal)[:remaining])
        return self._pending

    def tell(self, scores):
        """Record the ``scores`` of the last proposal's points, in order."""
        if self._pending is None:
            raise RuntimeError("ask() for a proposal before telling scores.")
        scores = list(scores)
        if len(scores) != len(self._pending.points):
            raise ValueError(f"expected {len(self._pending.points)} scores, got {len(scores)}.")
        proposal, self._pending = self._pending, None
        before = self._best_key
        for point, score, source in zip(proposal.points, scores, sources(proposal)):
            key = _score_key(score)
            self.trials.append({"params": point, "score": score, "round": proposal.round,
                                "step": proposal.step, "space": source,
                                "failed": key[0] == -math.inf})
            self._seen.add(_point_key(point))
            if key[0] > -math.inf and (self._best_key is None or key > self._best_key):
                self._best_key, self.best_score, self.best_params = key, score, point
        improved = self._best_key is not None and (before is None or self._best_key > before)
        self.history.append({"round": proposal.round, "step": proposal.step,
                             "space": proposal.space.describe(), "n_trials": len(scores),
                             "best_score": None if self._best_key is None else self._best_key[0],
                             "improved": improved})
        self._round += 1
        self._update(proposal, scores, improved)

    def _draw(self, space, n):
        """Up to ``n`` points from ``space`` not tried before (fewer when it runs dry)."""
        points, keys = [], set()
        for _ in range(10):
            for point in space.sample(self.rng, n):
                key = _point_key(point)
                if key not in self._seen and key not in keys:
                    keys.add(key)
                    points.append(point)
                    if len(points) == n:
                        return points
        return points

    def _propose(self, remaining):
        raise NotImplementedError

    def _update(self, proposal, scores, improved):
        pass


class RandomOracle(_Oracle):
    """Points drawn at random from the whole space (``RandomizedSearchCV``'s strategy).

    Parameters
    ----------
    space : Space or dict
        What to search over (see :class:`skhp.search.Space`).
    max_trials : int
        Number of points in all.
    batch : int or None, default=None
        Points per proposal; None proposes them all at once.
    seed : int or None, default=None
        Seed of the draws.

    Examples
    --------
    >>> from skhp.search import Real
    >>> oracle = RandomOracle({"x": Real(-1, 1)}, max_trials=4, seed=0)
    >>> proposal = oracle.ask()
    >>> len(proposal.points)
    4
    >>> oracle.tell([-p["x"] ** 2 for p in proposal.points]); oracle.ask() is None
    True
    """

    def __init__(self, space, max_trials, batch=None, seed=None):
        super().__init__(space, max_trials, seed)
        self.batch = max_trials if batch is None else check_number(batch, "batch", low=1, integer=True)

    def _propose(self, remaining):
        return Proposal(self._draw(self.space, min(self.batch, remaining)), 0, self.space, "random")


class GridOracle(_Oracle):
    """The points of a regular grid, ``n`` values per range and every choice.

    ``n`` is the largest count whose grid fits ``max_trials``.

    Examples
    --------
    >>> from skhp.search import Real
    >>> oracle = GridOracle({"x": Real(0, 1), "y": Real(0, 1)}, max_trials=9)
    >>> sorted({p["x"] for p in oracle.ask().points})
    [0.0, 0.5, 1.0]
    """

    def __init__(self, space, max_trials, seed=None):
        super().__init__(space, max_trials, seed)
        fixed = [d for d in self.space.dimensions.values() if isinstance(d, Choice)]
        n_fixed = int(np.prod([len(d.values) for d in fixed])) if fixed else 1
        n_ranges = len(self.space) - len(fixed)
        self.n = max(2, int(math.floor((max_trials / n_fixed) ** (1 / n_ranges) + 1e-9))) if n_ranges else 1

    def _propose(self, remaining):
        if self.n_trials:
            return None
        axes = {name: dim.grid(self.n) for name, dim in self.space.dimensions.items()}
        mesh = np.array(np.meshgrid(*[np.arange(len(v)) for v in axes.values()], indexing="ij"))
        idx = mesh.reshape(len(axes), -1).T
        points = [{name: axes[name][i] for name, i in zip(axes, row)} for row in idx]
        return Proposal(points, 0, self.space, "grid")


class NarrowingOracle(_Oracle):
    """Random search that zooms in around its best point and starts over when stuck.

    1. ``n_initial`` random points over the whole space;
    2. a round of ``round_size`` points around the best point of this
       narrowing: drawn from the space narrowed around it (see
       :meth:`skhp.search.Space.narrow`: ``[x / factor, x * factor]`` for
       log-scale ranges and lists of numbers, neighbours for other ordered
       choices, the best unordered choice kept with probability ``keep``);
    3. how the neighbourhood adapts is the ``policy``:

       - ``"book"`` (the book's method): a round that improves re-centres on
         the new best and narrows further (size times ``shrink``); a round
         that does not improve draws again from the same neighbourhood;
       - ``"trust-region"``: a round that improves re-centres and widens
         (size times ``grow``, capped at the first narrowing's size); a round
         that does not improve narrows further around the same best (size
         times ``shrink``);

    4. after ``patience`` trials without improvement, or once the
       neighbourhood has shrunk below ``min_scale`` (converged), back to step 1:
       random points over the whole space, and the next narrowing starts from
       the best of them. The overall best point is kept throughout.

    Two refinements, under either policy, make narrowing follow valleys that
    are not parallel to the axes (as on the Beale function): once a narrowing
    has ``n_elite`` points, half of each round's ranges are drawn from a
    normal distribution centred on the best point, with the covariance of the
    best ``n_elite`` points (times ``spread**2``), and after an improving round
    one point continues the step just taken.

    Parameters
    ----------
    space : Space or dict
        What to search over.
    max_trials : int
        Budget of points.
    n_initial : int or None, default=None
        Points of each full-space round; None means ``2 * round_size``.
    round_size : int, default=5
        Points per narrowed round.
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
        ``"trust-region"``, only once the neighbourhood has converged.
    min_scale : float, default=1e-3
        Neighbourhood size, relative to the first narrowing, below which a
        narrowing has converged.
    keep : float, default=0.7
        Probability of the best value of an unordered choice in a narrowed round.
    n_elite : int, default=8
        Best points whose spread shapes the normal draws; 0 turns them off.
    spread : float, default=1.5
        Scale of the normal draws relative to the best points' spread.
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
    >>> round(oracle.best_params["x"], 3)
    1.0
    """

    POLICIES = ("trust-region", "book")

    def __init__(self, space, max_trials, n_initial=None, round_size=5, factor=2.0,
                 policy="trust-region", shrink=0.5, grow=2.0, patience=None, min_scale=1e-3,
                 keep=0.7, n_elite=8, spread=1.5, seed=None):
        super().__init__(space, max_trials, seed)
        self.policy = check_choice(policy, "policy", self.POLICIES)
        self.round_size = check_number(round_size, "round_size", low=1, integer=True)
        self.n_initial = 2 * self.round_size if n_initial is None else check_number(
            n_initial, "n_initial", low=1, integer=True)
        self.factor = check_number(factor, "factor", low=1, closed="neither")
        self.shrink = check_number(shrink, "shrink", low=0, high=1, closed="neither")
        self.grow = check_number(grow, "grow", low=0, high=2, closed="right")
        if patience is None and self.policy == "book":
            patience = 2 * self.round_size
        self.patience = None if patience is None else check_number(
            patience, "patience", low=1, integer=True)
        self.min_scale = check_number(min_scale, "min_scale", low=0, high=1, closed="neither")
        self.keep = check_number(keep, "keep", low=0, high=1)
        self.n_elite = check_number(n_elite, "n_elite", low=0, integer=True)
        self.spread = check_number(spread, "spread", low=0, closed="neither")
        self.scale = None  # None: the next round explores the whole space
        self.converged = []
        self._centre = None  # (score key, point) this narrowing centres on
        self._step_from = None  # the centre before the last improving round
        self._first_round = 0  # where this narrowing's trials start
        self._stall = 0
        self._restarts = 0

    def current_space(self):
        """The space the next round draws from."""
        if self.scale is None:
            return self.space
        return self.space.narrow(self._centre[1], self.factor, self.scale, self.keep)

    def _propose(self, remaining):
        if self.scale is not None:
            space = self.current_space()
            # Whole rounds, cut to the budget by ask(): the draws then do not
            # depend on the budget, so a resumed search with a larger one agrees.
            n = self.round_size
            points = []
            if self._step_from is not None:
                step = self.space.extrapolate(self._centre[1], self._step_from, 1.0)
                if _point_key(step) not in self._seen:
                    points.append(step)
            label = ["the last improving step, continued"] * len(points)
            points += self._elite_draws(space, (n - len(points)) // 2)
            label += [f"normal around the best, shaped by the {self.n_elite} best points"] * (
                len(points) - len(label))
            points += self._draw(space, n - len(points))
            label += [space.describe()] * (len(points) - len(label))
            if points:
                return Proposal(points, 0, space, "narrow", label)
            self._start_over()  # the neighbourhood holds nothing new
        self._first_round = self._round
        points = self._draw(self.space, self.n_initial)
        return Proposal(points, 0, self.space, "restart" if self._restarts else "explore")

    def _elite_draws(self, space, n):
        """``n`` points whose ranges follow the spread of this narrowing's best points."""
        names = [k for k, d in self.space.dimensions.items() if isinstance(d, Real) and d.high > d.low]
        trials = [t for t in self.trials if t["round"] >= self._first_round and not t["failed"]]
        if n < 1 or not names or self.n_elite < 2 or len(trials) < self.n_elite:
            return []
        trials.sort(key=lambda t: _score_key(t["score"]), reverse=True)
        dims = [self.space[k] for k in names]
        elite = np.array([[d._to_unit(t["params"][k]) for k, d in zip(names, dims)]
                          for t in trials[: self.n_elite]])
        centre = np.array([d._to_unit(self._centre[1][k]) for k, d in zip(names, dims)])
        cov = np.atleast_2d(np.cov(elite.T)) * self.spread**2 + 1e-12 * np.eye(len(names))
        steps = self.rng.multivariate_normal(np.zeros(len(names)), cov, size=n)
        points = space.sample(self.rng, n)
        for point, step in zip(points, steps):
            u = np.clip(centre + step, 0.0, 1.0)
            point.update({k: d._from_unit(v) for k, d, v in zip(names, dims, u)})
        return points

    def _start_over(self):
        self.scale, self._stall, self._centre, self._step_from = None, 0, None, None
        self._restarts += 1

    def _update(self, proposal, scores, improved):
        keys = [_score_key(s) for s in scores]
        i = max(range(len(keys)), key=lambda j: keys[j])  # the first of equals
        better = keys[i][0] > -math.inf and (self._centre is None or keys[i] > self._centre[0])
        if better:
            moved = self._centre is not None and proposal.step == "narrow"
            self._step_from = self._centre[1] if moved else None
            self._centre = (keys[i], proposal.points[i])
        if self._centre is None:
            return  # every trial failed so far: explore again
        if proposal.step != "narrow":
            self.scale, self._stall = 1.0, 0
            return
        if better:
            self._stall = 0
            if self.policy == "book":
                self.scale *= self.shrink
            else:
                self.scale = min(1.0, self.scale * self.grow)
        else:
            self._stall += len(scores)
            self._step_from = None
            if self.policy == "trust-region":
                self.scale *= self.shrink
        if not better or self.policy == "book":
            if self.scale < self.min_scale:
                self.converged.append(self._centre[1])
                self._start_over()
            elif self.patience is not None and self._stall >= self.patience:
                self._start_over()


@dataclass(frozen=True)
class Decision:
    """One decision of the guided recipe, readable as text.

    Attributes
    ----------
    action : str
        ``"start"``, ``"coarse"``, ``"fine"``, ``"double"``, ``"walk"``,
        ``"choose"``, ``"schedule"``, ``"probe"`` or ``"done"``.
    name : str or None
        The parameter the step tunes.
    tried : tuple
        The values tried for it in this decision.
    chosen : object
        The value the step keeps, or the centre it moves to.
    moved : bool
        Whether the step goes on from ``chosen`` (a line search's new centre,
        a walk's next value) rather than ending there.
    text : str
        The decision in words (what ``str()`` gives).
    """

    action: str
    name: object
    tried: tuple
    chosen: object
    moved: bool
    text: str

    def __str__(self):
        return self.text


class GuidedOracle(_Oracle):
    """An expert's manual tuning recipe, one parameter at a time.

    The plan is a list of ``(name, action)`` steps run in order, each from the
    best point so far:

    - ``"coarse"``: a line search on a range. Try the centre and one step
      either side (a decade on a log scale: 1e-4, 1e-3, 1e-2); if a point
      beats the centre, move the centre half-way towards the best point tried
      so far in this search (1e-3 and 1e-2 give 5e-3) and try again around the
      new centre; stop when the centre is the best of every point tried.
    - ``"fine"``: the same with a smaller step (a factor of 2 on a log scale).
    - ``"double"``: on integers and ordered choices, go up (batch size 32 →
      64 → 128 ...) while the score improves; keep the last good one. It never
      goes below the start (the book's floor for batch sizes).
    - ``"walk"``: as ``"double"``, then down from the start if going up never
      helped.
    - ``"choose"``: try every value of a choice.
    - ``"schedule"``: the book's schedule step on a choice of schedule names:
      try ``"cosine"`` against the current one and keep it if it raises the
      score by more than ``min_gain``; else try ``"ramp"`` and keep whichever
      is best.

    The default plan follows the recipe: ``"coarse"`` on every range, then
    ``"double"`` on a ``batch_size`` and ``"walk"`` on every other integer or
    ordered choice, then ``"fine"`` on every range, then ``"schedule"`` on a
    ``schedule`` choice holding ``"cosine"`` and ``"choose"`` on every other
    unordered choice.

    Parameters
    ----------
    space : Space or dict
        What to search over.
    max_trials : int, default=100
        Budget of points; the recipe usually ends well before.
    plan : list of (str, str) or None, default=None
        The steps; None derives the recipe's plan from ``space``. Each step is
        checked against its dimension here (a walk needs integers or an
        ordered choice, a choice needs a :class:`Choice`).
    start : dict or None, default=None
        Starting values; missing ones are the middle of their range (the
        geometric middle on a log scale) or a choice's first value.
    extras : dict or None, default=None
        ``{name: {value: params}}``: extra parameters to send along whenever
        ``name`` takes ``value`` in a ``"choose"`` or ``"schedule"`` step;
        ``params`` may be a callable taking the best point so far.
    max_moves : int, default=6
        Most centre moves of one line search.
    min_gain : float, default=1e-3
        How much cosine annealing must raise the (first) score to be kept
        without trying the ramp.
    seed : int or None, default=None
        Unused by the recipe (it draws nothing), accepted for a uniform interface.

    Attributes
    ----------
    trace : list of Decision
        Every decision, with its fields and as readable text.

    Examples
    --------
    >>> from skhp.search import Real
    >>> oracle = GuidedOracle({"lr": Real(1e-6, 1, log=True)}, start={"lr": 1e-3})
    >>> while (proposal := oracle.ask()) is not None:
    ...     oracle.tell([-abs(np.log10(p["lr"] / 4e-3)) for p in proposal.points])
    >>> for line in oracle.trace[1:3]:
    ...     print(line)
    coarse lr: tried 0.0001, 0.001, 0.01; 0.01 is better, centre moves to 0.005
    coarse lr: tried 0.0005, 0.005, 0.05; the centre 0.005 is best
    >>> oracle.trace[1].chosen, oracle.best_params
    (0.005, {'lr': 0.005})
    """

    ACTIONS = ("coarse", "fine", "double", "walk", "choose", "schedule")

    def __init__(self, space, max_trials=100, plan=None, start=None, extras=None,
                 max_moves=6, min_gain=1e-3, seed=None):
        super().__init__(space, max_trials, seed)
        self.plan = self._default_plan() if plan is None else list(plan)
        for name, action in self.plan:
            check_choice(name, "plan parameter name", list(self.space))
            check_choice(action, "plan action", self.ACTIONS)
            self._check_step(name, action)
        self.extras = dict(extras or {})
        self.max_moves = check_number(max_moves, "max_moves", low=1, integer=True)
        self.min_gain = check_number(min_gain, "min_gain", low=0)
        self.start = self._start_point(dict(start or {}))
        self.trace = []
        self._scores = {}
        self._steps = self._recipe()
        self._sent = None

    def _check_step(self, name, action):
        dim = self.space[name]
        steps = isinstance(dim, Integer) or (isinstance(dim, Choice) and dim.ordered)
        fits = {
            "coarse": isinstance(dim, (Real, Integer)) or steps,
            "fine": isinstance(dim, (Real, Integer)) or steps,
            "double": steps,
            "walk": steps,
            "choose": isinstance(dim, Choice),
            "schedule": isinstance(dim, Choice),
        }[action]
        if not fits:
            needs = {"double": "an Integer or an ordered Choice", "walk": "an Integer or an ordered Choice",
                     "choose": "a Choice", "schedule": "a Choice"}.get(action, "a Real, Integer or ordered Choice")
            raise ValueError(
                f"plan step ({name!r}, {action!r}) needs {needs}, but {name!r} is {dim!r}."
            )

    def _default_plan(self):
        dims = self.space.dimensions
        ranges = [n for n, d in dims.items() if isinstance(d, Real)]
        walks = [n for n, d in dims.items()
                 if isinstance(d, Integer) or (isinstance(d, Choice) and d.ordered)]
        choices = [n for n, d in dims.items() if isinstance(d, Choice) and not d.ordered]

        def choice_action(name):
            return "schedule" if name == "schedule" and "cosine" in dims[name].values else "choose"

        return ([(n, "coarse") for n in ranges]
                + [(n, "double" if n == "batch_size" else "walk") for n in walks]
                + [(n, "fine") for n in ranges] + [(n, choice_action(n)) for n in choices])

    def _start_point(self, start):
        unknown = set(start) - set(self.space)
        if unknown:
            raise ValueError(f"start has names not in the space: {sorted(unknown)}; "
                             f"the space has {list(self.space)}.")
        point = {}
        for name, dim in self.space.dimensions.items():
            if name in start:
                point[name] = start[name]
            elif isinstance(dim, Real):
                point[name] = (dim.between(dim.low, dim.high, 1) if not dim.log
                               else float(f"{math.sqrt(dim.low * dim.high):.0e}"))
            elif isinstance(dim, Integer):
                values = dim.values()
                point[name] = (values[len(values) // 2] if values
                               else dim.between(dim.low, dim.high, 1))
            elif isinstance(dim, Distribution):
                point[name] = dim.sample(np.random.default_rng(0), 1)[0]
            else:
                point[name] = dim.values[0]
        return point

    def _propose(self, remaining):
        try:
            proposal = self._steps.send(self._sent) if self._sent is not None else next(self._steps)
        except StopIteration:
            return None
        self._sent = None
        return proposal

    def _update(self, proposal, scores, improved):
        for point, score in zip(proposal.points, scores):
            self._scores[_point_key(point)] = _score_key(score)
        self._sent = True

    def _evaluate(self, points, step):
        """Generator: propose the points not scored yet; return every point's score key."""
        new, keys = [], set()
        for p in points:
            key = _point_key(p)
            if key not in self._scores and key not in keys:
                keys.add(key)
                new.append(p)
        if new:
            yield Proposal(new, 0, self.space, step)
        return [self._scores.get(_point_key(p), (-math.inf,)) for p in points]

    def _current(self):
        return self.best_params or self.start

    def _with(self, name, value):
        point = {k: v for k, v in self._current().items() if k in self.space}
        point[name] = value
        extra = self.extras.get(name, {})
        params = extra.get(value) if isinstance(extra, dict) and _hashable(value) else None
        if callable(params):
            params = params(point)
        return {**point, **(params or {})}

    def _note(self, action, name, tried, chosen, moved, text):
        self.trace.append(Decision(action, name, tuple(tried), chosen, moved, text))

    def _recipe(self):
        yield from self._evaluate([self.start], "start")
        self._note("start", None, (), dict(self.start), False, f"start at {self.start}")
        for name, action in self.plan:
            yield from getattr(self, f"_{action}")(name)
        self._note("done", None, (), self.best_params, False,
                   f"done after {self.n_trials} trials: best {self.best_params} "
                   f"(score {self.best_score})")

    def _line_search(self, name, step, digits, action):
        dim = self.space[name]
        center, centres, seen = self._current()[name], [], {}
        for _ in range(self.max_moves):
            centres.append(center)
            values = dim.line(center, step)
            scores = yield from self._evaluate([self._with(name, v) for v in values], f"{action} {name}")
            for value, score in zip(values, scores):
                seen[_plain(value)] = score
            # The stop test looks at every point this search has tried.
            best = max(seen, key=lambda v: seen[v])
            tried = ", ".join(map(_fmt, values))
            if seen[best] <= seen[_plain(center)]:
                self._note(action, name, values, center, False,
                           f"{action} {name}: tried {tried}; the centre {_fmt(center)} is best")
                return
            new = dim.between(center, best, digits)
            if new == center or new in centres:
                new = best
            self._note(action, name, values, new, new not in centres,
                       f"{action} {name}: tried {tried}; {_fmt(best)} is better, "
                       f"centre moves to {_fmt(new)}")
            if new in centres:
                return
            center = new
        self._note(action, name, (), center, False,
                   f"{action} {name}: stopped after {self.max_moves} moves at {_fmt(center)}")

    def _coarse(self, name):
        dim = self.space[name]
        return self._line_search(name, 10.0 if getattr(dim, "log", False) else 4.0, 1, "coarse")

    def _fine(self, name):
        dim = self.space[name]
        return self._line_search(name, 2.0 if getattr(dim, "log", False) else 16.0, 2, "fine")

    def _double(self, name, directions=((1, "up"),), action="double"):
        dim = self.space[name]
        start = self._current()[name]
        (here,) = yield from self._evaluate([self._with(name, start)], f"{action} {name}")
        for direction, word in directions:
            value, moved = start, False
            while (nxt := dim.next(value, direction)) is not None:
                (score,) = yield from self._evaluate([self._with(name, nxt)], f"{action} {name}")
                if score <= here:
                    self._note(action, name, (nxt,), value, False,
                               f"{action} {name} {word}: {nxt!r} is not better; keep {value!r}")
                    break
                self._note(action, name, (nxt,), nxt, True,
                           f"{action} {name} {word}: {nxt!r} is better than {value!r}")
                value, here, moved = nxt, score, True
            if moved:
                return

    def _walk(self, name):
        return self._double(name, ((1, "up"), (-1, "down")), "walk")

    def _choose(self, name):
        values = list(self.space[name].values)
        scores = yield from self._evaluate([self._with(name, v) for v in values], f"choose {name}")
        best = values[_argmax(scores)]
        self._note("choose", name, values, best, False,
                   f"choose {name}: tried {values!r}; {best!r} is best")

    def _schedule(self, name):
        values = list(self.space[name].values)
        current = self._current()[name]
        (here,) = yield from self._evaluate([self._with(name, current)], f"schedule {name}")
        if "cosine" in values and current != "cosine":
            (cosine,) = yield from self._evaluate([self._with(name, "cosine")], f"schedule {name}")
            if cosine[0] > here[0] + self.min_gain:
                self._note("schedule", name, ("cosine",), "cosine", False,
                           f"schedule {name}: cosine clearly helps ({_fmt(cosine[0])} against "
                           f"{_fmt(here[0])} for {current!r}); keep it")
                return
            if cosine > here:
                current, here = "cosine", cosine
        if "ramp" in values and current != "ramp":
            (ramp,) = yield from self._evaluate([self._with(name, "ramp")], f"schedule {name}")
            if ramp > here:
                current, here = "ramp", ramp
        self._note("schedule", name, tuple(v for v in ("cosine", "ramp") if v in values), current,
                   False, f"schedule {name}: cosine does not clearly help; keep {current!r}")


def _argmax(keys):
    """Index of the largest score key (tuples compare in order; the first of equals)."""
    return max(range(len(keys)), key=lambda i: keys[i])


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _fmt(value):
    return f"{value:.3g}" if isinstance(value, float) else repr(value)
