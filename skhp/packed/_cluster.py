"""Packs on a Dask cluster: a round's packable jobs trained on the workers.

Under joblib's ``"dask"`` backend (``with joblib.parallel_backend("dask"):
search.fit(X, y)``) a search's packable (candidate, fold) jobs are grouped
as they will pack (jobs likely to share a pack kept together, a costly
group split where that balances the workers better) and the groups go to
the workers longest first, the next to whichever worker finished one, one
training at a time per worker; each worker trains its group as packs sized to its own
memory (:func:`skhp.packed.train_packs` runs there) and scores them. The
search's data is scattered to the workers once per fit; a job that trains
on rows of it travels as its row indices; a worker keeps the models it
planned and traced for the fit's later rounds. Only scores come back, so a
worker lost mid-round costs time, not results: Dask runs its task again
elsewhere, with the same seeds. Pruned rounds train rung by rung there
(:class:`RungsOnCluster`).
"""

import asyncio
import concurrent.futures
import threading
import time
import uuid

import numpy as np

from skhp._rows import Rows
from skhp._sklearn import safe_indexing
from skhp.packed._packs import advance_packs, failed_alone, start_packs, train_packs

__all__ = ["dask_client", "ClusterData", "train_packs_on_cluster", "RungsOnCluster"]

def dask_client():
    """The Dask client of joblib's active ``"dask"`` backend, or None.

    Examples
    --------
    >>> dask_client() is None  # joblib's default backend
    True
    """
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return getattr(backend, "client", None) if type(backend).__name__ == "DaskDistributedBackend" else None


class ClusterData:
    """A search's ``X, y`` scattered to a cluster's workers once, for every round of one fit.

    Parameters
    ----------
    client : distributed.Client
    X, y : array-like
        The search's data (what its folds index).

    Examples
    --------
    >>> from distributed import Client  # doctest: +SKIP
    >>> data = ClusterData(Client(), X, y)  # doctest: +SKIP
    >>> data.result(data.submit(len, worker), len, worker)  # doctest: +SKIP
    """

    def __init__(self, client, X, y):
        self.client, self.X, self.y = client, X, y
        self.token = uuid.uuid4().hex  # what the workers keep for this fit is kept under it
        self._futures = None

    def futures(self):
        """The scattered ``(X, y)``, scattered on first use. Not broadcast: a broadcast waits
        for every worker the scheduler lists, forever for one killed meanwhile; a worker that
        needs the data fetches it once from a peer instead."""
        if self._futures is None:
            # fresh keys each time (not the data's hash): a copy scattered again after a loss
            # would otherwise take the lost copy's key, and tasks on it stay cancelled
            self._futures = self.client.scatter([self.X, self.y], hash=False)
        return self._futures

    def workers(self):
        """The addresses of the cluster's workers now, sorted (asked of the scheduler: the
        client's ``scheduler_info()`` can return the identity its periodic refresh fetched
        without workers)."""
        return sorted(self.client.nthreads())

    def submit(self, function, worker, *args):
        """A future of ``function(X, y, token, *args)`` on ``worker`` (pinned: the scheduler
        alone may queue two tasks on one worker; another takes it over if ``worker`` dies)."""
        X, y = self.futures()
        return self.client.submit(function, X, y, self.token, *args, pure=False, workers=[worker],
                                  allow_other_workers=True)

    def result(self, task, function, worker, *args):
        """``task``'s result (:meth:`submit` of the same arguments); when a lost worker took
        the task or the scattered data with it, the data is scattered and the task sent again."""
        for attempt in range(_ATTEMPTS):
            try:
                return self._wait(task)
            except BaseException as error:  # a cancelled future raises a BaseException
                if not _lost(error) or attempt == _ATTEMPTS - 1:
                    raise
                # a moment for the cluster to settle (a killed worker's restart, its data
                # released): sent again at once, a task could lose the fresh copy too
                time.sleep(0.2 * (attempt + 1))
                self._futures = None
                task = self.submit(function, worker, *args)

    def _wait(self, task):
        """``task.result()``; raises :class:`_DataLost` when the scattered data is lost while
        the task waits for it (the data has one copy: a task needing it would wait forever)."""
        while True:
            try:
                return task.result(timeout=_POLL_SECONDS)
            except (TimeoutError, asyncio.TimeoutError):  # one class from Python 3.11 on
                if any(f.status != "finished" for f in self._futures or ()):
                    raise _DataLost("the scattered data was lost with a worker") from None


class _DataLost(Exception):
    """The cluster lost the search's scattered data: scatter it again and resend the task."""


_ATTEMPTS = 5
#: How often a waiting task's scattered data is checked.
_POLL_SECONDS = 2


def _lost(error):
    """Whether ``error`` says the cluster lost a task (its worker, its data), not that the
    task failed: such a task is sent again."""
    return (isinstance(error, (asyncio.CancelledError, concurrent.futures.CancelledError,
                               _DataLost))
            or type(error).__name__ in {"KilledWorker", "CommClosedError", "FatalCommClosedError"})


def _worker_address():
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):  # not on a Dask worker
        return None


_KEPT = {"token": None}
_KEPT_LOCK = threading.Lock()


def _kept(token):
    """What this worker keeps across one fit's tasks (``token``, :class:`ClusterData`): the
    models its packs were planned from (``planned``) and the fitted estimators that lend
    their Keras model and traced call to the slots it scores (``templates``), so a
    round or rung plans and traces no model it had before. Only the latest fit's are kept."""
    with _KEPT_LOCK:
        if _KEPT["token"] != token:
            _KEPT.clear()
            _KEPT.update(token=token, planned={}, templates={}, lock=threading.Lock())
        return _KEPT


def _share_data(jobs, X, y):
    """``(final, X_train, y_train, weights)`` of travelling round jobs, on the worker."""
    def rows(train):  # the job's rows of the worker's X: its packs share that one copy
        return Rows(X, train) if isinstance(X, np.ndarray) else safe_indexing(X, train)

    return [(job.final, rows(job.train) if job.plain else job.X_train,
             np.asarray(safe_indexing(y, job.train)) if job.plain else job.y_fit, job.weights)
            for job in jobs]


def _train_share(X, y, token, jobs, pack_size, scoring=None):
    """A worker's share of a round: its jobs trained as packs and scored (runs on the worker).

    ``jobs`` are round jobs as they travel (``RoundJob.travelling`` of
    :mod:`skhp.search._jobs`); ``scoring``, the search's fold scorer
    (``scoring(job, X_train, y_train, out, X, y, templates)`` sets the scores in ``out`` and
    returns them), scores each slot that trained on its fold here, and its weights stay here.
    """
    worker, kept = _worker_address(), _kept(token)
    data = _share_data(jobs, X, y)
    with kept["lock"]:  # one share at a time on a worker (its threads share its kept models)
        outs = train_packs(data, pack_size, kept["planned"])
        for out, job, (_, X_train, y_train, _) in zip(outs, jobs, data):
            if not isinstance(out, dict):
                continue
            out["worker"] = worker
            if scoring is not None and not out["diverged"]:
                scoring(job, X_train, y_train, out, X, y, kept["templates"])
                del out["weights"], out["state"]  # scored here: the weights need not travel back
    return outs


def _rung_share(X, y, token, place, ids, jobs, states, untils, pack_size, scoring):
    """A worker's share of one rung of a pruned round (runs on the worker).

    ``place`` names the share (its round and number) and ``ids`` its jobs'
    indices in the round. When this worker trained the share's last rung,
    its packs continue as they are, the slots of pruned jobs stopped; else
    (the first rung, or the task moved from a lost worker) ``jobs``
    (travelling round jobs) are planned as packs and each slot is given its
    ``states`` entry (:meth:`PackRun.slot_state` of the last rung; None at
    the first). Every pack trains to its jobs' ``untils`` epoch and each slot
    is scored on its fold. Returns per job the reason it does not pack, or a
    dict: its ``state`` now, ``trained``, ``diverged``, ``seconds``,
    ``worker`` and, unless it diverged, its scores (see :func:`_score_here`).
    """
    worker, kept = _worker_address(), _kept(token)
    data = _share_data(jobs, X, y)
    with kept["lock"]:  # one share at a time on a worker (its threads share its kept models)
        rungs = kept.setdefault("rungs", {})
        for other in [key for key in rungs if key[0] != place[0]]:
            del rungs[other]  # an earlier round's packs
        runs, slots = rungs.get(place, ([], {}))
        if not all(i in slots and _at(runs, slots[i], state) for i, state in zip(ids, states)):
            runs, where = start_packs(data, pack_size, kept["planned"])
            slots = {i: at for i, at in zip(ids, where)}
            for at, state in zip(where, states):
                if not isinstance(at, str) and state is not None:
                    runs[at[0]].restore(at[1], state)
        wanted = set(ids)
        for i, at in slots.items():
            if i not in wanted and not isinstance(at, str):
                runs[at[0]].stop(at[1])  # pruned in the search's process
        rungs[place] = runs, slots
        until, members = {}, {}  # per pack: the rung's epoch, the slots it trains for the search
        for at, epoch in zip([slots[i] for i in ids], untils):
            if not isinstance(at, str):
                until[id(runs[at[0]])] = epoch
                members[at[0]] = members.get(at[0], 0) + 1
        seconds = advance_packs(runs, lambda run: until.get(id(run), run.epoch))
        outs = []
        for i, job, (_, X_train, y_train, _) in zip(ids, jobs, data):
            at = slots[i]
            if isinstance(at, str):
                outs.append(at)
                continue
            run, slot = runs[at[0]], at[1]
            if slot in run.failed:
                outs.append(failed_alone(run, slot))
                continue
            out = {"state": run.slot_state(slot), "trained": int(run.trained[slot]),
                   "diverged": bool(run.diverged[slot]), "worker": worker,
                   "seconds": seconds[at[0]] / members[at[0]]}
            if not out["diverged"]:
                scored = {**run.result(slot), "key": run.shapes[slot]}
                out.update(scoring(job, X_train, y_train, scored, X, y, kept["templates"]))
            outs.append(out)
    return outs


def _at(runs, at, state):
    """Whether the kept slot ``at`` of ``runs`` is where ``state`` (the search's copy) says."""
    if isinstance(at, str) or state is None:
        return False
    run = runs[at[0]]
    return run.epoch == state["epoch"] and int(run.trained[at[1]]) == state["trained"]


#: Rows of a step that cost as much as the step's own overhead (the MLP (64,) on digits,
#: one CPU thread: ~0.3 ms a step, ~1.5 us more per slot and batch row).
ROWS_PER_OVERHEAD = 200


def _groups_and_costs(jobs):
    """Per job, without building its model: what likely decides its pack (model, batch size,
    epochs, optimizer; jobs agreeing here go to one worker, where they pack together), and
    its slot's ``(steps, rows a step)`` (a pack's time is its steps, each costing an overhead
    plus its slots' batch rows, see :data:`ROWS_PER_OVERHEAD`)."""
    keys, costs = [], []
    for job in jobs:
        settings, n = job.final.fit_settings(), len(job.train)
        batch = settings.batch_size_for(n)
        keys.append(settings.group + (batch, settings.epochs))
        costs.append((settings.epochs * settings.steps_for(n), batch))
    return keys, costs


def _group_cost(group, costs):
    """The time of one pack of the jobs ``group``, in step overheads."""
    return max(costs[i][0] for i in group) * (
        1 + sum(costs[i][1] for i in group) / ROWS_PER_OVERHEAD)


def _longest_first(groups, costs, n_workers):
    """Groups given to ``n_workers`` longest first, each to the least loaded: ``(makespan, shares)``."""
    loads = [[0.0, []] for _ in range(min(n_workers, len(groups)))]
    for group in sorted(groups, key=lambda g: _group_cost(g, costs), reverse=True):
        load = min(loads, key=lambda item: item[0])
        load[0] += _group_cost(group, costs)
        load[1].extend(group)
    return max(load for load, _ in loads), [sorted(share) for _, share in loads if share]


def _packs(keys, costs, n_workers):
    """Job indices grouped as they will pack: jobs of one key together; the costliest group
    split in two while that shortens the longest of ``n_workers`` shares (given longest first).

    ``costs`` are the jobs' ``(steps, batch rows)`` (:func:`_cost`); returned longest first.

    Examples
    --------
    >>> _packs(["a"] * 6 + ["b"] * 3, [(10, 32)] * 6 + [(5, 32)] * 3, 2)
    [[0, 1, 2, 3, 4, 5], [6, 7, 8]]
    >>> _packs(["a"] * 4, [(10, 32)] * 4, 2)
    [[0, 1], [2, 3]]
    """
    groups = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    groups = list(groups.values())
    makespan, _ = _longest_first(groups, costs, n_workers)
    while n_workers > 1:
        largest = max(groups, key=lambda g: _group_cost(g, costs))
        if len(largest) < 2:
            break
        half = (len(largest) + 1) // 2
        split = [g for g in groups if g is not largest] + [largest[:half], largest[half:]]
        shorter, _ = _longest_first(split, costs, n_workers)
        if shorter >= makespan * 0.97:  # not worth a second pack's overheads
            break
        groups, makespan = split, shorter
    return sorted(groups, key=lambda g: _group_cost(g, costs), reverse=True)


def train_packs_on_cluster(data, jobs, pack_size="auto", scoring=None):
    """:func:`skhp.packed.train_packs`'s results for ``jobs``, trained on the cluster's workers.

    The jobs are grouped as they will pack (:func:`_packs`); the longest
    groups go first, each worker has two in flight (the next one waiting
    there), and each further group goes to the worker that finished one
    (pinned to it: the scheduler alone may queue many on one worker; it
    lets another worker take a task over when its own dies).

    Parameters
    ----------
    data : ClusterData
        The search's data, scattered once per fit.
    jobs : list of (candidate, job)
        A search's round jobs as they travel (``RoundJob.travelling``:
        ``final``, ``estimator``, ``weights``, ``train`` and ``test``
        indices, and its own ``X_train``, ``y_fit`` unless it is ``plain``:
        trained on ``data``'s rows ``train`` as they are).
    pack_size : int or "auto"
        Most slots of one pack; ``"auto"`` sizes each worker's packs to its memory.
    scoring : callable or None
        The search's fold scorer (:class:`skhp.search._scoring.FoldScorer`):
        each fold is scored on its worker (``test_scores``, ``train_scores``,
        ``score_time`` in its result; weights and state stay there).

    Returns
    -------
    list
        Per job, in order: ``train_packs``' dict (plus ``fitted``, the
        attributes the pack set on the estimator, and ``worker``), or the
        reason the job did not pack.

    Examples
    --------
    What a search's round does under joblib's ``"dask"`` backend:

    >>> outs = train_packs_on_cluster(ClusterData(client, X, y), jobs, "auto",
    ...                               scoring)  # doctest: +SKIP
    """
    from distributed import as_completed

    workers = data.workers()
    waiting = _packs(*_groups_and_costs([job for _, job in jobs]), max(1, len(workers)))

    def send(worker):  # the longest group left, to a worker that is free
        group = waiting.pop(0)
        args = ([jobs[i][1] for i in group], pack_size, scoring)
        task = data.submit(_train_share, worker, *args)
        running[task] = group, worker, args
        return task

    # two groups in flight per worker: the next one waits there, so no worker idles between
    # groups; the rest go to whichever worker finishes one
    running, outs = {}, [None] * len(jobs)
    done = as_completed([send(worker) for _ in range(2) for worker in workers if waiting])
    for task in done:
        group, worker, args = running.pop(task)
        for i, out in zip(group, data.result(task, _train_share, worker, *args)):
            outs[i] = out
        if waiting:
            done.add(send(worker))
    return outs


class RungsOnCluster:
    """A pruned round's packable jobs trained rung by rung on a cluster's workers.

    The jobs are shared out over the workers once per round (jobs likely to
    share a pack together, shares balanced by their steps and batch rows).
    At each rung every worker trains its share's surviving jobs to the rung
    and scores every slot on its fold; only scores and each slot's state
    (its weights, optimizer and early-stopping state: arrays) come back. The
    rule's decision is taken in the search process, and the next rung goes
    to the same worker with the survivors' states: there the packs continue
    as they are, the pruned slots stopped (a pack trains only its active
    slots). A worker that has not got the share's packs — the task moved
    from a lost worker — plans them anew and gives each slot its state, so a
    worker lost mid-rung costs that rung's time, not results (Dask runs the
    task again with the same states and seeds); the states are also what
    storage keeps.

    Parameters
    ----------
    data : ClusterData
    jobs : list of RoundJob
        Travelling round jobs (``RoundJob.travelling``).
    pack_size : int or "auto"
    scoring : FoldScorer
        The search's fold scorer (its ``with_train_scores(last)``: train
        scores are taken at the last rung only).

    Examples
    --------
    A search's pruned round does, at each rung (see :mod:`skhp.search._rungs`):

    >>> rungs = RungsOnCluster(data, jobs, "auto", scoring)  # doctest: +SKIP
    >>> tasks = rungs.submit(alive, states, untils, last=False)  # doctest: +SKIP
    >>> results = rungs.gather(tasks)  # {job index: scores and state}  # doctest: +SKIP
    """

    def __init__(self, data, jobs, pack_size, scoring):
        self.data, self.jobs, self.pack_size, self.scoring = data, jobs, pack_size, scoring
        self.round = uuid.uuid4().hex  # names this round's packs kept on the workers
        workers = data.workers()
        keys, costs = _groups_and_costs(jobs)
        n = max(1, len(workers))
        _, shares = _longest_first(_packs(keys, costs, n), costs, n)
        self.shares = list(zip(shares, workers))

    def submit(self, indices, states, untils, last):
        """Start one rung for jobs ``indices`` (from ``states``, to epochs ``untils``, by job
        index); :meth:`gather` its results."""
        scoring = self.scoring.with_train_scores(last)
        chosen, tasks = set(indices), []
        for number, (share, worker) in enumerate(self.shares):
            mine = [i for i in share if i in chosen]
            if mine:
                args = ((self.round, number), mine, [self.jobs[i] for i in mine],
                        [states[i] for i in mine], [untils[i] for i in mine], self.pack_size,
                        scoring)
                tasks.append((mine, worker, args, self.data.submit(_rung_share, worker, *args)))
        return tasks

    def gather(self, tasks):
        """``{job index: result}`` of a rung :meth:`submit` started (see :func:`_rung_share`)."""
        return {i: out for mine, worker, args, task in tasks
                for i, out in zip(mine, self.data.result(task, _rung_share, worker, *args))}
