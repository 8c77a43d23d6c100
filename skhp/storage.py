"""Trial storage in SQLite, so that a search can be resumed after it stops.

Every finished trial (its parameters, fold scores, timing, status) is written
in its own transaction as soon as its folds are done. Re-running the same
search with the same store and study replays the stored trials instead of
training them again: the strategy is told the same scores in the same order,
so it proposes the same next candidates and the results equal an
uninterrupted run. A process killed mid-search loses only the trials that were
running. The database runs in WAL mode with a busy timeout, so several
processes can write to one file at once.

A study remembers the signature of its search (estimator, space, strategy,
cross-validation, scoring); a different search is refused instead of being
mixed in.

Examples
--------
>>> import tempfile, os
>>> store = TrialStore(os.path.join(tempfile.mkdtemp(), "t.db"))
>>> store.open_study("demo", {"space": "x=[0, 1]"})
>>> store.add_trial("demo", 0, {"x": 0.5}, [{"test_scores": 0.9, "fit_time": 0.1}])
>>> store.trials("demo")[0]["params"]
{'x': 0.5}
"""

import json
import math
import sqlite3
import time
from contextlib import closing

import numpy as np

__all__ = ["TrialStore", "open_store"]

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
"""


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)


def _dumps(value):
    return json.dumps(value, default=_json_default, sort_keys=True)


def _loads_float(value):
    return float("nan") if value is None else float(value)


def open_store(storage):
    """A :class:`TrialStore` from ``"sqlite:///path.db"``, a path, or a store.

    Examples
    --------
    >>> open_store("sqlite:///:memory:").path
    ':memory:'
    """
    if storage is None or isinstance(storage, TrialStore):
        return storage
    if not isinstance(storage, str):
        raise ValueError(f"storage must be 'sqlite:///path.db' or a file path, got {storage!r}.")
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
            db.executescript(_SCHEMA)
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
        db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        return _Transaction(db)

    def open_study(self, name, signature):
        """Create study ``name`` for a search with ``signature``, or check it is the same search.

        Raises
        ------
        ValueError
            When the study exists for a different search.
        """
        text = _dumps(signature)
        with self._connect() as db:
            row = db.execute("SELECT signature FROM studies WHERE name = ?", (name,)).fetchone()
            if row is None:
                db.execute("INSERT INTO studies VALUES (?, ?, ?)", (name, text, time.time()))
                return
        if row[0] != text:
            old, new = json.loads(row[0]), json.loads(text)
            differs = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise ValueError(
                f"study {name!r} in {self.path} was written by a different search (it differs "
                f"in: {', '.join(differs)}); use a new study name or a new store instead of "
                "mixing the two."
            )

    def add_trial(self, study, number, params, folds, status="ok"):
        """Write one finished trial: its parameters and the result of each fold."""
        scores = [f.get("test_scores") for f in folds]
        primary = [s if not isinstance(s, dict) else next(iter(s.values()), None) for s in scores]
        finite = [float(s) for s in primary if s is not None and math.isfinite(float(s))]
        mean = float(np.mean(finite)) if len(finite) == len(primary) and finite else None
        fit_time = float(sum(f.get("fit_time", 0.0) or 0.0 for f in folds))
        if mean is None and status == "ok":
            status = "failed"  # a fold has no finite score
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (study, int(number), _dumps(params), _dumps(folds), mean, status, fit_time,
                 time.time()),
            )

    def trials(self, study):
        """Every stored trial of ``study``, in order: dicts of number, params, folds, status, ..."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT number, params, folds, mean_score, status, fit_time, finished FROM trials "
                "WHERE study = ? ORDER BY number", (study,)).fetchall()
        return [{"number": n, "params": json.loads(p), "folds": json.loads(f),
                 "mean_score": _loads_float(m), "status": s, "fit_time": t, "finished": fin}
                for n, p, f, m, s, t, fin in rows]

    def studies(self):
        """Names of the studies in the store."""
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT name FROM studies ORDER BY created")]


class _Transaction:
    """A connection used for one transaction (BEGIN IMMEDIATE ... COMMIT), then closed."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        for attempt in range(20):
            try:
                self.db.execute("BEGIN IMMEDIATE")
                return self.db
            except sqlite3.OperationalError as err:  # another writer holds the lock
                if "locked" not in str(err) or attempt == 19:
                    raise
                time.sleep(0.05 * (attempt + 1))

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
