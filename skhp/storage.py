"""Trial storage in SQLite, so that a search can be resumed after it stops.

A trial is written when it starts (status ``"running"``, so that a killed
trial stays visible) and again, in its own transaction, when its folds are
done: parameters, each fold's result (scores, fit time, fit error), status
``"ok"``, ``"failed"`` or ``"pruned"`` (stopped early by the search's
``pruning``; the states of a pruned round's jobs are kept after each rung,
so that a round killed mid-way resumes from its last finished rung). Re-running the same search with the same store and
study replays the finished trials instead of training them again: the
strategy is told the same scores in the same order, so it proposes the same
next candidates and the results equal an uninterrupted run. A process killed
mid-search loses only the trials that were running. The database runs in WAL
mode; a writer waits for another's lock up to ``timeout`` seconds (SQLite's
busy timeout), so several processes can write to one file at once.

Values are stored exactly: JSON for numbers, strings, booleans, None, lists
and dicts, with tuples and NumPy scalars tagged so that they read back as
they were written; any other value is refused with its parameter named. The
file carries a schema version (``PRAGMA user_version``), checked on open.

A study remembers the signature of its search (estimator, space, strategy,
cross-validation, scoring); a different search is refused instead of being
mixed in.

Examples
--------
>>> import tempfile, os
>>> store = TrialStore(os.path.join(tempfile.mkdtemp(), "t.db"))
>>> store.open_study("demo", {"space": "x=[0, 1]"})
>>> store.add_trial("demo", 0, {"x": 0.5}, [{"test_scores": 0.9, "fit_time": 0.1}])
>>> store.trials("demo")[0].params
{'x': 0.5}
"""

import json
import os
import math
import sqlite3
import time
from contextlib import closing

import numpy as np

from skhp.trials import Trial

__all__ = ["TrialStore", "open_store", "dumps", "loads", "SCHEMA_VERSION", "STORE_METHODS"]

#: Version of the layout below, kept in the file's ``PRAGMA user_version``.
SCHEMA_VERSION = 2
#: Older layouts this version opens (and upgrades): version 2 added the ``rungs`` table.
_UPGRADES_FROM = (0, 1)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    name TEXT PRIMARY KEY,
    signature TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    study TEXT NOT NULL REFERENCES studies(name),
    number INTEGER NOT NULL,
    params TEXT NOT NULL,
    folds TEXT NOT NULL,
    mean_score REAL,
    status TEXT NOT NULL,
    fit_time REAL,
    finished REAL NOT NULL,
    PRIMARY KEY (study, number)
);
CREATE TABLE IF NOT EXISTS rungs (
    study TEXT NOT NULL REFERENCES studies(name),
    trial INTEGER NOT NULL,
    fold INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    scores TEXT NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (study, trial, fold, epoch)
);
CREATE TABLE IF NOT EXISTS probes (
    study TEXT NOT NULL REFERENCES studies(name),
    key TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (study, key)
);
"""


def _encode(value, where):
    """``value`` in plain JSON types, tuples tagged; refuse what JSON cannot hold exactly."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        if "__tuple__" in value:
            raise TypeError(f"{where}: a dict key '__tuple__' cannot be stored.")
        return {k: _encode(v, where) for k, v in value.items()}
    raise TypeError(
        f"{where}: {value!r} cannot be stored exactly (storage keeps numbers, strings, "
        "booleans, None, lists, tuples and dicts with string keys); search over names or "
        "numbers instead, or run without storage."
    )


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_decode(v) for v in value["__tuple__"])
        return {k: _decode(v) for k, v in value.items()}
    return value


def dumps(value, where="value"):
    """``value`` as JSON text that :func:`loads` reads back equal.

    Examples
    --------
    >>> loads(dumps({"hidden_layer_sizes": (64, 64), "lr": np.float64(0.1)}))
    {'hidden_layer_sizes': (64, 64), 'lr': 0.1}
    """
    return json.dumps(_encode(value, where), sort_keys=True)


def loads(text):
    """The value :func:`dumps` wrote."""
    return _decode(json.loads(text))


_FOLD_KEYS = ("test_scores", "train_scores", "fit_time", "score_time", "fit_error", "epochs",
              "pruned", "rung_scores")


#: What the searches call on a store: a ``storage`` object with all of them is one
#: (the searches' parameter validation and :func:`open_store` both check these).
STORE_METHODS = ("open_study", "start_trial", "add_trial", "add_trials", "trials", "add_rungs",
                 "rungs", "add_probe", "probe")


def open_store(storage):
    """A :class:`TrialStore` from ``"sqlite:///path.db"``, a path (str or ``os.PathLike``), or a store.

    A store is a :class:`TrialStore` or any object with the methods of
    :data:`STORE_METHODS`.

    Examples
    --------
    >>> open_store("sqlite:///:memory:").path
    ':memory:'
    """
    if storage is None or all(callable(getattr(storage, m, None)) for m in STORE_METHODS):
        return storage
    if isinstance(storage, os.PathLike):
        storage = os.fspath(storage)
    if not isinstance(storage, str):
        raise ValueError(f"storage must be 'sqlite:///path.db', a file path or a store (an object "
                         f"with the methods {', '.join(STORE_METHODS)}), got {storage!r}.")
    if "://" in storage:
        prefix = "sqlite:///"
        if not storage.startswith(prefix):
            raise ValueError(f"storage={storage!r}: only SQLite is supported; write 'sqlite:///path.db'.")
        storage = storage[len(prefix):]
    return TrialStore(storage)


class TrialStore:
    """Trials of named studies in one SQLite file.

    Parameters
    ----------
    path : str
        The database file (created if missing); ``":memory:"`` for a
        throw-away store in this process.
    timeout : float, default=60
        Seconds to wait for another writer's lock before giving up.
    """

    def __init__(self, path, timeout=60.0):
        self.path = str(path)
        self.timeout = timeout
        self._memory = sqlite3.connect(":memory:") if self.path == ":memory:" else None
        db = self._memory or sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        try:
            if self._memory is None:
                db.execute("PRAGMA journal_mode=WAL")  # readers and writers at once
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (*_UPGRADES_FROM, SCHEMA_VERSION):
                raise ValueError(
                    f"{self.path} holds trial storage of schema version {version}; this skhp "
                    f"reads version {SCHEMA_VERSION}. Use the skhp that wrote it, or a new file."
                )
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        finally:
            if self._memory is None:
                db.close()

    def __repr__(self):
        return f"TrialStore({self.path!r})"

    def __getstate__(self):  # a search carrying a store can be pickled; it reconnects
        return {"path": self.path, "timeout": self.timeout}

    def __setstate__(self, state):
        self.__init__(state["path"], state["timeout"])

    def _connect(self):
        if self._memory is not None:
            return _Reuse(self._memory)
        # SQLite's busy timeout is the one wait for another writer's lock.
        return _Transaction(sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None))

    def open_study(self, name, signature):
        """Create study ``name`` for a search with ``signature``, or check it is the same search.

        Raises
        ------
        ValueError
            When the study exists for a different search.
        """
        text = dumps(signature, "the search's signature")
        with self._connect() as db:
            row = db.execute("SELECT signature FROM studies WHERE name = ?", (name,)).fetchone()
            if row is None:
                db.execute("INSERT INTO studies VALUES (?, ?, ?)", (name, text, time.time()))
                return
        if row[0] != text:
            old, new = loads(row[0]), loads(text)
            differs = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise ValueError(
                f"study {name!r} in {self.path} was written by a different search (it differs "
                f"in: {', '.join(differs)}); use a new study name or a new store instead of "
                "mixing the two."
            )

    def start_trial(self, study, number, params):
        """Write trial ``number`` as running: a trial killed before it ends stays visible.

        Raises
        ------
        TypeError
            When a parameter value cannot be stored exactly.
        """
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (study, int(number), dumps(params, f"trial {number}'s parameters"), "[]", None,
                 "running", None, time.time()),
            )

    def add_trial(self, study, number, params, folds):
        """Write one finished trial: its parameters and the result of each fold.

        ``folds`` are dicts with ``test_scores`` (a number or a dict of them)
        and optionally ``train_scores``, ``fit_time``, ``score_time`` and
        ``fit_error``; a trial with a non-finite fold score is ``"failed"``
        (``"pruned"`` when a fold says ``pruned``). Its rung states are dropped.
        """
        self.add_trials(study, [(number, params, folds)])

    def add_trials(self, study, trials):
        """Write finished trials, ``(number, params, folds)`` each, in one transaction
        (a search writes a round's trials at once: a kill leaves all or none of them)."""
        rows = []
        for number, params, folds in trials:
            folds = [{k: v for k, v in fold.items() if k in _FOLD_KEYS} for fold in folds]
            scores = [f.get("test_scores") for f in folds]
            primary = [s if not isinstance(s, dict) else next(iter(s.values()), None) for s in scores]
            finite = [float(s) for s in primary if s is not None and math.isfinite(float(s))]
            mean = float(np.mean(finite)) if len(finite) == len(primary) and finite else None
            fit_time = float(sum(f.get("fit_time", 0.0) or 0.0 for f in folds))
            status = "ok" if mean is not None else (
                "pruned" if any(f.get("pruned") for f in folds) else "failed")
            rows.append((study, int(number), dumps(params, f"trial {number}'s parameters"),
                         dumps(folds, f"trial {number}'s fold results"), mean,
                         status, fit_time, time.time()))
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            # a finished trial needs no rung states any more
            db.executemany("DELETE FROM rungs WHERE study = ? AND trial = ?",
                           [(study, row[1]) for row in rows])

    def add_rungs(self, study, rows):
        """Write the state of jobs that finished a rung and train on, in one transaction.

        ``rows`` are ``(trial, fold, epoch, scores, state)``: the job's fold
        scores at the rung and its training state (bytes). A search killed
        mid-round resumes its jobs from their last stored rung.
        """
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO rungs VALUES (?, ?, ?, ?, ?, ?)",
                           [(study, int(t), int(f), int(e), dumps(sc, "a rung's scores"),
                             sqlite3.Binary(st)) for t, f, e, sc, st in rows])

    def rungs(self, study, trials):
        """The stored rung states of ``trials``: ``{(trial, fold, epoch): (scores, state)}``."""
        trials = [int(t) for t in trials]
        if not trials:
            return {}
        with self._connect() as db:
            rows = db.execute(
                f"SELECT trial, fold, epoch, scores, state FROM rungs WHERE study = ? AND trial IN "
                f"({', '.join('?' * len(trials))})", (study, *trials)).fetchall()
        return {(t, f, e): (loads(sc), bytes(st)) for t, f, e, sc, st in rows}

    def trials(self, study):
        """Every stored trial of ``study``, in order, as :class:`skhp.search.Trial` records
        (``score`` is the mean test score of the first metric; ``status`` is ``"running"``,
        ``"ok"``, ``"failed"`` or ``"pruned"``)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT number, params, folds, mean_score, status, fit_time, finished FROM trials "
                "WHERE study = ? ORDER BY number", (study,)).fetchall()
        return [Trial(number=n, params=loads(p), score=None if m is None else float(m), status=s,
                      folds=loads(f), fit_time=t, finished=fin)
                for n, p, f, m, s, t, fin in rows]

    def add_probe(self, study, key, result):
        """Store the ``result`` of a probe run (a fit that is not a trial, such as the guided
        search's run to the plateau), under ``key``."""
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO probes VALUES (?, ?, ?)",
                       (study, dumps(key, "a probe's key"), dumps(result, "a probe's result")))

    def probe(self, study, key):
        """The stored result of the probe ``key``, or None."""
        with self._connect() as db:
            row = db.execute("SELECT result FROM probes WHERE study = ? AND key = ?",
                             (study, dumps(key, "a probe's key"))).fetchone()
        return None if row is None else loads(row[0])

    def studies(self):
        """Names of the studies in the store."""
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT name FROM studies ORDER BY created")]


class _Transaction:
    """A connection used for one transaction (BEGIN IMMEDIATE ... COMMIT), then closed."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")  # waits up to the busy timeout for the lock
        return self.db

    def __exit__(self, kind, value, traceback):
        with closing(self.db):
            self.db.execute("ROLLBACK" if kind else "COMMIT")


class _Reuse:
    def __init__(self, db):
        self.db = db

    def __enter__(self):
        return self.db

    def __exit__(self, kind, value, traceback):
        self.db.commit() if kind is None else self.db.rollback()
