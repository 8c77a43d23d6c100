"""Packs on a Dask cluster: a round's packable jobs trained on the workers.

Under joblib's ``"dask"`` backend (``with joblib.parallel_backend("dask"):
search.fit(X, y)``) a search's packable (candidate, fold) jobs are split
over the cluster's workers, jobs likely to share a pack kept together and
balanced by their steps, and each worker trains its share as packs sized
to its own memory (:func:`skhp.packed.train_packs` runs there). The search's data is
scattered to the workers once per fit; a job that trains on rows of it
travels as its row indices. Results come back as arrays (weights, state,
history), so a worker lost mid-round costs time, not results: Dask runs
its task again elsewhere, with the same seeds.
"""

import numpy as np

__all__ = ["dask_client", "ClusterData", "train_packs_on_cluster", "RungsOnCluster"]

# Attributes a pack sets on a slot's estimator that its fitted form keeps (see as_fitted).
FITTED = ("_seed", "learning_rate_", "schedule_", "lottery_losses_", "lottery_best_")


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
    """

    def __init__(self, client, X, y):
        self.client, self.X, self.y = client, X, y
        self._futures = None

    def futures(self):
        """The scattered ``(X, y)`` (scattered on first use, to every worker)."""
        if self._futures is None:
            self._futures = self.client.scatter([self.X, self.y], broadcast=True)
        return self._futures


def _worker_address():
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):  # not on a Dask worker
        return None


def _share_data(jobs, X, y):
    """``(final, X_train, y_train, weights)`` of travelling round jobs, on the worker."""
    from sklearn.utils import _safe_indexing

    return [(job.final, _safe_indexing(X, job.train) if job.plain else job.X_train,
             np.asarray(_safe_indexing(y, job.train)) if job.plain else job.y_fit, job.weights)
            for job in jobs]


def _score_here(job, X_train, y_train, out, X, y, scoring, templates):
    """Score a slot's result ``out`` on its fold, as the search would, and set ``test_scores``
    (``train_scores`` when asked) and ``score_time`` in ``out``."""
    import time

    from sklearn.utils import _safe_indexing

    from skhp.search._evaluate import lend_model
    from skhp.search._sklearn import score_fold

    scorers, error_score, train_scores = scoring
    lend_model(job.final, X_train, y_train, out, templates)
    start = time.perf_counter()
    out["test_scores"] = score_fold(job.estimator, _safe_indexing(X, job.test),
                                    _safe_indexing(y, job.test), scorers, error_score)
    if train_scores:
        out["train_scores"] = score_fold(job.estimator, _safe_indexing(X, job.train),
                                         _safe_indexing(y, job.train), scorers, error_score)
    out["score_time"] = time.perf_counter() - start


def _train_share(jobs, pack_size, X, y, scoring=None):
    """A worker's share of a round: its jobs trained as packs and scored (runs on the worker).

    ``jobs`` are round jobs as they travel (``RoundJob.travelling`` of
    :mod:`skhp.search._evaluate`); ``scoring`` is ``(scorers, error_score, train_scores)``: each
    slot that trained is scored on its fold here, and its weights stay here.
    """
    from skhp.packed import train_packs

    worker = _worker_address()
    data = _share_data(jobs, X, y)
    outs = train_packs(data, pack_size)
    templates = {}
    for out, job, (_, X_train, y_train, _) in zip(outs, jobs, data):
        if not isinstance(out, dict):
            continue
        out["fitted"] = {k: v for k, v in vars(job.final).items() if k in FITTED}
        out["worker"] = worker
        if scoring is not None and not out["diverged"]:
            _score_here(job, X_train, y_train, out, X, y, scoring, templates)
            del out["weights"], out["state"]  # scored here: the weights need not travel back
    return outs


def _rung_share(jobs, states, untils, pack_size, X, y, scoring):
    """A worker's share of one rung of a pruned round (runs on the worker).

    Plans ``jobs`` (travelling round jobs) as packs, gives each slot its
    ``states`` entry (:meth:`PackRun.slot_state` of the last rung; None at
    the first), trains every pack to its jobs' ``untils`` epoch and scores
    each slot on its fold. Returns per job the reason it does not pack, or
    a dict: its ``state`` now, ``trained``, ``diverged``, ``seconds``,
    ``worker`` and, unless it diverged, its scores (see :func:`_score_here`).
    """
    from skhp.packed import advance_packs, failed_alone, start_packs

    worker = _worker_address()
    data = _share_data(jobs, X, y)
    runs, where = start_packs(data, pack_size)
    for place, state in zip(where, states):
        if not isinstance(place, str) and state is not None:
            runs[place[0]].restore(place[1], state)
    seconds = advance_packs(runs, lambda run: untils[run.members[0]])
    outs, templates = [], {}
    for place, job, (_, X_train, y_train, _) in zip(where, jobs, data):
        if isinstance(place, str):
            outs.append(place)
            continue
        run, slot = runs[place[0]], place[1]
        if slot in run.failed:
            outs.append(failed_alone(run, slot))
            continue
        out = {"state": run.slot_state(slot), "trained": int(run.trained[slot]),
               "diverged": bool(run.diverged[slot]), "worker": worker,
               "seconds": seconds[place[0]] / len(run.slots)}
        if not out["diverged"]:
            scored = {**run.result(slot), "key": run.shapes[slot]}
            _score_here(job, X_train, y_train, scored, X, y, scoring, templates)
            out.update({k: scored[k] for k in ("test_scores", "train_scores", "score_time")
                        if k in scored})
        outs.append(out)
    return outs


def _group_key(job):
    """What likely decides a job's pack (model, batch size, epochs, optimizer), without building
    the model: jobs agreeing here go to one worker, where they pack together."""
    from skhp._training import batch_size_for

    final = job.final
    routed = sorted((k, repr(v)) for k, v in final.get_params(deep=False).items()
                    if k.startswith(("model__", "hp__", "optimizer__")))
    return (type(final).__name__, repr(final.model), repr(final.hidden_layer_sizes),
            repr(final.conv_layers), repr(final.optimizer),
            batch_size_for(final.batch_size, len(job.train)), final.epochs,
            tuple(routed))


def _cost(job):
    """A pack's time grows with its steps more than with its slots (per-step overhead)."""
    return job.final.epochs * job.final._steps_for(len(job.train))


def _shares(keys, costs, n_workers):
    """Job indices in at most ``n_workers`` shares: jobs of one key together, keys balanced
    over the workers by their steps; a key too large for one worker split across them.

    Examples
    --------
    >>> _shares(["a"] * 6 + ["b"] * 3, [10] * 6 + [5] * 3, 2)
    [[0, 1, 2, 3, 4, 5], [6, 7, 8]]
    >>> _shares(["a"] * 4, [10] * 4, 2)
    [[0, 1], [2, 3]]
    """
    groups = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    groups = list(groups.values())

    def cost(group):  # steps of its pack, a little more per slot
        return max(costs[i] for i in group) * (1 + 0.05 * len(group))

    while len(groups) < n_workers and max(len(g) for g in groups) > 1:
        largest = max(groups, key=cost)
        groups.remove(largest)
        half = (len(largest) + 1) // 2
        groups += [largest[:half], largest[half:]]
    loads = [[0.0, []] for _ in range(min(n_workers, len(groups)))]
    for group in sorted(groups, key=cost, reverse=True):  # longest first, to the least loaded
        load = min(loads, key=lambda item: item[0])
        load[0] += cost(group)
        load[1].extend(group)
    return [sorted(share) for _, share in loads if share]


def train_packs_on_cluster(data, jobs, pack_size="auto", scoring=None):
    """:func:`skhp.packed.train_packs`'s results for ``jobs``, trained on the cluster's workers.

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
    scoring : tuple or None
        ``(scorers, error_score, train_scores)``: score each fold on its
        worker (``test_scores``, ``train_scores``, ``score_time`` in its
        result; weights and state stay there).

    Returns
    -------
    list
        Per job, in order: ``train_packs``' dict (plus ``fitted``, the
        attributes the pack set on the estimator, and ``worker``), or the
        reason the job did not pack.
    """
    client = data.client
    workers = sorted(client.scheduler_info()["workers"])
    X, y = data.futures()
    shares = _shares([_group_key(job) for _, job in jobs], [_cost(job) for _, job in jobs],
                     max(1, len(workers)))
    # one share per worker (the scheduler alone may queue two on one); another worker takes
    # a share over when its own dies
    tasks = [client.submit(_train_share, [jobs[i][1] for i in share], pack_size, X, y, scoring,
                           pure=False, workers=[worker], allow_other_workers=True)
             for share, worker in zip(shares, workers)]
    outs = [None] * len(jobs)
    for share, task in zip(shares, tasks):
        for i, out in zip(share, task.result()):
            outs[i] = out
    return outs


class RungsOnCluster:
    """A pruned round's packable jobs trained rung by rung on a cluster's workers.

    The jobs are shared out over the workers once, as
    :func:`train_packs_on_cluster` shares them (jobs likely to share a pack
    together, balanced by steps). At each rung every worker plans its
    share's surviving jobs as packs (compacted: pruned slots are gone), gives
    each slot the state it ended the last rung with, trains to the rung and
    scores every slot on its fold; only scores and each slot's state (its
    weights, optimizer and early-stopping state: arrays) come back. The
    rule's decision is taken in the search process; survivors' states go
    back with the next rung to the same worker. Since every rung starts from
    states held in the search process, a worker lost mid-rung costs that
    rung's time on another worker, not results (Dask runs the task again
    with the same states and seeds), and the states are what storage keeps.

    Parameters
    ----------
    data : ClusterData
    jobs : list of RoundJob
        Travelling round jobs (``RoundJob.travelling``).
    pack_size : int or "auto"
    scoring : tuple
        ``(scorers, error_score, train_scores)``; train scores are taken at
        the last rung only.
    """

    def __init__(self, data, jobs, pack_size, scoring):
        self.data, self.jobs, self.pack_size, self.scoring = data, jobs, pack_size, scoring
        workers = sorted(data.client.scheduler_info()["workers"])
        shares = _shares([_group_key(job) for job in jobs], [_cost(job) for job in jobs],
                         max(1, len(workers)))
        self.shares = list(zip(shares, workers))

    def submit(self, indices, states, untils, last):
        """Start one rung for jobs ``indices`` (from ``states``, to epochs ``untils``, by job
        index); :meth:`gather` its results."""
        X, y = self.data.futures()
        scorers, error_score, train_scores = self.scoring
        scoring = (scorers, error_score, train_scores and last)
        chosen, tasks = set(indices), []
        for share, worker in self.shares:
            mine = [i for i in share if i in chosen]
            if not mine:
                continue
            task = self.data.client.submit(
                _rung_share, [self.jobs[i] for i in mine], [states[i] for i in mine],
                {k: untils[i] for k, i in enumerate(mine)}, self.pack_size, X, y, scoring,
                pure=False, workers=[worker], allow_other_workers=True)
            tasks.append((mine, task))
        return tasks

    @staticmethod
    def gather(tasks):
        """``{job index: result}`` of a rung :meth:`submit` started (see :func:`_rung_share`)."""
        return {i: out for mine, task in tasks for i, out in zip(mine, task.result())}
