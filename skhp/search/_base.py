"""What the oracle-driven searches share: scikit-learn's BaseSearchCV, fed by an oracle."""

import numpy as np
from sklearn.base import clone
from sklearn.model_selection._search import BaseSearchCV

from skhp.search._oracle import sources
from skhp.search._space import Space


class OracleSearchCV(BaseSearchCV):
    """A ``BaseSearchCV`` whose candidates come from an oracle, round by round.

    Subclasses build the oracle in ``_make_oracle``. Each round is one call of
    scikit-learn's ``evaluate_candidates``, so cross-validation, scoring,
    ``n_jobs``, ``refit`` and ``error_score`` behave exactly as in
    ``RandomizedSearchCV``; ``cv_results_`` gains the columns ``round``,
    ``step`` and ``space`` (where each candidate was drawn from).

    The oracle maximizes the refit metric (``score`` with single-metric
    scoring); with several metrics the others break ties, in the order given.
    Failed fits (``error_score``) and non-finite scores are never the best.
    """

    def _make_oracle(self, space):
        raise NotImplementedError

    def _search_space(self):
        return Space(self.param_distributions)

    def _oracle_scores(self, results, n):
        metrics = [k[len("mean_test_"):] for k in results if k.startswith("mean_test_")]
        primary = self.refit if isinstance(self.refit, str) and self.refit in metrics else (
            "score" if "score" in metrics else metrics[0])
        order = [primary] + [m for m in metrics if m != primary]
        columns = [np.asarray(results[f"mean_test_{m}"][-n:], dtype=float) for m in order]
        return [tuple(float(c[i]) for c in columns) for i in range(n)]

    def _check_names(self, space):
        """Fail before any training if the estimator does not know a parameter."""
        rng = np.random.default_rng(0)
        for name, dim in space.dimensions.items():
            try:
                clone(self.estimator).set_params(**{name: dim.sample(rng, 1)[0]})
            except ValueError as err:
                raise ValueError(
                    f"the search space names {name!r}, a parameter "
                    f"{type(self.estimator).__name__} does not have ({err})"
                ) from None

    def _run_search(self, evaluate_candidates):
        space = self._search_space()
        self._check_names(space)
        oracle = self._make_oracle(space)
        while (proposal := oracle.ask()) is not None:
            n = len(proposal.points)
            results = evaluate_candidates(proposal.points, more_results={
                "round": [proposal.round] * n,
                "step": [proposal.step] * n,
                "space": sources(proposal),
            })
            oracle.tell(self._oracle_scores(results, n))
        self.search_history_ = oracle.history
        self._oracle_done(oracle)

    def _oracle_done(self, oracle):
        pass
