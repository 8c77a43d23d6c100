"""The guided search: the manual tuning recipe of an expert, automated.

Its moves (line searches, walks), the strategy (GuidedOracle, with its
Decision records) and its cross-validated search (GuidedSearchCV).
"""

import functools
import math
import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from skhp._validation import check_choice, check_number
from sklearn.base import is_classifier

from skhp.search._base import OracleSearchCV
from skhp.search._sklearn import DefaultScoring
from skhp.search._oracle import Proposal, best_index, fmt, hashable, Oracle, plain, point_key, score_key
from skhp.search._space import Choice, Distribution, Integer, Real, Space, SpaceUnion, as_space

__all__ = ["line", "next_value", "between", "Decision", "GuidedOracle", "GuidedSearchCV"]


# -- the guided recipe's moves ---------------------------------------------------


@functools.singledispatch
def line(dim, center, step):
    """``center`` and one step either side, inside the bounds.

    A :class:`Real`: ``/ step`` and ``* step`` on a log scale, ``± (high -
    low) / step`` on a linear one. An :class:`Integer`: the same rounded, at
    least one value apart (the neighbouring powers with a ``base``). A
    :class:`Choice`: the neighbours in its values.

    Examples
    --------
    >>> line(Real(1e-6, 1, log=True), 1e-3, 10)
    [0.0001, 0.001, 0.01]
    >>> line(Integer(16, 512, base=2), 64, 2)
    [32, 64, 128]
    """
    return [center]


@line.register
def _(dim: Real, center, step):
    if dim.log:
        points = [center / step, center, center * step]
    else:
        d = (dim.high - dim.low) / step
        points = [center - d, center, center + d]
    return [min(max(p, dim.low), dim.high) for p in points]


@line.register
def _(dim: Integer, center, step):
    if dim.base is not None:
        values = dim.values()
        i = values.index(center) if center in values else 0
        return [values[max(0, i - 1)], center, values[min(len(values) - 1, i + 1)]]
    points = line(Real(dim.low, dim.high, dim.log), center, step)
    if dim.step is not None:  # the nearest values of the range, one step away at least
        down = min(dim.nearest(points[0]), center - dim.step)
        up = max(dim.nearest(points[2]), center + dim.step)
        return [down if down >= dim.low else center, center, up if up <= dim.high else center]
    down = min(int(round(points[0])), center - 1)
    up = max(int(round(points[2])), center + 1)
    return [max(dim.low, down), center, min(dim.high, up)]


@line.register
def _(dim: Choice, center, step):
    i = dim.index(center)
    return [dim.values[max(0, i - 1)], center, dim.values[min(len(dim.values) - 1, i + 1)]]


@functools.singledispatch
def next_value(dim, value, direction):
    """The value after ``value`` going up (+1) or down (-1), or None past the bounds.

    An :class:`Integer`: the next power with a ``base``, double or half on a
    log scale, else one eighth of the range. A :class:`Choice`: its neighbour.

    Examples
    --------
    >>> next_value(Integer(16, 512, base=2), 32, 1), next_value(Integer(16, 512, base=2), 16, -1)
    (64, None)
    """
    raise TypeError(f"{dim!r} has no next value; a walk needs an Integer or an ordered Choice.")


@next_value.register
def _(dim: Integer, value, direction):
    if dim.base is not None:
        nxt = value * dim.base if direction > 0 else value // dim.base
    elif dim.log:
        nxt = value * 2 if direction > 0 else value // 2
    elif dim.step is not None:
        nxt = value + direction * dim.step * max(1, (dim.high - dim.low) // (8 * dim.step))
    else:
        nxt = value + direction * max(1, (dim.high - dim.low) // 8)
    return nxt if dim.low <= nxt <= dim.high else None


@next_value.register
def _(dim: Choice, value, direction):
    i = dim.index(value) + direction
    return dim.values[i] if 0 <= i < len(dim.values) else None


@functools.singledispatch
def between(dim, a, b, digits):
    """A readable point half-way between ``a`` and ``b``.

    A log-scale :class:`Real` cuts it to ``digits`` significant digits (1e-3
    and 1e-2 give 5e-3); an :class:`Integer` rounds it; otherwise ``b``.

    Examples
    --------
    >>> between(Real(1e-6, 1, log=True), 1e-3, 1e-2, 1)
    0.005
    """
    return b


@between.register
def _(dim: Real, a, b, digits):
    mid = (a + b) / 2
    return _significant(mid, digits) if dim.log else mid


@between.register
def _(dim: Integer, a, b, digits):
    return int(round((a + b) / 2))


def _significant(value, digits):
    """``value`` cut down to ``digits`` significant digits (5.5e-3 gives 5e-3)."""
    if value <= 0:
        return float(value)
    unit = 10.0 ** (math.floor(math.log10(value)) - digits + 1)
    return float(f"{math.floor(value / unit + 1e-9) * unit:.{digits - 1}e}")


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


class GuidedOracle(Oracle):
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
        _one_space(self.space)
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
                point[name] = (between(dim, dim.low, dim.high, 1) if not dim.log
                               else float(f"{math.sqrt(dim.low * dim.high):.0e}"))
            elif isinstance(dim, Integer):
                values = dim.values()
                point[name] = (values[len(values) // 2] if values
                               else between(dim, dim.low, dim.high, 1))
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
            self._scores[point_key(point)] = score_key(score)
        self._sent = True

    def _evaluate(self, points, step):
        """Generator: propose the points not scored yet; return every point's score key."""
        new, keys = [], set()
        for p in points:
            key = point_key(p)
            if key not in self._scores and key not in keys:
                keys.add(key)
                new.append(p)
        if new:
            yield Proposal(new, 0, self.space, step)
        return [self._scores.get(point_key(p), (-math.inf,)) for p in points]

    def _current(self):
        return self.best_params or self.start

    def _with(self, name, value):
        point = {k: v for k, v in self._current().items() if k in self.space}
        point[name] = value
        extra = self.extras.get(name, {})
        params = extra.get(value) if isinstance(extra, dict) and hashable(value) else None
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
            values = line(dim, center, step)
            scores = yield from self._evaluate([self._with(name, v) for v in values], f"{action} {name}")
            for value, score in zip(values, scores):
                seen[plain(value)] = score
            # The stop test looks at every point this search has tried.
            best = max(seen, key=lambda v: seen[v])
            tried = ", ".join(map(fmt, values))
            if seen[best] <= seen[plain(center)]:
                self._note(action, name, values, center, False,
                           f"{action} {name}: tried {tried}; the centre {fmt(center)} is best")
                return
            new = between(dim, center, best, digits)
            if new == center or new in centres:
                new = best
            self._note(action, name, values, new, new not in centres,
                       f"{action} {name}: tried {tried}; {fmt(best)} is better, "
                       f"centre moves to {fmt(new)}")
            if new in centres:
                return
            center = new
        self._note(action, name, (), center, False,
                   f"{action} {name}: stopped after {self.max_moves} moves at {fmt(center)}")

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
            while (nxt := next_value(dim, value, direction)) is not None:
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
        best = values[best_index(scores)]
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
                           f"schedule {name}: cosine clearly helps ({fmt(cosine[0])} against "
                           f"{fmt(here[0])} for {current!r}); keep it")
                return
            if cosine > here:
                current, here = "cosine", cosine
        if "ramp" in values and current != "ramp":
            (ramp,) = yield from self._evaluate([self._with(name, "ramp")], f"schedule {name}")
            if ramp > here:
                current, here = "ramp", ramp
        self._note("schedule", name, tuple(v for v in ("cosine", "ramp") if v in values), current,
                   False, f"schedule {name}: cosine does not clearly help; keep {current!r}")



#: The space searched when none is given (for skhp estimators).
DEFAULT_SPACE = {
    "learning_rate": Real(1e-5, 1.0, log=True),
    "batch_size": Integer(8, 4096, base=2),
    "schedule": Choice(["constant", "cosine", "ramp"]),
}


class GuidedSearchCV(DefaultScoring, OracleSearchCV):
    """Cross-validated search that follows the manual tuning recipe, step by step.

    With the default space (for skhp estimators) the steps are:

    1. coarse learning rate, batch size fixed (the estimator's, else 32 below
       50,000 samples and 256 above): try the centre (the estimator's
       learning rate, 1e-3 where it is None) and one decade either side; if a side
       wins, move the centre half-way towards it (1e-3 and 1e-2 give 5e-3) and
       try a decade either side of it; repeat until the centre is best;
    2. batch size: double it from the book's floor (32 → 64 → 128 ...) while
       the score improves; keep the last good one (it never halves below the
       floor unless the plan says ``("batch_size", "walk")``);
    3. fine learning rate: step 1 again around the coarse one, with steps of 2;
    4. schedule: cosine annealing against the current schedule, kept if it
       clearly helps; else a ramp (÷10) whose drop sits 5 epochs before the
       point where the candidate itself, trained with early stopping
       (patience 2), stops, counted after its warm-up.

    Each step starts from the best candidate so far. Any space can be given
    instead, for any scikit-learn estimator: ranges get steps 1 and 3,
    integers and ordered choices step 2, unordered choices step 4 (see
    :class:`skhp.search.GuidedOracle`). The recipe's decision rule is the
    lowest validation loss: with ``scoring=None`` a classifier with
    ``predict_proba`` is scored by ``"neg_log_loss"`` (other estimators by
    their ``score``); ``scoring=["neg_log_loss", "accuracy"],
    refit="neg_log_loss"`` adds the chapter's tie-break, accuracy (the refit
    metric decides and the others break ties).

    Parameters
    ----------
    estimator : estimator object
        The estimator to tune.
    param_space : dict, Space or None, default=None
        What to search over (as ``param_distributions`` of
        :class:`NarrowingSearchCV`); None is :data:`DEFAULT_SPACE`.
    start : dict or None, default=None
        Starting values; by default the estimator's own values where they lie
        in the space, else the middle of each range.
    plan : list of (str, str) or None, default=None
        The steps as ``(parameter, action)`` pairs, actions ``"coarse"``,
        ``"fine"``, ``"double"``, ``"walk"``, ``"choose"``, ``"schedule"``
        (see :class:`skhp.search.GuidedOracle`); None derives the recipe.
    n_iter : int, default=60
        Most candidates; the recipe usually ends well before.
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
    pruning, packing, pack_size
        As for :class:`NarrowingSearchCV`.
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score, return_train_score
        As in ``RandomizedSearchCV``.

    Attributes
    ----------
    trace_ : list of Decision
        Every decision of the recipe: its action, parameter, values tried and
        value kept, and as readable text (``str(decision)``).
    cv_results_ : dict of arrays
        As in ``RandomizedSearchCV``, with ``round``, ``step`` (e.g. ``"coarse
        learning_rate"``) and ``space``.
    best_estimator_, best_score_, best_params_, best_index_, scorer_, n_splits_, refit_time_, multimetric_
        As in ``RandomizedSearchCV``.
    n_trials_replayed_ : int
        Candidates taken from ``storage`` instead of being trained again.
    search_history_ : list of dict
        One entry per round of candidates.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import SGDClassifier
    >>> from skhp.search import GuidedSearchCV, Real
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GuidedSearchCV(SGDClassifier(random_state=0),
    ...                         {"alpha": Real(1e-6, 1.0, log=True)}, start={"alpha": 1e-4})
    >>> print(search.fit(X, y).trace_[1])
    coarse alpha: tried 1e-05, 0.0001, 0.001; 0.001 is better, centre moves to 0.0005
    """

    _parameter_constraints = {
        **OracleSearchCV._parameter_constraints,
        "param_space": [dict, list, Space, SpaceUnion, None],
        "start": [dict, None],
        "plan": [list, None],
    }

    def __init__(self, estimator, param_space=None, *, start=None, plan=None, n_iter=60,
                 scoring=None, n_jobs=None, refit=True, cv=None, verbose=0,
                 pre_dispatch="2*n_jobs", error_score=np.nan, return_train_score=False,
                 time_budget=None, storage=None,
                 study=None, progress=None,
                 pruning=None, packing="auto", pack_size="auto"):
        super().__init__(estimator=estimator, scoring=scoring, n_jobs=n_jobs, refit=refit,
                         cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
                         error_score=error_score, return_train_score=return_train_score,
                         time_budget=time_budget, storage=storage, study=study,
                         progress=progress, pruning=pruning, packing=packing,
                         pack_size=pack_size)
        self.param_space = param_space
        self.start = start
        self.plan = plan
        self.n_iter = n_iter

    _space_parameter = "param_space"

    def _search_space(self):
        return _one_space(as_space(DEFAULT_SPACE if self.param_space is None else self.param_space))

    def _start(self, space):
        if self.start is not None:
            return dict(self.start)
        given = self.estimator.get_params()
        start = {}
        for name, dim in space.dimensions.items():
            value = given.get(name)
            if name == "batch_size" and value is None:
                # the book's floor, or the space's value nearest to it
                X = self._rounds.data[0]
                n_samples = X.shape[0] if hasattr(X, "shape") else len(X)
                value = _nearest(dim, 32 if n_samples < 50_000 else 256)
            if name == "learning_rate" and not isinstance(value, numbers.Real):
                value = 1e-3
            if value is not None and dim.contains(value):
                start[name] = value
        return start

    def _default_scoring(self):
        """The recipe's rule: the lowest validation loss (a classifier's log loss)."""
        if is_classifier(self.estimator) and hasattr(self.estimator, "predict_proba"):
            return "neg_log_loss"
        return None

    def _make_oracle(self, space):
        extras = {}
        if "schedule" in space and isinstance(space["schedule"], Choice) \
                and "ramp" in space["schedule"].values:
            extras["schedule"] = {"ramp": self._ramp_at_plateau}
        oracle = GuidedOracle(space, max_trials=self.n_iter, plan=self.plan,
                              start=self._start(space), extras=extras)
        self._oracle = oracle
        return oracle

    def _ramp_at_plateau(self, point):
        """The ramp's drop epoch: 5 epochs before the candidate's own early-stopping point.

        The candidate (its epochs, its warm-up) trains once with early
        stopping (patience 2) on a constant rate; the ramp drops 5 epochs
        before the epoch it stopped at (its last epoch when it never
        stopped), counted in the schedule's own epochs (after warm-up), and
        inside the run.
        """
        params = self.estimator.get_params()
        if "early_stopping" not in params or "epochs" not in params:
            return {}
        settings = {**params, **point}
        epochs, warmup = int(settings["epochs"]), int(settings.get("warmup") or 0)
        probe = {**point, "schedule": "constant", "early_stopping": 2, "epochs": epochs,
                 "validation_split": settings.get("validation_split") or 0.2}
        store, study = self._rounds.store
        found = None if store is None else store.probe(study, probe)
        if found is None:
            try:
                found = self._run_probe(probe)
            except Exception as err:  # the ramp keeps its default drop
                self._oracle.trace.append(Decision(
                    "probe", "schedule", (), None, False,
                    f"schedule: the early-stopping run failed ({err}); the ramp keeps its default drop"))
                return {}
            if store is not None:
                store.add_probe(study, probe, found)
        stopped = len(found["losses"])
        drop = int(min(max(stopped - 5 - warmup, 1), max(epochs - warmup - 1, 1)))
        self._oracle.trace.append(Decision(
            "probe", "schedule", (stopped,), drop, False,
            f"schedule: the candidate with early stopping (patience 2) stopped at epoch "
            f"{stopped} of {epochs} (best {found['best_epoch']}); the ramp drops 5 epochs "
            f"before, at epoch {drop} after {warmup} warm-up epochs"))
        return {"schedule__drop_epochs": [drop]}

    def _run_probe(self, params):
        """Fit the estimator with ``params``; its best epoch and validation losses."""
        X, y, fit_params = self._rounds.data
        probe = clone(self.estimator).set_params(**params).fit(X, y, **fit_params)
        losses = [float(v) for v in probe.history_.get("val_loss", probe.history_["loss"])]
        return {"best_epoch": int(np.argmin(losses)) + 1, "losses": losses}

    def _oracle_done(self, oracle):
        self.trace_ = list(oracle.trace)
        del self._oracle


def _nearest(dim, value):
    """The value of ``dim`` (integers or an ordered choice) nearest to ``value``."""
    if isinstance(dim, Integer):
        values = dim.values() or [min(max(value, dim.low), dim.high)]
    elif isinstance(dim, Choice):
        values = [v for v in dim.values if isinstance(v, numbers.Real)] or [value]
    else:
        return value
    return min(values, key=lambda v: (abs(np.log(v / value)) if v > 0 else np.inf, v))


def _one_space(space):
    """``space``, refused when it is a conditional space (the recipe tunes one space)."""
    if isinstance(space, SpaceUnion):
        raise ValueError(
            f"the guided recipe tunes one space, one parameter at a time; got a conditional "
            f"space of {len(space.subspaces)} spaces. Run one guided search per space, or use "
            "NarrowingSearchCV."
        )
    return space
