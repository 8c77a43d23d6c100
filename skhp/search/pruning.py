"""Stopping bad candidates early: the rules that decide, rung by rung, who trains on.

Epochs are the resource. A round's candidates are trained, each on every
CV fold, to the first *rung* (a few epochs), scored there (the mean over
folds of the search's score), and a rule decides which of them go on; those
*continue* from their weights and optimizer state to the next rung (see
:class:`skhp.packed.PackRun`), never retrained from scratch, and a candidate
that reaches the last rung has trained exactly as one uninterrupted fit.

- :class:`SuccessiveHalving` (``pruning="halving"``): at every rung the top
  ``1 / factor`` of the round's candidates still training go on.
- :class:`MedianRule` (``pruning="median"``, Optuna's median pruner): a
  candidate stops at a rung where its score is below the median score of
  the completed candidates of earlier rounds at that rung.

Rungs are ``epochs / factor ** k`` (rounded up) for ``k = s, ..., 0``, the
first one at least ``min_epochs``: with 27 epochs and ``factor=3``: 1, 3, 9,
27. A candidate whose loss becomes non-finite stops at once and is a failed
fit. :func:`hyperband_brackets` gives the brackets of Hyperband
(:class:`skhp.search.HyperbandSearchCV`).

Examples
--------
>>> rung_epochs(27, min_epochs=1, factor=3)
[1, 3, 9, 27]
>>> SuccessiveHalving().survivors({0: 0.9, 1: 0.5, 2: 0.7, 3: 0.95, 4: 0.1, 5: 0.8}, rung=0)
[3, 0]
"""

import math
from numbers import Integral, Real

import numpy as np

__all__ = ["rung_epochs", "SuccessiveHalving", "MedianRule", "BracketHalving",
           "hyperband_brackets", "check_pruning", "PRUNING", "RULE_METHODS"]


def rung_epochs(epochs, min_epochs=1, factor=3):
    """The epochs at which candidates trained for ``epochs`` are scored and sorted.

    ``ceil(epochs / factor ** k)`` for ``k`` from the largest with a rung of
    at least ``min_epochs`` down to 0, without repeats; the last is ``epochs``.

    Examples
    --------
    >>> rung_epochs(10, min_epochs=1, factor=3), rung_epochs(10, min_epochs=2, factor=2)
    ([2, 4, 10], [3, 5, 10])
    """
    epochs, min_epochs = int(epochs), max(1, int(min_epochs))
    if epochs <= min_epochs:
        return [epochs]
    s = int(math.floor(math.log(epochs / min_epochs, factor) + 1e-9))
    rungs = sorted({int(math.ceil(epochs / factor ** k - 1e-9)) for k in range(s, -1, -1)})
    return [r for r in rungs if r >= min_epochs]


def _ranked(scores):
    """Candidates with finite scores, best first (ties: the earlier candidate first)."""
    finite = [(c, s) for c, s in scores.items() if s is not None and math.isfinite(s)]
    return [c for c, _ in sorted(finite, key=lambda cs: (-cs[1], cs[0]))]


class SuccessiveHalving:
    """Within each round, the top ``1 / factor`` of the candidates go on at every rung.

    Parameters
    ----------
    min_epochs : int, default=1
        Epochs of the first rung (at least).
    factor : float, default=3
        η: the rungs grow by this factor and ``1 / factor`` of the candidates
        go on at each.

    Examples
    --------
    >>> rule = SuccessiveHalving(min_epochs=1, factor=3)
    >>> rule.rungs(9)
    [1, 3, 9]
    >>> rule.survivors({0: 0.2, 1: 0.9, 2: 0.5}, rung=0)
    [1]
    """

    name = "halving"

    def __init__(self, min_epochs=1, factor=3):
        self.min_epochs = min_epochs
        self.factor = factor

    def __repr__(self):
        return f"SuccessiveHalving(min_epochs={self.min_epochs}, factor={self.factor})"

    def check(self):
        """Refuse bad settings, naming them."""
        if not isinstance(self.min_epochs, Integral) or self.min_epochs < 1:
            raise ValueError(f"SuccessiveHalving's min_epochs must be a whole number >= 1, "
                             f"got {self.min_epochs!r}.")
        if not isinstance(self.factor, Real) or not self.factor > 1:
            raise ValueError(f"SuccessiveHalving's factor must be a number > 1, got {self.factor!r}.")
        return self

    def rungs(self, epochs):
        """The rung epochs of a candidate trained for ``epochs`` (see :func:`rung_epochs`)."""
        return rung_epochs(epochs, self.min_epochs, self.factor)

    def survivors(self, scores, rung, record=None):
        """Candidates (keys of ``scores``, their mean CV score at the rung) that train on.

        The best ``max(1, floor(n / factor))`` of the ``n`` candidates with a
        finite score.
        """
        ranked = _ranked(scores)
        keep = max(1, int(math.floor(len(scores) / self.factor + 1e-9)))
        return ranked[:keep]


class MedianRule:
    """Stop a candidate whose score at a rung is below the median of earlier candidates there.

    Optuna's ``MedianPruner``: the median is over the *completed*
    candidates of earlier rounds at the same epoch; until ``n_startup`` of
    them have a score there, nobody stops at that rung.

    Parameters
    ----------
    min_epochs : int, default=1
        Epochs of the first rung (at least).
    factor : float, default=3
        The rungs grow by this factor (see :func:`rung_epochs`).
    n_startup : int, default=5
        Completed candidates needed before the rule prunes.

    Examples
    --------
    >>> rule = MedianRule(n_startup=3)
    >>> record = {3: [0.5, 0.7, 0.9]}
    >>> rule.survivors({0: 0.6, 1: 0.8}, rung=3, record=record)
    [1]
    """

    name = "median"

    def __init__(self, min_epochs=1, factor=3, n_startup=5):
        self.min_epochs = min_epochs
        self.factor = factor
        self.n_startup = n_startup

    def __repr__(self):
        return (f"MedianRule(min_epochs={self.min_epochs}, factor={self.factor}, "
                f"n_startup={self.n_startup})")

    def check(self):
        """Refuse bad settings, naming them."""
        SuccessiveHalving(self.min_epochs, self.factor).check()
        if not isinstance(self.n_startup, Integral) or self.n_startup < 1:
            raise ValueError(f"MedianRule's n_startup must be a whole number >= 1, "
                             f"got {self.n_startup!r}.")
        return self

    def rungs(self, epochs):
        """The rung epochs of a candidate trained for ``epochs`` (see :func:`rung_epochs`)."""
        return rung_epochs(epochs, self.min_epochs, self.factor)

    def survivors(self, scores, rung, record=None):
        """Candidates that train on: every finite score not below the median of ``record[rung]``."""
        earlier = [s for s in (record or {}).get(rung, []) if math.isfinite(s)]
        ranked = _ranked(scores)
        if len(earlier) < self.n_startup:
            return ranked
        median = float(np.median(earlier))
        return [c for c in ranked if scores[c] >= median]


class BracketHalving:
    """Successive halving with given rungs and survivor counts: one Hyperband bracket.

    Examples
    --------
    >>> rule = BracketHalving(rungs=[3, 9], keep=[3])
    >>> rule.rungs(9), rule.survivors({0: 0.1, 1: 0.9, 2: 0.5, 3: 0.7}, rung=3)
    ([3, 9], [1, 3, 2])
    """

    name = "hyperband"

    def __init__(self, rungs, keep):
        self._rungs, self.keep = list(rungs), list(keep)

    def rungs(self, epochs):
        return [min(r, int(epochs)) for r in self._rungs]

    def survivors(self, scores, rung, record=None):
        at = self._rungs.index(rung) if rung in self._rungs else 0
        return _ranked(scores)[:self.keep[min(at, len(self.keep) - 1)]]


def hyperband_brackets(max_epochs, factor=3, min_epochs=1):
    """Hyperband's brackets as KerasTuner runs them: most aggressive first.

    Bracket ``b`` has ``b + 1`` rounds; round ``r`` trains
    ``ceil(ceil(1 + log_factor(max_epochs)) / (b + 1) * factor ** (b - r))``
    candidates to ``ceil(max_epochs / factor ** (b - r))`` epochs, the best of
    the previous round continuing.

    Returns
    -------
    list of dict
        ``{"bracket": b, "sizes": [...], "epochs": [...]}`` from the largest ``b`` down to 0.

    Examples
    --------
    >>> [(b["sizes"], b["epochs"]) for b in hyperband_brackets(9, factor=3)]
    [([9, 3, 1], [1, 3, 9]), ([5, 2], [3, 9]), ([3], [9])]
    """
    n_brackets, epochs = 0, float(max_epochs)
    while epochs >= min_epochs:
        epochs /= factor
        n_brackets += 1
    end = math.ceil(1 + math.log(max_epochs, factor))
    brackets = []
    for b in range(n_brackets - 1, -1, -1):
        sizes = [math.ceil(end / (b + 1) * factor ** (b - r)) for r in range(b + 1)]
        rungs = [math.ceil(max_epochs / factor ** (b - r)) for r in range(b + 1)]
        brackets.append({"bracket": b, "sizes": sizes, "epochs": rungs})
    return brackets


#: What the searches call on a pruning rule: ``rungs(epochs)`` (the rung epochs of a
#: candidate trained for ``epochs``) and ``survivors(scores, rung, record=None)`` (the
#: candidates that train on); an optional ``check()`` validates it and returns it.
RULE_METHODS = ("rungs", "survivors")

#: The ``pruning`` names of the searches and the rule each means.
PRUNING = {"halving": SuccessiveHalving, "median": MedianRule}


def check_pruning(pruning, owner="the search"):
    """The rule object of a ``pruning`` parameter (None, a name of :data:`PRUNING` or a rule).

    Examples
    --------
    >>> check_pruning("median")
    MedianRule(min_epochs=1, factor=3, n_startup=5)
    >>> check_pruning("halve")
    Traceback (most recent call last):
    ...
    ValueError: pruning='halve' is not one the search knows; use None, 'halving', 'median', or a rule object (SuccessiveHalving, MedianRule, or one of yours with the methods rungs, survivors).
    """
    if pruning is None:
        return None
    if isinstance(pruning, str) and pruning in PRUNING:
        return PRUNING[pruning]()
    if all(callable(getattr(pruning, m, None)) for m in RULE_METHODS):
        check = getattr(pruning, "check", None)
        return pruning if check is None else check()
    raise ValueError(f"pruning={pruning!r} is not one {owner} knows; use None, "
                     f"{', '.join(map(repr, PRUNING))}, or a rule object (SuccessiveHalving, "
                     f"MedianRule, or one of yours with the methods {', '.join(RULE_METHODS)}).")
