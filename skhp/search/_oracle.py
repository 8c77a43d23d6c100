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

import numpy as np

from skhp._validation import check_number
from skhp.search._space import as_space, plain
from skhp.trials import Trial

__all__ = ["Proposal", "Trial"]

#: A batch of points to evaluate, the round it belongs to, the space it was
#: drawn from, the step of the strategy that made it, and optionally where
#: each point came from when not all were drawn from ``space``.
Proposal = namedtuple("Proposal", "points round space step sources", defaults=(None,))


def sources(proposal):
    """Where each point of ``proposal`` came from: its ``sources``, else its space."""
    return list(proposal.sources or [proposal.space.describe()] * len(proposal.points))


def score_key(score):
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


def point_key(point):
    return tuple(sorted((k, repr(plain(v))) for k, v in point.items()))


class Oracle:
    """Bookkeeping shared by every strategy: trials, best point, budget."""

    def __init__(self, space, max_trials, seed=None):
        self.space = as_space(space)
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
        points = [{k: plain(v) for k, v in p.items()} for p in proposal.points[:remaining]]
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
            key = score_key(score)
            self.trials.append(Trial(len(self.trials), point, score,
                                     "failed" if key[0] == -math.inf else "ok",
                                     proposal.round, proposal.step, source))
            self._seen.add(point_key(point))
            if key[0] > -math.inf and (self._best_key is None or key > self._best_key):
                self._best_key, self.best_score, self.best_params = key, score, point
        improved = self._best_key is not None and (before is None or self._best_key > before)
        self.history.append({"round": proposal.round, "step": proposal.step,
                             "space": proposal.space.describe(), "n_trials": len(scores),
                             "best_score": None if self._best_key is None else self._best_key[0],
                             "improved": improved})
        self._round += 1
        self._update(proposal, scores, improved)

    def _draw(self, space, n, adjust=None):
        """Up to ``n`` points from ``space`` not tried before (fewer when it runs dry),
        each changed in place by ``adjust(point)`` first when given."""
        points, keys = [], set()
        for _ in range(10):
            for point in space.sample(self.rng, n):
                if adjust is not None:
                    adjust(point)
                key = point_key(point)
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


def best_index(keys):
    """Index of the largest score key (tuples compare in order; the first of equals)."""
    return max(range(len(keys)), key=lambda i: keys[i])


def hashable(value):
    try:
        hash(value)
    except TypeError:
        return False
    return True


def fmt(value):
    return f"{value:.3g}" if isinstance(value, float) else repr(value)
