"""Packed training: K copies of one Keras model trained as one program.

A search of small networks spends its time on per-step overhead, not on
arithmetic. Stacking K networks of one structure — the built-in MLP or CNN,
a user's builder function or Keras model — lets one step advance all of
them: the model's own layers run vectorized over the slots' stacked
weights (:mod:`skhp.packed._engine`). Each *slot* of a pack keeps
everything an ordinary fit has of its own: weights, model and optimizer
state, training indices (a CV fold's train split), shuffling, learning
rate and momentum at every step, weight decay, label smoothing, sample
weights, hold-out validation and early stopping. Each slot performs the
updates the estimator's ordinary fit performs (Keras' own layers and loss,
its optimizers' formulas); only the shuffling streams differ.

:func:`pack_reason` says why an estimator cannot be packed (None when it
can), :func:`plan` computes what a slot trains on and with (from the model
the estimator builds), :func:`pack_key` groups slots that can share a pack,
and :func:`fit_packed` trains a list of (estimator, training indices) slots
and returns fitted, ordinary skhp estimators. Under joblib's ``"dask"``
backend a search's packs train on the cluster's workers
(:func:`train_packs_on_cluster`).

Examples
--------
>>> import numpy as np
>>> from sklearn.datasets import load_iris
>>> from skhp import KerasClassifier
>>> from skhp.packed import fit_packed
>>> X, y = load_iris(return_X_y=True)
>>> rates = [1e-3, 1e-2, 3e-2]
>>> fitted = fit_packed([KerasClassifier(hidden_layer_sizes=(8,), epochs=2, learning_rate=lr,
...                                      random_state=0) for lr in rates], X, y)
>>> [est.learning_rate for est in fitted], fitted[0].predict(X[:2]).shape
([0.001, 0.01, 0.03], (2,))
"""

import math
import time

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import numpy as np
from scipy import sparse

from skhp.packed._cluster import (FITTED, ClusterData, RungsOnCluster, dask_client,
                                  train_packs_on_cluster)
from skhp.packed._engine import PackedSlot, PackRun, short_error, train_pack
from skhp._rows import Rows
from skhp.packed._memory import auto_pack_size, gpu_free_memory, pack_memory, slot_bytes
from skhp.packed._plan import (OPTIMIZER_SETTINGS, NotPackable, lottery_reason, loss_key,
                               model_signature, momentum_name, outputs_of,
                               numbers, optimizer_settings, pack_key, pack_reason, plan,
                               seed_or_fresh, smoothed, structural)

__all__ = ["OPTIMIZER_SETTINGS", "pack_reason", "pack_key", "plan", "model_signature",
           "PackedSlot", "PackRun", "train_pack", "slot_bytes", "pack_memory", "gpu_free_memory",
           "auto_pack_size",
           "start_packs", "advance_packs", "train_packs", "as_fitted", "fit_packed",
           "lottery_reason", "train_lottery", "dask_client", "ClusterData", "train_packs_on_cluster",
           "RungsOnCluster"]


def _check_pack_size(pack_size):
    if pack_size == "auto" or (isinstance(pack_size, (int, np.integer))
                               and not isinstance(pack_size, bool) and pack_size >= 1):
        return
    raise ValueError(f"pack_size={pack_size!r} is not valid; use 'auto' (sized from a memory "
                     "budget) or a whole number of slots >= 1.")


def _as_array(X):
    """``X`` as a NumPy array (a DataFrame's values), or a sparse matrix as CSR, which packs
    densify a batch at a time."""
    return X.tocsr() if sparse.issparse(X) else np.asarray(X)


def _trace_failure(run):
    """None when ``run``'s program traces, else why its model does not train in a pack.

    Tracing now (not at the first epoch) finds a layer that does not
    vectorize before any slot trains, so its jobs train the ordinary way.
    """
    try:
        program = run.program()
        weights, epoch, evaluation = program.signature(*run.data(range(1)))
        program.run_epoch.get_concrete_function(weights, **epoch)
        if any(run.watch):
            program.evaluate.get_concrete_function(weights["params"], weights["model_state"],
                                                   **evaluation)
    except Exception as error:  # noqa: BLE001  (any failure: the jobs train the ordinary way)
        return f"the model does not train in a pack ({short_error(error)})"
    return None


def start_packs(jobs, pack_size="auto", planned=None):
    """Group packable jobs into packs, ready to train: the first half of :func:`train_packs`.

    Parameters are :func:`train_packs`'s.

    Returns
    -------
    runs : list of PackRun
        The packs, untrained, traced; each also has ``key`` (what its slots
        share), ``members`` (its jobs' indices, in slot order) and ``device``.
    where : list
        Per job: ``(pack number, slot)``, or a str, the reason the job is not
        packed (it trains the ordinary way, where an invalid estimator fails).

    Examples
    --------
    >>> import numpy as np
    >>> from skhp import KerasRegressor
    >>> X = np.random.default_rng(0).normal(size=(40, 2))
    >>> runs, where = start_packs([(KerasRegressor(hidden_layer_sizes=(3,), epochs=4), X, X[:, 0], None)])
    >>> where, runs[0].advance(2).epoch
    ([(0, 0)], 2)
    """
    from skhp.runtime import configure, resolve_device, visible_gpus

    _check_pack_size(pack_size)
    configure()  # thread budget and GPU memory growth, as an ordinary fit sets them
    where = [None] * len(jobs)
    plans, groups = {}, {}
    templates = {} if planned is None else planned
    jobs = [(est, X if isinstance(X, Rows) else _as_array(X), y, weights)
            for est, X, y, weights in jobs]
    for j, (est, X, y, weights) in enumerate(jobs):
        reason = pack_reason(est)
        if reason is None:
            try:
                plans[j] = plan(est, X, y, weights, templates)
            except NotPackable as error:
                reason = str(error)
            except Exception as error:  # noqa: BLE001  (the ordinary fit raises it as a failed fit)
                reason = f"{type(error).__name__}: {error}"
        if reason is not None:
            where[j] = reason
            continue
        groups.setdefault((plans[j][2], str(est.device)), []).append(j)
    runs, n_gpus, budgets = [], visible_gpus(), {}
    for (key, device), members in groups.items():
        settings = plans[members[0]][1]
        size, where_to = pack_size, resolve_device(device, n_gpus, len(runs))
        if size == "auto":  # sized to the memory of the device the packs run on
            if where_to not in budgets:  # (a GPU's is asked of nvidia-smi once per call)
                budgets[where_to] = pack_memory(where_to)
            size = auto_pack_size(slot_bytes(
                settings["model"], settings["optimizer"], settings["batch_size"],
                max(jobs[j][1].shape[0] for j in members), settings["structural"]),
                budgets[where_to])
        for part in np.array_split(members, math.ceil(len(members) / size)):
            part = [int(j) for j in part]
            run = PackRun([plans[j][0] for j in part], **settings,
                          device=resolve_device(device, n_gpus, len(runs)))
            failure = _trace_failure(run)
            if failure is not None:
                for j in part:
                    where[j] = failure
                continue
            run.key, run.members = key, part
            # what a fitted slot's Keras model and encoders serve: its structure and outputs
            run.shapes = [(settings["key"][0], outputs_of(*jobs[j][::2])) for j in part]
            for slot, j in enumerate(part):
                where[j] = (len(runs), slot)
            runs.append(run)
    return runs, where


def advance_packs(runs, until):
    """Train each of ``runs`` up to epoch ``until(run)``; return the seconds each took.

    Packs on one device run one after another (one pack already uses all
    of a CPU's cores); with several devices, the devices run at once (a
    thread each).

    Examples
    --------
    >>> import numpy as np
    >>> from skhp import KerasRegressor
    >>> X = np.random.default_rng(0).normal(size=(40, 2))
    >>> runs, _ = start_packs([(KerasRegressor(hidden_layer_sizes=(3,), epochs=4), X, X[:, 0], None)])
    >>> seconds = advance_packs(runs, lambda run: run.epochs)
    >>> runs[0].epoch, len(seconds)
    (4, 1)
    """
    from concurrent.futures import ThreadPoolExecutor

    seconds = [0.0] * len(runs)

    def run_all(numbers):
        for number in numbers:
            start = time.perf_counter()
            runs[number].advance(until(runs[number]))
            seconds[number] = time.perf_counter() - start

    by_device = {}
    for number, run in enumerate(runs):
        by_device.setdefault(run.device, []).append(number)
    if len(by_device) > 1:
        with ThreadPoolExecutor(len(by_device)) as pool:
            list(pool.map(run_all, by_device.values()))
    else:
        run_all(range(len(runs)))
    return seconds


def failed_alone(run, slot):
    """Why slot ``slot`` of ``run`` trains the ordinary way: its pack failed, and so did it alone."""
    return (f"its pack failed, and so did a pack of it alone ({run.failed[slot]}): "
            "it trains the ordinary way")


def train_packs(jobs, pack_size="auto", planned=None):
    """Train every packable job in packs; the search's and :func:`fit_packed`'s common step.

    Jobs of one shape (:func:`pack_key`) share packs of at most
    ``pack_size`` slots. A pack that fails (out of memory) trains again as
    two halves, down to packs of one slot (with a ``RuntimeWarning``); a job
    whose slot fails alone gets the reason, and trains the ordinary way. A pack runs on its estimators' ``device``: with
    ``device="auto"`` or ``"gpu"`` and several GPUs, packs go round-robin
    over them and the GPUs run at once (a thread each); on one device packs
    run one after another, each using all its cores (on a CPU one pack of
    2K slots takes as long as two packs of K run at once).

    Parameters
    ----------
    jobs : list of (estimator, X, y, sample_weight)
        Unfitted skhp estimators (changed in place: they receive their
        seeds and schedules) and the data each is fitted on.
    pack_size : int or "auto", default="auto"
        Most slots in one pack; ``"auto"``: as many as fit the memory
        budget (:func:`pack_memory`, :func:`slot_bytes`).
    planned : dict or None, default=None
        Models already built for jobs of a shape (:func:`plan`'s
        ``templates``), kept by the caller across calls with the same
        data (a cluster's worker keeps them for a search's fit); None:
        this call's own.

    Returns
    -------
    list
        Per job: a dict with the slot's ``weights``, model ``state``, ``history``,
        ``epochs``, ``diverged``, ``seconds`` (its pack's time divided by
        its slots), ``pack`` (the pack's number) and ``device``; or a str,
        the reason the job was not packed. ``key`` says which slots share a
        model structure and outputs (one Keras model serves them all, see
        :func:`as_fitted`).

    Examples
    --------
    >>> import numpy as np
    >>> from skhp import KerasRegressor
    >>> X = np.random.default_rng(0).normal(size=(40, 2))
    >>> out = train_packs([(KerasRegressor(hidden_layer_sizes=(3,), epochs=1), X, X[:, 0], None),
    ...                    (KerasRegressor(warm_start=True), X, X[:, 0], None)])
    >>> sorted(out[0]), out[1]
    (['device', 'diverged', 'epochs', 'history', 'key', 'pack', 'seconds', 'state', 'weights'], 'warm_start continues an existing model')
    """
    start = time.perf_counter()
    runs, where = start_packs(jobs, pack_size, planned)
    planning = (time.perf_counter() - start) / max(1, len(jobs))
    seconds = advance_packs(runs, lambda run: run.epochs)
    results = []
    for place in where:
        if isinstance(place, str):
            results.append(place)
            continue
        number, slot = place
        run = runs[number]
        if slot in run.failed:
            results.append(failed_alone(run, slot))
            continue
        results.append({**run.result(slot), "seconds": planning + seconds[number] / len(run.slots),
                        "pack": number, "key": run.shapes[slot], "device": run.device})
    return results


def as_fitted(estimator, X, y, out, template=None):
    """``estimator`` fitted on ``X, y`` with a slot's result ``out``: an ordinary skhp estimator.

    With ``template`` (an estimator of the same pack already fitted this
    way), its Keras model and encoders are shared instead of building new
    ones: cheap, for scoring one slot after another.

    Examples
    --------
    >>> import numpy as np
    >>> from skhp import KerasRegressor
    >>> X = np.random.default_rng(0).normal(size=(40, 2))
    >>> est = KerasRegressor(hidden_layer_sizes=(3,), epochs=1)
    >>> (out,) = train_packs([(est, X, X[:, 0], None)])
    >>> as_fitted(est, X, X[:, 0], out).predict(X[:2]).shape
    (2,)
    """
    own = {k: v for k, v in vars(estimator).items() if k in FITTED}
    own.update(out.get("fitted", {}))  # set where the pack trained (a cluster's worker)
    if template is None:
        estimator.initialize(X, y)
        estimator._initialize_callbacks()  # what predict reads (scikeras sets it in fit)
    else:
        params = set(estimator.get_params(deep=False))
        vars(estimator).update({k: v for k, v in vars(template).items() if k not in params})
    vars(estimator).update(own)
    model = estimator.model_
    for variable, value in zip([*model.trainable_variables, *model.non_trainable_variables],
                               [*out["weights"], *out["state"]]):
        variable.assign(value)
    estimator.history_ = dict(out["history"])
    estimator.diverged_ = out["diverged"]
    return estimator


def fit_packed(estimators, X, y, trains=None, *, sample_weight=None, pack_size="auto"):
    """Fit skhp estimators of one shape as packs; return them fitted, as ordinary estimators.

    Parameters
    ----------
    estimators : list of KerasClassifier or KerasRegressor
        Unfitted estimators; each is cloned, so the list is left as it is.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    trains : list of index arrays or None, default=None
        The samples each estimator trains on (e.g. CV folds' train splits);
        None trains every estimator on all of ``X``.
    sample_weight : array-like of shape (n_samples,) or None
    pack_size : int or "auto", default="auto"
        Most slots in one pack (see :func:`train_packs`).

    Returns
    -------
    list of estimators
        Fitted clones, in order, each holding its slot's weights in its own
        Keras model (``model_``) and its ``history_``. An estimator that
        cannot be packed (:func:`pack_reason`) is fitted the ordinary way.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skhp import KerasClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> a, b = fit_packed([KerasClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=s)
    ...                    for s in (0, 1)], X, y)
    >>> len(a.history_["loss"]), a.classes_.tolist()
    (1, [0, 1, 2])
    """
    from sklearn.base import clone

    X = _as_array(X)
    y = np.asarray(y)
    trains = [np.arange(X.shape[0])] * len(estimators) if trains is None else trains
    sw = None if sample_weight is None else np.asarray(sample_weight)
    rows = (lambda train: X[train]) if sparse.issparse(X) else (lambda train: Rows(X, train))
    jobs = [(clone(est), rows(train), y[train], None if sw is None else sw[train])
            for est, train in zip(estimators, trains)]
    fitted = []
    for (est, X_, y_, w), out in zip(jobs, train_packs(jobs, pack_size)):
        if isinstance(out, str):
            fitted.append(clone(est).fit(np.asarray(X_) if isinstance(X_, Rows) else X_, y_,
                                         sample_weight=w))
        else:
            fitted.append(as_fitted(est, X_, y_, out))
    return fitted


def train_lottery(estimator, X, y, batch_size):
    """Train the lottery draws of ``estimator``'s built model as one pack; keep the best.

    The packed counterpart of :func:`skhp.initializers.draw_lottery`, with
    the same draws (the model's weights, then redraws seeded as there), the
    same samples each epoch (fresh ones every epoch), optimizer (at the constant
    ``lottery_lr``), epochs and
    steps; each draw shuffles with its own seeded stream. The model is left
    holding the kept draw's weights.

    Parameters
    ----------
    estimator : KerasClassifier or KerasRegressor
        Being fitted: its ``model_`` is built and ``_seed`` set
        (:func:`lottery_reason` is None).
    X, y : ndarray
        Training data, targets encoded as the model's loss takes them.
    batch_size : int
        Minibatch size.

    Returns
    -------
    losses : ndarray
        Final training loss of every draw.
    best : int or None
        Index of the kept draw; None when every draw diverged.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from skhp import KerasClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> est = KerasClassifier(hidden_layer_sizes=(8,), epochs=1, lottery=4, random_state=0).fit(X, y)
    >>> len(est.lottery_losses_), est.lottery_best_ == int(np.argmin(est.lottery_losses_))
    (4, True)
    """
    from skhp.initializers import lottery_seed, lottery_subsets, redraw_weights
    from skhp.packed._plan import _training_loss

    name, settings = optimizer_settings(estimator, routed=False)
    model, seed = estimator.model_, estimator._seed
    # the rows of every epoch, fresh each epoch (one row of indices an epoch)
    subsets = np.stack(lottery_subsets(len(X), batch_size, estimator.lottery_steps, seed,
                                       estimator.lottery_epochs))
    X_draw = np.asarray(X, dtype="float32")
    targets = np.asarray(y, dtype="float32").reshape(len(X), -1)
    # the model carries its weight decay (a regularizer): the slots' l2 stays 0
    loss, targets = smoothed(_training_loss(estimator, model), targets)
    variables = [*model.trainable_variables, *model.non_trainable_variables]
    n_trainable = len(model.trainable_variables)
    draws = [[np.array(v.numpy()) for v in variables]]
    for draw in range(1, estimator.lottery):
        redraw_weights(model, estimator.initializer, lottery_seed(seed, draw))
        draws.append([np.array(v.numpy()) for v in variables])
    total = estimator.lottery_epochs * int(math.ceil(subsets.shape[1] / batch_size))
    momentum = float(settings.get(momentum_name(name), 0.0))
    base = seed_or_fresh(seed)
    slots = [PackedSlot(X=X_draw, train=subsets, validation=None, targets=targets,
                        sample_weight=np.ones(len(X), "float32"), weights=values[:n_trainable],
                        state=values[n_trainable:], rates=np.full(total, float(estimator.lottery_lr)),
                        momenta=np.full(total, momentum), settings=numbers(settings),
                        seed=base + draw)
             for draw, values in enumerate(draws)]
    outs = train_pack(slots, model=model, loss=loss, optimizer=name, batch_size=batch_size,
                      epochs=estimator.lottery_epochs, shuffle=True, structural=structural(settings),
                      key=("lottery", model_signature(model), loss_key(loss)))
    losses = np.array([out["history"]["loss"][-1] for out in outs])
    finite = np.where(np.isfinite(losses), losses, np.inf)
    best = int(np.argmin(finite)) if np.isfinite(finite).any() else None
    kept = [*outs[best]["weights"], *outs[best]["state"]] if best is not None else draws[0]
    for variable, value in zip(variables, kept):
        variable.assign(value)
    return losses, best
