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
import pickle
import time
import warnings

import numpy as np
from sklearn.utils.validation import indexable

from skhp.search._evaluate import (failed_result, lend_model, per_metric, round_jobs, score_job,
                                   score_names)
from skhp.search._sklearn import fold_key

__all__ = ["pruned_round"]


def _continuable(final):
    """None when ``final`` trains rung by rung here (an skhp estimator), else why not."""
    from skhp.estimators import KerasClassifier, KerasRegressor

    if isinstance(final, (KerasClassifier, KerasRegressor)):
        return None
    return f"{type(final).__name__} is not an skhp estimator: it trains all its epochs, unpruned"


class _Ordinary:
    """A job its skhp estimator trains itself, continued from rung to rung (warm start)."""

    def __init__(self, job):
        self.job, self.epoch, self.seconds, self.stopped = job, 0, 0.0, False

    def advance(self, until):
        final = self.job.final
        if self.stopped or until <= self.epoch:
            return
        start = time.perf_counter()
        final._fit(self.job.X_train, self.job.y_fit, self.job.weights, warm_start=self.epoch > 0,
                   epochs=until - self.epoch, initial_epoch=self.epoch)
        self.seconds += time.perf_counter() - start
        if len(final.history_.get("loss", ())) < until:
            self.stopped = True  # its early stopping ended the fit
        self.epoch = until

    @property
    def diverged(self):
        losses = self.job.final.history_.get("loss", [])
        return bool(getattr(self.job.final, "diverged_", False)) or not np.all(np.isfinite(losses))

    @property
    def trained(self):
        return len(self.job.final.history_.get("loss", ()))

    def state(self):
        return pickle.dumps({"epoch": self.epoch, "stopped": self.stopped, "final": self.job.final})

    def restore(self, blob):
        state = pickle.loads(blob)
        vars(self.job.final).update(vars(state["final"]))
        self.epoch, self.stopped = state["epoch"], state["stopped"]


class _Packed:
    """A job trained as one slot of a :class:`skhp.packed.PackRun`."""

    def __init__(self, job, run, slot):
        self.job, self.run, self.slot, self.seconds = job, run, slot, 0.0

    @property
    def diverged(self):
        return bool(self.run.diverged[self.slot])

    @property
    def trained(self):
        return int(self.run.trained[self.slot])

    def stop(self):
        self.run.stop(self.slot)

    def state(self):
        return pickle.dumps(self.run.slot_state(self.slot))

    def restore(self, blob):
        self.run.restore(self.slot, pickle.loads(blob))


class _Remote:
    """A job trained as a slot of a pack on a cluster's worker (:class:`skhp.packed.RungsOnCluster`):
    the state it ended its last rung with is held here and travels with its next rung (a
    stopped job is sent no further rung)."""

    def __init__(self, job, index):
        self.job, self.index, self.seconds = job, index, 0.0
        self.slot_state = self.scores = None

    @property
    def diverged(self):
        return bool(self.slot_state is not None and self.slot_state["diverged"])

    @property
    def trained(self):
        return 0 if self.slot_state is None else int(self.slot_state["trained"])

    def state(self):
        return pickle.dumps(self.slot_state)

    def restore(self, blob):
        self.slot_state = pickle.loads(blob)


def _on_cluster(rounds, jobs):
    """The jobs of a pruned round that go to the cluster's workers (they pack), their
    :class:`_Remote` trainers, and the :class:`RungsOnCluster` that trains them; or nothing."""
    from skhp.packed import RungsOnCluster, pack_reason, seed_or_fresh

    cluster = rounds.cluster() if rounds.search.packing is not False else None
    remote = [job for job in jobs if cluster is not None and pack_reason(job.final) is None]
    if not remote:
        return [], {}, None
    for job in remote:
        if job.final.random_state is None:
            # one seed for every rung (a share that moves to another worker is planned
            # again there), drawn fresh as a fit with random_state=None draws it
            job.final.random_state = seed_or_fresh(None)
    trainers = {id(job): _Remote(job, n) for n, job in enumerate(remote)}
    return remote, trainers, RungsOnCluster(cluster, [job.travelling for job in remote],
                                            rounds.search.pack_size, rounds.scoring())


def _primary(scores, metric):
    value = scores if metric is None else scores[metric]
    return float(value)


def pruned_round(rounds, candidates, known, rule, numbers=None):
    """Train one round's jobs rung by rung under ``rule``; score and prune between rungs.

    Packable jobs train as packs in this process, or on the workers of
    joblib's active Dask backend (:class:`skhp.packed.RungsOnCluster`: each
    rung a task per worker, the slots' states travelling as arrays); the
    others by their estimator's own fit, here, continued from rung to rung.

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
    from skhp.packed import advance_packs, failed_alone, start_packs
    from skhp.packed._cluster import scores_of

    search = rounds.search
    X, y, params = rounds.data
    record, templates = rounds.rung_record, rounds.templates
    store = rounds.store if rounds.store is not None and rounds.store[0] is not None else None
    jobs, reasons, _ = round_jobs(search, candidates, X, y, params, known, accept=_continuable)
    if not jobs:
        return {}, {}, reasons, []
    X, y = indexable(X, y)
    scorers, refit_metric = search._get_scorers()
    names = score_names(scorers)
    metric = None if names is None else (refit_metric if refit_metric in names else names[0])

    remote, workers, cluster = _on_cluster(rounds, jobs)
    here = [job for job in jobs if id(job) not in workers]
    # start_packs says why a job does not pack; those train by their own fit
    runs, where = (start_packs([job.data for job in here], search.pack_size)
                   if search.packing is not False else ([], ["packing=False"] * len(here)))
    for job, place in zip(here, where):
        if isinstance(place, str):
            workers[id(job)] = _Ordinary(job)
            reasons.setdefault(job.candidate, place)
        else:
            workers[id(job)] = _Packed(job, runs[place[0]], place[1])
    rounds.trained_at(None, sum(not isinstance(place, str) for place in where))

    by_candidate = {}
    for job in jobs:
        by_candidate.setdefault(job.candidate, []).append(job)
    longest = max(int(job.final.epochs) for job in jobs)
    rung_list = rule.rungs(longest)
    if len(rung_list) < 2 and getattr(rule, "name", None) != "hyperband":
        # (a Hyperband bracket of one round trains its candidates to the end by design)
        warnings.warn(
            f"pruning={rule!r} prunes nothing here: candidates train for epochs={longest}, which "
            f"gives a single rung ({rung_list}); pruning needs epochs of at least twice the "
            "rule's min_epochs (e.g. epochs=3 with SuccessiveHalving(min_epochs=1)).",
            UserWarning, stacklevel=2)

    def target(epochs, r, last):
        return int(epochs) if last else min(int(epochs), int(math.ceil(r * epochs / longest)))

    alive = sorted(by_candidate)
    info = {c: {"epochs": 0, "pruned": False, "rung_scores": {}} for c in alive}
    fold_rungs = {id(job): [] for job in jobs}
    failed, final_scores, rungs_done = {}, {}, []
    stored = {} if store is None or numbers is None else store[0].rungs(store[1], numbers)
    to_restore = {}
    for index, r in enumerate(rung_list):
        last = index == len(rung_list) - 1
        current = [job for c in alive for job in by_candidate[c]]
        keys = [(numbers[job.candidate], job.fold, target(job.final.epochs, r, last))
                if numbers is not None else None for job in current]
        replay = not last and stored and all(k in stored for k in keys)
        scores = {}
        if replay:  # this rung finished before the search stopped: its scores, its states
            for job, k in zip(current, keys):
                scores[id(job)] = {"test_scores": stored[k][0]}
                if stored[k][1]:
                    to_restore[id(job)] = stored[k][1]
        else:
            for job in current:  # resume from the last stored rung
                if id(job) in to_restore:
                    workers[id(job)].restore(to_restore.pop(id(job)))
            going = [workers[id(job)] for job in current if isinstance(workers[id(job)], _Remote)]
            tasks = cluster.submit(
                [w.index for w in going], {w.index: w.slot_state for w in going},
                {w.index: target(w.job.final.epochs, r, last) for w in going}, last) if going else []
            before = [np.flatnonzero(run.active) for run in runs]
            seconds = advance_packs(runs, lambda run: target(run.epochs, r, last))
            for run, slots, s in zip(runs, before, seconds):
                for slot in slots:  # a pack's time is shared by the slots it trained
                    workers[id(here[run.members[slot]])].seconds += s / len(slots)

            def advance(job):
                try:
                    workers[id(job)].advance(target(job.final.epochs, r, last))
                except Exception as err:  # a failing fit fails its candidate, as in scikit-learn
                    if search.error_score == "raise":
                        raise
                    failed.setdefault(job.candidate, f"{type(err).__name__}: {err}")

            for job in current:
                worker = workers[id(job)]
                if isinstance(worker, _Packed) and worker.slot in worker.run.failed:
                    # its pack failed, and so did it alone: its own fit, from the start
                    workers[id(job)] = _Ordinary(job)
                    reasons.setdefault(job.candidate, failed_alone(worker.run, worker.slot))
                if isinstance(workers[id(job)], _Ordinary):
                    advance(job)
            for i, out in cluster.gather(tasks).items() if tasks else ():
                job = remote[i]
                if isinstance(out, str):  # it does not pack after all: its own fit, here
                    workers[id(job)] = _Ordinary(job)
                    reasons.setdefault(job.candidate, out)
                    advance(job)
                    continue
                worker = workers[id(job)]
                if worker.slot_state is None:
                    rounds.trained_at(out["worker"])
                worker.slot_state, worker.scores = out.pop("state"), out
                worker.seconds += out["seconds"]
            for job in current:
                worker = workers[id(job)]
                if job.candidate in failed:
                    continue
                if worker.diverged:
                    info[job.candidate]["epochs"] = worker.trained
                    failed[job.candidate] = (
                        f"the training loss of {candidates[job.candidate]} became non-finite "
                        f"(diverged) after {worker.trained} epochs")
                    continue
                if isinstance(worker, _Remote):  # scored on its worker
                    scores[id(job)] = scores_of(worker.scores)
                    continue
                if isinstance(worker, _Packed):
                    out = {**worker.run.result(worker.slot), "key": worker.run.shapes[worker.slot]}
                    lend_model(job.final, job.X_train, job.y_fit, out, templates)
                start = time.perf_counter()
                scores[id(job)] = score_job(search, job, scorers, X, y,
                                            train_scores=last and search.return_train_score)
                scores[id(job)]["score_time"] = time.perf_counter() - start
        means = {}
        for c in alive:
            if c in failed:
                continue
            values = [_primary(scores[id(job)]["test_scores"], metric) for job in by_candidate[c]]
            for job, value in zip(by_candidate[c], values):
                fold_rungs[id(job)].append([int(target(job.final.epochs, r, last)), value])
            means[c] = float(np.mean(values))
            info[c]["rung_scores"][int(r)] = means[c]
            info[c]["epochs"] = max(fold_rungs[id(job)][-1][0] if replay else workers[id(job)].trained
                                    for job in by_candidate[c])
        survivors = [c for c in alive if c in means]
        if last:
            final_scores = scores
            rungs_done.append({"epoch": int(r), "candidates": len(means), "kept": len(means)})
            break
        keep = set(rule.survivors(means, r, record))
        rungs_done.append({"epoch": int(r), "candidates": len(means), "kept": len(keep)})
        for c in alive:
            if c not in keep:
                info[c]["pruned"] = c not in failed
                for job in by_candidate[c]:  # the folds of a failed candidate stop too
                    if isinstance(workers[id(job)], _Packed):
                        workers[id(job)].stop()
        if store is not None and numbers is not None and not replay:
            # every scored job's scores (to replay the decision), the survivors' states
            store[0].add_rungs(store[1], [
                (numbers[job.candidate], job.fold, target(job.final.epochs, r, last),
                 scores[id(job)]["test_scores"], workers[id(job)].state() if c in keep else b"")
                for c in means for job in by_candidate[c]])
        alive = [c for c in survivors if c in keep]

    results = {}
    nan = per_metric(names, np.nan)
    for job in jobs:
        c, worker = job.candidate, workers[id(job)]
        result = {"fit_time": worker.seconds + job.prep, "fit_error": None, "_train": job.train,
                  "epochs": info[c]["epochs"], "pruned": info[c]["pruned"],
                  "rung_scores": fold_rungs[id(job)]}
        if c in failed:
            result.update(failed_result(search, scorers, failed[c]))
        elif info[c]["pruned"]:
            result.update(test_scores=nan, score_time=0.0)
            if search.return_train_score:
                result["train_scores"] = nan
        else:
            result.update(final_scores[id(job)])
        results[fold_key(candidates[c], job.fold)] = result
    for c in by_candidate:
        if c not in failed and not info[c]["pruned"]:
            for epoch, score in info[c]["rung_scores"].items():
                record.setdefault(epoch, []).append(score)
    return results, info, reasons, rungs_done
