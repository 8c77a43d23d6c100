"""A round trained rung by rung: continued training, scores at each rung, bad candidates stopped.

The pruned counterpart of :func:`skhp.search._evaluate.packed_results`. The
round's (candidate, fold) jobs of skhp estimators are trained to the first
rung — in packs (:class:`skhp.packed.PackRun`) where they pack, in this
process or on a Dask cluster's workers (:class:`skhp.packed.RungsOnCluster`),
else by the estimator's own fit — and scored on their test folds with the search's
scorers; the rule (:mod:`skhp.search.pruning`) picks the candidates that
go on, and those continue from where they stopped (weights, optimizer
state, shuffling) to the next rung. A candidate at the last rung has
trained exactly as one fit. Pruned candidates get non-finite test scores
(so they are never best, and rank last) and ``pruned`` in their results;
a diverging candidate stops at once and is a failed fit.

With a store, the state of every job still training is written after each
rung (:meth:`skhp.storage.TrialStore.add_rungs`): a search killed mid-round
resumes from the last finished rung.
"""

import math
import warnings

import numpy as np
from sklearn.utils.validation import indexable

from skhp.search._jobs import round_jobs
from skhp.search._rung_trainers import ClusterPacks, InProcessPacks, OwnFits
from skhp.search._scoring import failed_result, per_metric
from skhp.search._sklearn import fold_key, score_names, search_scorers

__all__ = ["pruned_round"]


def _continuable(final):
    """None when ``final`` trains rung by rung here (an skhp estimator), else why not."""
    from skhp.estimators import KerasClassifier, KerasRegressor  # (on first use: see _evaluate)

    if isinstance(final, (KerasClassifier, KerasRegressor)):
        return None
    return f"{type(final).__name__} is not an skhp estimator: it trains all its epochs, unpruned"


class _Trainers:
    """Which :class:`~skhp.search._rung_trainers.RungTrainer` trains each job of a round.

    Packable jobs go to the workers of joblib's active Dask backend, else to
    packs in this process; the others, and every job a trainer hands back,
    to their own fits here.
    """

    def __init__(self, rounds, jobs, reasons):
        from skhp.packed import RungsOnCluster, pack_reason, seed_or_fresh, start_packs

        search = rounds.search
        self.own = OwnFits(search.error_score)
        self.owner, self.reasons = {}, reasons
        self.trainers = []
        cluster = rounds.cluster() if search.packing is not False else None
        remote = [job for job in jobs if cluster is not None and pack_reason(job.final) is None]
        if remote:
            for job in remote:
                if job.final.random_state is None:
                    # one seed for every rung (a share that moves to another worker is planned
                    # again there), drawn fresh as a fit with random_state=None draws it
                    job.final.random_state = seed_or_fresh(None)
            rungs = RungsOnCluster(cluster, [job.travelling for job in remote], search.pack_size,
                                   rounds.scoring())
            self._own(ClusterPacks(rungs, remote, rounds.trained_at), remote)
        here = [job for job in jobs if id(job) not in self.owner]
        # start_packs says why a job does not pack; those train by their own fit
        runs, where = (start_packs([job.data for job in here], search.pack_size, rounds.planned)
                       if search.packing is not False else ([], ["packing=False"] * len(here)))
        packed = {id(job): place for job, place in zip(here, where) if not isinstance(place, str)}
        self._own(InProcessPacks(runs, packed, here), [job for job in here if id(job) in packed])
        self.hand_back({id(job): place for job, place in zip(here, where) if isinstance(place, str)},
                       here)
        rounds.trained_at(None, len(packed))
        self.trainers.append(self.own)

    def _own(self, trainer, jobs):
        self.trainers.append(trainer)
        for job in jobs:
            self.owner[id(job)] = trainer

    def hand_back(self, handed, jobs):
        """Jobs ``handed`` (``{id(job): reason}``) train by their own fit from now on."""
        for job in jobs:
            if id(job) in handed:
                self.owner[id(job)] = self.own
                self.own.add(job)
                self.reasons.setdefault(job.candidate, handed[id(job)])

    def __getitem__(self, job):
        return self.owner[id(job)]

    def train(self, jobs, until, last):
        """Train ``jobs`` to ``until(job)``: each trainer its own, a cluster's meanwhile."""
        def mine(trainer):
            return [job for job in jobs if self.owner[id(job)] is trainer]

        for trainer in self.trainers:
            if trainer is not self.own:
                self.hand_back(trainer.start(mine(trainer), until, last), jobs)
        self.own.start(mine(self.own), until, last)
        for trainer in self.trainers:
            handed = trainer.finish()
            if handed:
                self.hand_back(handed, jobs)
                self.own.start([job for job in jobs if id(job) in handed], until, last)

    def seconds(self, job):
        return sum(trainer.seconds.get(id(job), 0.0) for trainer in self.trainers)


def _check_rungs(rule, longest):
    """The rule's rungs for candidates of ``longest`` epochs (a warning when it prunes nothing)."""
    rungs = rule.rungs(longest)
    if len(rungs) < 2 and getattr(rule, "name", None) != "hyperband":
        # (a Hyperband bracket of one round trains its candidates to the end by design)
        warnings.warn(
            f"pruning={rule!r} prunes nothing here: candidates train for epochs={longest}, which "
            f"gives a single rung ({rungs}); pruning needs epochs of at least twice the "
            "rule's min_epochs (e.g. epochs=3 with SuccessiveHalving(min_epochs=1)).",
            UserWarning, stacklevel=3)
    return rungs


class _Round:
    """One pruned round's state: its jobs by candidate, who trains them, what each scored."""

    def __init__(self, rounds, candidates, jobs, reasons, numbers):
        self.rounds, self.search, self.candidates = rounds, rounds.search, candidates
        self.jobs, self.numbers = jobs, numbers
        self.X, self.y = indexable(*rounds.data[:2])
        self.scorers, refit_metric = search_scorers(self.search)
        self.scoring = rounds.scoring()
        self.names = score_names(self.scorers)
        self.metric = None if self.names is None else (
            refit_metric if refit_metric in self.names else self.names[0])
        self.by_candidate = {}
        for job in jobs:
            self.by_candidate.setdefault(job.candidate, []).append(job)
        self.longest = max(int(job.final.epochs) for job in jobs)
        self.trainers = _Trainers(rounds, jobs, reasons)
        store = rounds.store if rounds.store is not None and rounds.store[0] is not None else None
        self.store = store if numbers is not None else None
        self.stored = {} if self.store is None else self.store[0].rungs(self.store[1], numbers)
        self.info = {c: {"epochs": 0, "pruned": False, "rung_scores": {}} for c in self.by_candidate}
        self.fold_rungs = {id(job): [] for job in jobs}
        self.failed, self.to_restore = {}, {}

    def until(self, rung, last):
        """``until(job)``: the epoch a job trains to at ``rung`` (its own last epoch at the end)."""
        def until(job):
            epochs = int(job.final.epochs)
            return epochs if last else min(epochs, int(math.ceil(rung * epochs / self.longest)))
        return until

    def replayed(self, current, until, last):
        """The rung's scores from the store when it finished before the search stopped (its
        states restored as the next rung begins); else None."""
        if self.store is None or last:
            return None
        keys = [(self.numbers[job.candidate], job.fold, until(job)) for job in current]
        if not self.stored or not all(k in self.stored for k in keys):
            return None
        scores = {}
        for job, k in zip(current, keys):
            scores[id(job)] = {"test_scores": self.stored[k][0]}
            if self.stored[k][1]:
                self.to_restore[id(job)] = self.stored[k][1]
        return scores

    def trained_and_scored(self, current, until, last):
        """Train the rung's jobs and score the ones that neither failed nor diverged."""
        for job in current:  # resume from the last stored rung
            if id(job) in self.to_restore:
                self.trainers[job].restore(job, self.to_restore.pop(id(job)))
        self.trainers.train(current, until, last)
        scores = {}
        for job in current:
            trainer = self.trainers[job]
            failure = trainer.failure(job)
            if failure is not None:
                self.failed.setdefault(job.candidate, failure)
            if job.candidate in self.failed:
                continue
            if trainer.diverged(job):
                self.info[job.candidate]["epochs"] = trainer.trained(job)
                self.failed[job.candidate] = (
                    f"the training loss of {self.candidates[job.candidate]} became non-finite "
                    f"(diverged) after {trainer.trained(job)} epochs")
                continue
            scores[id(job)] = trainer.score(job, self.scoring, self.X, self.y, last,
                                            self.rounds.templates)
        return scores

    def record(self, alive, scores, rung, until, replay):
        """Each surviving candidate's mean score at this rung; their rung records."""
        means = {}
        for c in alive:
            if c in self.failed:
                continue
            folds = self.by_candidate[c]
            values = [_primary(scores[id(job)]["test_scores"], self.metric) for job in folds]
            for job, value in zip(folds, values):
                self.fold_rungs[id(job)].append([int(until(job)), value])
            means[c] = float(np.mean(values))
            self.info[c]["rung_scores"][int(rung)] = means[c]
            self.info[c]["epochs"] = max(self.fold_rungs[id(job)][-1][0] if replay
                                         else self.trainers[job].trained(job) for job in folds)
        return means

    def prune(self, alive, keep, means, scores, until, replay):
        """Stop the candidates the rule did not ``keep``; store the rung (scores, states)."""
        for c in alive:
            if c not in keep:
                self.info[c]["pruned"] = c not in self.failed
                for job in self.by_candidate[c]:  # the folds of a failed candidate stop too
                    self.trainers[job].stop(job)
        if self.store is not None and not replay:
            # every scored job's scores (to replay the decision), the survivors' states
            self.store[0].add_rungs(self.store[1], [
                (self.numbers[job.candidate], job.fold, until(job), scores[id(job)]["test_scores"],
                 self.trainers[job].state(job) if c in keep else b"")
                for c in means for job in self.by_candidate[c]])

    def results(self, final_scores):
        """``{fold_key: result}`` of every job, in ``_fit_and_score``'s format."""
        results, nan = {}, per_metric(self.names, np.nan)
        for job in self.jobs:
            c = job.candidate
            info = self.info[c]
            result = {"fit_time": self.trainers.seconds(job) + job.prep, "fit_error": None,
                      "_train": job.train, "epochs": info["epochs"], "pruned": info["pruned"],
                      "rung_scores": self.fold_rungs[id(job)]}
            if c in self.failed:
                result.update(failed_result(self.search, self.scorers, self.failed[c]))
            elif info["pruned"]:
                result.update(test_scores=nan, score_time=0.0)
                if self.search.return_train_score:
                    result["train_scores"] = nan
            else:
                result.update(final_scores[id(job)])
            results[fold_key(self.candidates[c], job.fold)] = result
        return results


def _primary(scores, metric):
    value = scores if metric is None else scores[metric]
    return float(value)


def pruned_round(rounds, candidates, known, rule, numbers=None):
    """Train one round's jobs rung by rung under ``rule``; score and prune between rungs.

    Packable jobs train as packs in this process, or on the workers of
    joblib's active Dask backend (:class:`skhp.packed.RungsOnCluster`: each
    rung a task per worker, the slots' states travelling as arrays); the
    others by their estimator's own fit, here, continued from rung to rung
    (:mod:`skhp.search._rung_trainers`).

    Parameters
    ----------
    rounds : RoundEvaluator
        The fit's rounds: its search (estimator, ``cv``, scorers, ``refit``,
        ``error_score``, ``return_train_score``, ``packing``,
        ``pack_size``), data, shared Keras models, the median rule's
        ``rung_record`` (completed candidates of this round are added) and
        the ``store`` rung states are written to (and resumed from).
    candidates : list of dict
    known : container of fold keys
        Jobs already known (replayed): not trained again.
    rule : SuccessiveHalving, MedianRule or BracketHalving
    numbers : list of int or None
        The candidates' trial numbers, for the store.

    Returns
    -------
    results : dict
        ``{fold_key: result}`` for :func:`skhp.search._sklearn.evaluating`.
    info : dict
        Per candidate index: ``epochs`` (trained, per fold), ``pruned``
        (bool) and ``rung_scores`` (``{epoch: mean score}``).
    reasons : dict
        ``{candidate index: reason}`` for candidates scikit-learn's loop trains.
    rungs : list of dict
        Per rung: ``epoch``, ``candidates`` scored there and ``kept``.
    """
    X, y, params = rounds.data
    jobs, reasons, _ = round_jobs(rounds.search, candidates, X, y, params, known,
                                  accept=_continuable)
    if not jobs:
        return {}, {}, reasons, []
    state = _Round(rounds, candidates, jobs, reasons, numbers)
    rung_list = _check_rungs(rule, state.longest)
    alive, final_scores, rungs_done = sorted(state.by_candidate), {}, []
    for index, rung in enumerate(rung_list):
        last = index == len(rung_list) - 1
        until = state.until(rung, last)
        current = [job for c in alive for job in state.by_candidate[c]]
        scores = state.replayed(current, until, last)
        replay = scores is not None
        if not replay:
            scores = state.trained_and_scored(current, until, last)
        means = state.record(alive, scores, rung, until, replay)
        if last:
            final_scores = scores
            rungs_done.append({"epoch": int(rung), "candidates": len(means), "kept": len(means)})
            break
        keep = set(rule.survivors(means, rung, rounds.rung_record))
        rungs_done.append({"epoch": int(rung), "candidates": len(means), "kept": len(keep)})
        state.prune(alive, keep, means, scores, until, replay)
        alive = [c for c in alive if c in means and c in keep]
    for c in state.by_candidate:
        if c not in state.failed and not state.info[c]["pruned"]:
            for epoch, score in state.info[c]["rung_scores"].items():
                rounds.rung_record.setdefault(epoch, []).append(score)
    return state.results(final_scores), state.info, reasons, rungs_done
