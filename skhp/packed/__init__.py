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
can), :func:`plan` computes what a slot trains on and with from a fit's
spec (:class:`skhp.fit_spec.FitSpec`, which the estimator makes: packs read
nothing else of it), :func:`pack_key` groups slots that can share a pack,
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

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
from skhp.fit_spec import OPTIMIZER_SETTINGS, model_signature, seed_or_fresh
from skhp.packed._cluster import ClusterData, RungsOnCluster, dask_client, train_packs_on_cluster
from skhp.packed._engine import PackedSlot, PackRun
from skhp.packed._memory import auto_pack_size, gpu_free_memory, pack_memory, slot_bytes
from skhp.packed._packs import (advance_packs, failed_alone, fit_packed, pack_engine, start_packs,
                               train_pack, train_packs)
from skhp.packed._plan import (NotPackable, Packable, lottery_reason, loss_key, pack_key,
                               pack_reason, plan)

__all__ = ["OPTIMIZER_SETTINGS", "Packable", "NotPackable", "pack_reason", "pack_key", "plan",
           "model_signature", "loss_key", "seed_or_fresh", "PackedSlot", "PackRun", "train_pack",
           "slot_bytes", "pack_memory", "gpu_free_memory", "auto_pack_size", "start_packs",
           "advance_packs", "train_packs", "failed_alone", "pack_engine", "fit_packed", "lottery_reason",
           "dask_client", "ClusterData", "train_packs_on_cluster", "RungsOnCluster"]
