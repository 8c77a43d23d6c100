"""Training jobs in packs: grouping them, training the packs, and their results.

:func:`start_packs` plans every packable job from its fit spec and groups
the slots into packs (traced, ready to train); :func:`advance_packs`
trains them epoch range by epoch range; :func:`train_packs` does both to
the end; :func:`fit_packed` fits estimators of one shape and returns them
fitted, as ordinary estimators.
"""

import math
import time
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
from scipy import sparse
from sklearn.base import clone

from skhp._rows import Rows
from skhp.packed._engine import PackRun
from skhp.packed._jax_engine import JaxPackRun
from skhp.packed._torch_engine import TorchPackRun
from skhp.packed._memory import auto_pack_size, pack_memory, slot_bytes
from skhp.packed._plan import NotPackable, pack_reason, plan
import skhp.runtime as runtime

__all__ = ["start_packs", "advance_packs", "train_packs", "fit_packed", "failed_alone", "train_pack",
           "pack_engine"]


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
    _check_pack_size(pack_size)
    runtime.configure()  # thread budget and GPU memory growth, as an ordinary fit sets them
    where = [None] * len(jobs)
    plans, groups = {}, {}
    templates = {} if planned is None else planned
    jobs = [(est, X if isinstance(X, Rows) else _as_array(X), y, weights)
            for est, X, y, weights in jobs]
    for j, (est, X, y, weights) in enumerate(jobs):
        reason = pack_reason(est)
        if reason is None:
            try:
                spec = est.fit_spec(X, y, weights, templates)
                plans[j] = (*plan(spec), spec)
            except NotPackable as error:
                reason = str(error)
            except Exception as error:  # noqa: BLE001  (the ordinary fit raises it as a failed fit)
                reason = f"{type(error).__name__}: {error}"
        if reason is not None:
            where[j] = reason
            continue
        groups.setdefault((plans[j][2], spec.settings.device), []).append(j)
    runs, n_gpus, budgets = [], runtime.visible_gpus(), {}
    for (key, device), members in groups.items():
        settings = plans[members[0]][1]
        size, where_to = pack_size, runtime.resolve_device(device, n_gpus, len(runs))
        if size == "auto":  # sized to the memory of the device the packs run on
            if where_to not in budgets:  # (a GPU's is asked of nvidia-smi once per call)
                budgets[where_to] = pack_memory(where_to)
            size = auto_pack_size(slot_bytes(
                settings["model"], settings["optimizer"], settings["batch_size"],
                max(jobs[j][1].shape[0] for j in members), settings["structural"]),
                budgets[where_to])
        for part in np.array_split(members, math.ceil(len(members) / size)):
            part = [int(j) for j in part]
            run = pack_engine()([plans[j][0] for j in part], **settings,
                          device=runtime.resolve_device(device, n_gpus, len(runs)))
            failure = run.check()
            if failure is not None:
                for j in part:
                    where[j] = failure
                continue
            run.key, run.members = key, part
            # what a fitted slot's Keras model and encoders serve: its structure and outputs
            run.shapes = [(plans[j][3].signature, plans[j][3].outputs) for j in part]
            run.fitted = [plans[j][3].fitted for j in part]
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
        the estimators' ``fitted_from_slot``); ``fitted``, the attributes the
        fit set on its estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from skhp import KerasRegressor
    >>> X = np.random.default_rng(0).normal(size=(40, 2))
    >>> out = train_packs([(KerasRegressor(hidden_layer_sizes=(3,), epochs=1), X, X[:, 0], None),
    ...                    (KerasRegressor(warm_start=True), X, X[:, 0], None)])
    >>> sorted(out[0]), out[1]
    (['device', 'diverged', 'epochs', 'fitted', 'history', 'key', 'pack', 'seconds', 'state', 'weights'], 'warm_start continues an existing model')
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
                        "pack": number, "key": run.shapes[slot], "device": run.device,
                        "fitted": run.fitted[slot]})
    return results


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
            fitted.append(est.fitted_from_slot(X_, y_, out))
    return fitted


def pack_engine():
    """The :class:`PackRun` class of Keras' backend: this module's on TensorFlow, the JAX
    engine's (:class:`skhp.packed._jax_engine.JaxPackRun`) on JAX, the PyTorch engine's
    (:class:`skhp.packed._torch_engine.TorchPackRun`) on PyTorch.

    Examples
    --------
    >>> engines = {"jax": "JaxPackRun", "torch": "TorchPackRun"}
    >>> pack_engine().__name__ == engines.get(keras.backend.backend(), "PackRun")
    True
    """
    return {"jax": JaxPackRun, "torch": TorchPackRun}.get(keras.backend.backend(), PackRun)


def train_pack(slots, **run):
    """Train every slot of one pack to the end: :class:`PackRun` in one call.

    Parameters
    ----------
    slots : list of PackedSlot
    **run
        :class:`PackRun`'s keyword parameters.

    Returns
    -------
    list of dict
        Per slot: ``weights`` and model ``state`` (final, or the best
        epoch's under early stopping), ``history`` (``loss``, ``lr`` and,
        with validation, ``val_loss`` per epoch), ``epochs`` trained and ``diverged``.

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> from skhp.packed import PackedSlot
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> X = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    >>> slot = PackedSlot(X=X, train=np.arange(32), validation=None,
    ...                   targets=X[:, :1] * 2, sample_weight=np.ones(32, "float32"),
    ...                   weights=[np.zeros((3, 1), "float32"), np.zeros(1, "float32")],
    ...                   rates=np.full(4, 0.1), momenta=np.zeros(4), settings={})
    >>> from skhp.packed import PackedSlot
    >>> out = train_pack([slot], model=model, loss="mse", optimizer="SGD", batch_size=16, epochs=2)
    >>> out[0]["history"]["loss"][1] < out[0]["history"]["loss"][0]
    True
    """
    pack = pack_engine()(slots, **run)
    pack.advance(pack.epochs)
    return [pack.result(j) for j in range(len(pack.slots))]
