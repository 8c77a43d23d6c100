"""The record of one candidate of a search, shared by the strategies and storage."""

from dataclasses import dataclass, field

__all__ = ["Trial"]


@dataclass
class Trial:
    """One candidate of a search: what the strategies record and what storage keeps.

    Attributes
    ----------
    number : int
        Its place in the search, from 0.
    params : dict
        The candidate's parameters.
    score : float, tuple or None
        Its score (with several metrics, a tuple whose first is decisive);
        None while it runs.
    status : {"ok", "failed", "pruned", "running"}
        ``"failed"``: the score is not finite (a failed or diverging fit);
        ``"pruned"``: the search stopped it early (see :mod:`skhp.search.pruning`).
    round, step, space
        The round it belongs to, the step of the strategy that proposed it,
        and the space it was drawn from (as text).
    folds : list of dict
        Each fold's result (stored trials: scores, fit time, fit error).
    fit_time : float or None
        Total fit time of its folds, seconds.
    finished : float or None
        When it was stored (seconds since the epoch).

    Examples
    --------
    >>> Trial(0, {"C": 1.0}, score=0.9).failed, Trial(1, {"C": 1.0}, status="failed").failed
    (False, True)
    """

    number: int
    params: dict
    score: object = None
    status: str = "ok"
    round: int = 0
    step: str = ""
    space: str = ""
    folds: list = field(default_factory=list)
    fit_time: float = None
    finished: float = None

    @property
    def failed(self):
        """Whether the trial failed (no finite score)."""
        return self.status == "failed"
