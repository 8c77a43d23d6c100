"""Where the jobs of a pruned round train, rung by rung: one protocol, three trainers.

A pruned round (:func:`skhp.search._rungs.pruned_round`) trains its
(candidate, fold) jobs to the next rung, scores them, and stops the
candidates its rule prunes. Every job belongs to one :class:`RungTrainer`:

- :class:`OwnFits`: each job by its estimator's own fit, continued from rung
  to rung (``train_epochs``), in this process;
- :class:`InProcessPacks`: the jobs as slots of packs (:mod:`skhp.packed`)
  in this process;
- :class:`ClusterPacks`: the jobs as slots of packs on the workers of a Dask
  cluster (:class:`skhp.packed.RungsOnCluster`), scored there.

A job a trainer cannot train (its pack failed, it does not pack on the
worker) is handed back with the reason from :meth:`RungTrainer.start` or
:meth:`RungTrainer.finish`, and trains by its own fit from then on.
"""

import pickle
import time

import numpy as np

from skhp.search._scoring import lend_model, scores_of

__all__ = ["RungTrainer", "OwnFits", "InProcessPacks", "ClusterPacks"]


class RungTrainer:
    """The protocol of a pruned round's trainers (see the module's docstring).

    ``until(job)`` gives the epoch a job trains to at the current rung.
    Training may run between :meth:`start` and :meth:`finish` (a cluster's
    workers); both return ``{id(job): reason}`` for the jobs handed back.
    ``seconds`` holds each job's share of the time spent training it.
    """

    def __init__(self):
        self.seconds = {}

    def start(self, jobs, until, last=False):
        """Begin training ``jobs`` (this trainer's, still in the round) to ``until(job)``;
        ``last``: the round's last rung."""
        raise NotImplementedError

    def finish(self):
        """Wait for the training :meth:`start` began."""
        return {}

    def trained(self, job):
        """Epochs ``job`` has trained (fewer than asked once early stopping ended it)."""
        raise NotImplementedError

    def diverged(self, job):
        """Whether ``job``'s training loss became non-finite."""
        raise NotImplementedError

    def failure(self, job):
        """Why ``job``'s training failed (its fit raised), or None."""
        return None

    def score(self, job, scoring, X, y, last, templates):
        """``job``'s fold scores now (``test_scores``, ``score_time``; train scores at the last
        rung when the search asks for them)."""
        raise NotImplementedError

    def stop(self, job):
        """Stop training ``job`` (pruned)."""

    def state(self, job):
        """``job``'s training state as bytes (storage keeps it to resume the round)."""
        raise NotImplementedError

    def restore(self, job, blob):
        """Put ``job`` back in the state :meth:`state` gave."""
        raise NotImplementedError

    def _spent(self, job, seconds):
        self.seconds[id(job)] = self.seconds.get(id(job), 0.0) + seconds


class OwnFits(RungTrainer):
    """Jobs trained by their estimator's own fit, continued from rung to rung, here.

    Parameters
    ----------
    error_score : "raise" or float
        The search's: with ``"raise"`` a failing fit raises, else it fails its job.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from skhp import KerasRegressor
    >>> X = np.random.default_rng(0).normal(size=(30, 2))
    >>> job = SimpleNamespace(final=KerasRegressor(hidden_layer_sizes=(3,), epochs=4),
    ...                       X_train=X, y_fit=X[:, 0], weights=None)
    >>> trainer = OwnFits(np.nan)
    >>> trainer.add(job); trainer.start([job], lambda job: 2); trainer.trained(job)
    {}
    2
    """

    def __init__(self, error_score):
        super().__init__()
        self.error_score = error_score
        self.epoch, self.stopped, self.errors = {}, {}, {}

    def add(self, job):
        """Train ``job`` here from now on (from its start, unless it trained here before)."""
        self.epoch.setdefault(id(job), 0)
        self.stopped.setdefault(id(job), False)

    def start(self, jobs, until, last=False):
        for job in jobs:
            key, final = id(job), job.final
            if self.stopped[key] or key in self.errors or until(job) <= self.epoch[key]:
                continue
            begin = time.perf_counter()
            try:
                final.train_epochs(job.X_train, job.y_fit, job.weights,
                                   epochs=until(job) - self.epoch[key],
                                   initial_epoch=self.epoch[key])
            except Exception as err:  # a failing fit fails its candidate, as in scikit-learn
                if self.error_score == "raise":
                    raise
                self.errors[key] = f"{type(err).__name__}: {err}"
                continue
            finally:
                self._spent(job, time.perf_counter() - begin)
            if len(final.history_.get("loss", ())) < until(job):
                self.stopped[key] = True  # its early stopping ended the fit
            self.epoch[key] = until(job)
        return {}

    def trained(self, job):
        return len(job.final.history_.get("loss", ()))

    def diverged(self, job):
        losses = job.final.history_.get("loss", [])
        return bool(getattr(job.final, "diverged_", False)) or not np.all(np.isfinite(losses))

    def failure(self, job):
        return self.errors.get(id(job))

    def score(self, job, scoring, X, y, last, templates):
        return scoring.with_train_scores(last).score(job, X, y)

    def state(self, job):
        return pickle.dumps({"epoch": self.epoch[id(job)], "stopped": self.stopped[id(job)],
                             "final": job.final})

    def restore(self, job, blob):
        state = pickle.loads(blob)
        vars(job.final).update(vars(state["final"]))
        self.epoch[id(job)], self.stopped[id(job)] = state["epoch"], state["stopped"]


class InProcessPacks(RungTrainer):
    """Jobs trained as slots of packs in this process.

    Parameters
    ----------
    runs : list of PackRun
        The round's packs (:func:`skhp.packed.start_packs`).
    slots : dict
        ``{id(job): (pack number, slot)}``.
    jobs : list
        The jobs in the order ``runs``' ``members`` index them.
    """

    def __init__(self, runs, slots, jobs):
        super().__init__()
        self.runs, self.slots, self.jobs = runs, slots, jobs

    def _at(self, job):
        number, slot = self.slots[id(job)]
        return self.runs[number], slot

    def start(self, jobs, until, last=False):
        from skhp.packed import advance_packs, failed_alone

        mine = [job for job in jobs if id(job) in self.slots]
        if not mine:
            return {}
        epoch = {id(self.runs[self.slots[id(job)][0]]): until(job) for job in mine}
        before = [np.flatnonzero(run.active) for run in self.runs]
        seconds = advance_packs(self.runs, lambda run: epoch.get(id(run), run.epoch))
        for run, active, spent in zip(self.runs, before, seconds):
            for slot in active:  # a pack's time is shared by the slots it trained
                self._spent(self.jobs[run.members[slot]], spent / len(active))
        handed = {}
        for job in mine:
            run, slot = self._at(job)
            if slot in run.failed:  # its pack failed, and so did it alone: its own fit
                handed[id(job)] = failed_alone(run, slot)
                del self.slots[id(job)]
        return handed

    def trained(self, job):
        run, slot = self._at(job)
        return int(run.trained[slot])

    def diverged(self, job):
        run, slot = self._at(job)
        return bool(run.diverged[slot])

    def score(self, job, scoring, X, y, last, templates):
        run, slot = self._at(job)
        lend_model(job.final, job.X_train, job.y_fit, {**run.result(slot), "key": run.shapes[slot]},
                   templates)
        return scoring.with_train_scores(last).score(job, X, y)

    def stop(self, job):
        run, slot = self._at(job)
        run.stop(slot)

    def state(self, job):
        run, slot = self._at(job)
        return pickle.dumps(run.slot_state(slot))

    def restore(self, job, blob):
        run, slot = self._at(job)
        run.restore(slot, pickle.loads(blob))


class ClusterPacks(RungTrainer):
    """Jobs trained as slots of packs on a cluster's workers, scored there.

    The state each job ended its last rung with is held here and travels
    with its next rung (a stopped job is sent no further rung).

    Parameters
    ----------
    cluster : RungsOnCluster
    jobs : list
        The jobs, in the order ``cluster`` numbers them.
    counted : callable
        ``counted(worker)``: a job started training on ``worker``.
    """

    def __init__(self, cluster, jobs, counted):
        super().__init__()
        self.cluster, self.counted = cluster, counted
        self.index = {id(job): n for n, job in enumerate(jobs)}
        self.jobs = jobs
        self.states, self.scores, self.tasks = {}, {}, []

    def start(self, jobs, until, last=False):
        going = [job for job in jobs if id(job) in self.index]
        self.tasks = self.cluster.submit(
            [self.index[id(job)] for job in going],
            {self.index[id(job)]: self.states.get(id(job)) for job in going},
            {self.index[id(job)]: until(job) for job in going}, last) if going else []
        return {}

    def finish(self):
        handed = {}
        for i, out in self.cluster.gather(self.tasks).items() if self.tasks else ():
            job = self.jobs[i]
            if isinstance(out, str):  # it does not pack after all: its own fit, here
                handed[id(job)] = out
                del self.index[id(job)]
                continue
            if id(job) not in self.states:
                self.counted(out["worker"])
            self.states[id(job)], self.scores[id(job)] = out.pop("state"), out
            self._spent(job, out["seconds"])
        self.tasks = []
        return handed

    def trained(self, job):
        state = self.states.get(id(job))
        return 0 if state is None else int(state["trained"])

    def diverged(self, job):
        state = self.states.get(id(job))
        return bool(state is not None and state["diverged"])

    def score(self, job, scoring, X, y, last, templates):
        return scores_of(self.scores[id(job)])

    def state(self, job):
        return pickle.dumps(self.states.get(id(job)))

    def restore(self, job, blob):
        self.states[id(job)] = pickle.loads(blob)
