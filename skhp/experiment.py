"""Tuning experiments described by a config: data, model, search, output.

A config is a dict (read from TOML by the ``skhp`` command) with four tables;
everything is optional, and what is missing comes from :data:`DEFAULT_CONFIG`,
with what the chosen built-in data set changes (:data:`DATA_DEFAULTS`); the
built-in experiment is digits, a small convolutional network, a narrowing search::

    [data]
    name = "digits"          # digits, iris, wine, breast_cancer, diabetes
    # csv = "data.csv"       # or a CSV file with a header row ...
    # target = "label"       # ... and the name of its target column
    # npz = "data.npz"       # or an .npz file holding X and y
    task = "classification"  # or "regression"; inferred when left out
    preprocess = "standard"  # standardize numeric columns, one-hot encode the others
                             # (and, for regression, standardize the target); or "none"
    # impute = "median"      # fill missing values (mean, median, most_frequent);
                             # without it a missing value is an error naming its column

    [model]                  # estimator parameters, plus:
    hidden_layer_sizes = [256]
    epochs = 27
    # conv_layers = [16, 32]  # digits: 3x3 convolutions on 8x8 images
    # image_shape = [8, 8]
    # builder = "mypackage.models:build"   # an importable model builder; a KerasTuner
                             # build function of hp tunes the space it declares when
                             # [search.space] is left out (hp__ names in a given one)

    [search]
    strategy = "narrowing"   # narrowing, random, guided, grid, hyperband, or one of
                             # Optuna's samplers: tpe, cmaes, gp, qmc (pip install optuna)
    pruning = "median"       # stop bad trials early: median, halving, none
    trials = 60              # default: 60, more (up to 150) below 1,000 samples (digits: 19);
                             # hyperband: its brackets decide the number of trials
    time_budget = 600        # seconds; stops proposing new trials after it
    cv = 3
    scoring = "accuracy"
    n_jobs = 1
    seed = 0

    [search.options]         # any further parameter of the strategy's search, e.g.
    policy = "trust-region"  # narrowing: policy, round_size, n_initial, factor, patience, ...

    [search.space]
    learning_rate = { low = 1e-4, high = 1e-1, log = true }
    batch_size = { low = 16, high = 256, base = 2 }
    initializer = ["he_normal", "glorot_uniform"]

    [output]
    dir = "skhp-output"
    baselines = true         # also score untuned scikit-learn models on the same folds

Examples
--------
>>> config = load_config({"search": {"trials": 4}})
>>> config["search"]["trials"], config["data"]["name"], config["model"]["conv_layers"]
(4, 'digits', [16, 32])
>>> "conv_layers" in load_config({"data": {"name": "wine"}})["model"]
False
>>> load_config({"serch": {}})
Traceback (most recent call last):
...
skhp.experiment.ConfigError: unknown key 'serch' in the config; allowed: data, model, output, search. Did you mean 'search'?
"""

import copy
import csv
import difflib
import importlib
import numbers
import os
import sys

import numpy as np

from skhp.search._space import Integer, Real

__all__ = ["ConfigError", "DEFAULT_CONFIG", "default_trials", "load_config", "load_data", "make_estimator",
           "make_model", "final_estimator", "prepare", "make_space", "make_search", "baselines",
           "BUILTIN_DATA", "DATA_DEFAULTS"]


class ConfigError(ValueError):
    """A config that cannot run, with a one-line reason."""


#: Built-in data sets: name -> (scikit-learn loader name, task).
BUILTIN_DATA = {
    "digits": ("load_digits", "classification"),
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "breast_cancer": ("load_breast_cancer", "classification"),
    "diabetes": ("load_diabetes", "regression"),
}

#: The defaults of every experiment; with the digits data (the default) and
#: :data:`DATA_DEFAULTS` over them, the built-in experiment of ``skhp tune``.
DEFAULT_CONFIG = {
    "data": {"name": "digits", "task": None, "preprocess": "standard", "impute": None},
    # trials (None: by the data's size, see default_trials) of 27 epochs, pruned by the
    # median rule (halving kept a third of each rung, after 1 and 3 epochs: on small data
    # sets those scores are noise, and it tied or trailed an untuned SVC on wine and iris).
    "model": {"hidden_layer_sizes": [256], "epochs": 27, "random_state": 0},
    "search": {
        "strategy": "narrowing", "trials": None, "time_budget": None, "cv": 3, "scoring": None,
        "n_jobs": 1, "seed": 0, "pruning": "median",
        "space": {
            "learning_rate": {"low": 1e-4, "high": 1e-1, "log": True},
            "batch_size": {"low": 16, "high": 256, "base": 2},
            "initializer": ["he_normal", "glorot_uniform", "lecun_normal"],
            "schedule": ["constant", "cosine", "onecycle"],
            "smoothing": [0.0, 0.05, 0.1],
            # up to 1e-1: small data sets (diabetes, iris) need strong decay to beat a
            # linear model
            "weight_decay": [0.0, 1e-4, 1e-3, 1e-2, 1e-1],
        },
    },
    "output": {"dir": "skhp-output", "baselines": True},
}

#: What a built-in data set changes in :data:`DEFAULT_CONFIG` (the user's config still
#: has the last word). Digits are 8x8 images with pixels already in [0, 1]: a small
#: convolutional network on the unscaled pixels (standardizing each pixel on its own
#: breaks the common scale convolutions rely on: best CV 0.968 instead of 0.975), 19
#: trials of 16 epochs in batches of 32 or more (batches of 16 double the steps of an
#: epoch), pruned by the median rule, learning rates up to 3e-2 and weight decay up to
#: 5e-4. Successive halving kept one candidate of each round of five after 2 epochs,
#: which favours fast starters (seed 3 kept lr 0.016 with weight decay 1e-3: 0.954). On
#: its own folds (StratifiedKFold(3), 2 cores, ``python benchmarks/main_job.py``) seeds
#: 0-4 reach 0.9789, 0.9777, 0.9789, 0.9844, 0.9816 (mean 0.9803) in 37-56 s for the
#: whole command (21 trials: mean 0.9805, 44-66 s, this machine's timings varying by
#: 15 % from run to run; 25 trials: mean 0.9810, 50-65 s); the halving default reached 0.9761,
#: 0.9649, 0.9811, 0.9544, 0.9794 (mean 0.9712) and an untuned SVC() scores 0.9699.
DATA_DEFAULTS = {
    "digits": {
        "data": {"preprocess": "none"},
        "model": {"conv_layers": [16, 32], "image_shape": [8, 8], "hidden_layer_sizes": [64],
                  "epochs": 16},
        "search": {"trials": 19, "pruning": "median", "space": {
            **DEFAULT_CONFIG["search"]["space"],
            "learning_rate": {"low": 1e-4, "high": 3e-2, "log": True},
            "batch_size": {"low": 32, "high": 256, "base": 2},
            "weight_decay": [0.0, 1e-4, 5e-4]}},
    },
}

_KEYS = {
    "data": {"name", "csv", "target", "npz", "task", "preprocess", "impute"},
    "search": {"strategy", "trials", "time_budget", "cv", "scoring", "n_jobs", "seed", "space",
               "options", "pruning"},
    "output": {"dir", "baselines"},
}
#: Strategies that are Optuna's samplers (skhp.search.SamplerSearchCV).
_SAMPLER_STRATEGIES = ("tpe", "cmaes", "gp", "qmc")
_STRATEGIES = ("narrowing", "random", "guided", "grid", "hyperband") + _SAMPLER_STRATEGIES
_PRUNING = ("halving", "median", "none")
_PREPROCESS = ("standard", "none")
_IMPUTE = ("mean", "median", "most_frequent")
_MISSING = {"", "na", "nan", "null", "none", "?"}


def _unknown(key, allowed, where):
    allowed = sorted(allowed)
    close = difflib.get_close_matches(str(key), allowed, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown key {key!r} in {where}; allowed: {', '.join(allowed)}.{hint}")


def load_config(config=None):
    """The full config: ``config`` (a dict, e.g. parsed TOML) over the defaults, checked.

    The defaults are :data:`DEFAULT_CONFIG` with what the chosen built-in
    data set brings over it (:data:`DATA_DEFAULTS`: digits, the default, are
    tuned with a small convolutional network). ``config``'s tables replace
    the defaults key by key, except ``search.space``, which replaces the
    default space whole when given.

    Raises
    ------
    ConfigError
        For unknown keys (with the closest allowed one) and values of the wrong type.
    """
    config = {} if config is None else config
    if not isinstance(config, dict):
        raise ConfigError(f"a config must be a table of tables, got {type(config).__name__}.")
    out = copy.deepcopy(DEFAULT_CONFIG)
    data = config.get("data", {}) if isinstance(config.get("data"), dict) else {}
    given = [k for k in ("name", "csv", "npz") if data.get(k)]
    name = data.get("name") if given else out["data"]["name"]
    for table, values in copy.deepcopy(DATA_DEFAULTS.get(name, {})).items():
        out[table].update(values)
    for table, values in config.items():
        if table not in out:
            raise _unknown(table, out, "the config")
        if not isinstance(values, dict):
            raise ConfigError(f"[{table}] must be a table, got {values!r}.")
        for key, value in values.items():
            if table in _KEYS and key not in _KEYS[table]:
                raise _unknown(key, _KEYS[table], f"[{table}]")
            out[table][key] = value
    data, search = out["data"], out["search"]
    given = [k for k in ("csv", "npz") if data.get(k)]
    if given:
        if "name" not in config.get("data", {}):
            data["name"] = None
        if len(given) > 1 or data.get("name"):
            raise ConfigError("[data] takes one of name, csv or npz, not several.")
    if data.get("name") is not None and data["name"] not in BUILTIN_DATA:
        raise _unknown(data["name"], BUILTIN_DATA, "[data] name")
    if data.get("csv") and not data.get("target"):
        raise ConfigError("[data] csv needs target, the name of the target column.")
    if data.get("task") not in (None, "classification", "regression"):
        raise ConfigError(f"[data] task must be 'classification' or 'regression', got {data['task']!r}.")
    if data["preprocess"] not in _PREPROCESS:
        raise _unknown(data["preprocess"], _PREPROCESS, "[data] preprocess")
    if data["impute"] is not None and data["impute"] not in _IMPUTE:
        raise _unknown(data["impute"], _IMPUTE, "[data] impute")
    if search["strategy"] not in _STRATEGIES:
        raise _unknown(search["strategy"], _STRATEGIES, "[search] strategy")
    if search["strategy"] in _SAMPLER_STRATEGIES:
        from skhp.search.sampler import missing_package

        missing = missing_package(search["strategy"])
        if missing is not None:
            raise ConfigError(f"[search] strategy {search['strategy']!r} is Optuna's sampler and "
                              f"needs {missing}: pip install {missing}")
    pruning = search.get("pruning")
    if pruning is not None and pruning not in _PRUNING:
        raise _unknown(pruning, _PRUNING, "[search] pruning")
    given = config.get("search", {}).get("pruning", "none") != "none"
    if search["strategy"] == "hyperband" and given:
        raise ConfigError("[search] pruning: the hyperband strategy prunes by its own brackets; "
                          "leave pruning out.")
    if pruning == "none" or search["strategy"] == "hyperband":
        search["pruning"] = None
    for key, low in (("trials", 1), ("cv", 2), ("n_jobs", None), ("seed", 0)):
        value = search[key]
        if key == "trials" and value is None:
            continue  # by the data's size (default_trials)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or (
                low is not None and value < low):
            raise ConfigError(f"[search] {key} must be a whole number{f' >= {low}' if low is not None else ''}"
                              f", got {value!r}.")
    budget = search["time_budget"]
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, numbers.Real) or budget <= 0):
        raise ConfigError(f"[search] time_budget must be a number of seconds > 0, got {budget!r}.")
    if search["scoring"] is not None and not isinstance(search["scoring"], str):
        raise ConfigError(f"[search] scoring must be a scorer name such as 'accuracy', got {search['scoring']!r}.")
    if not isinstance(search.get("options", {}), dict):
        raise ConfigError(f"[search.options] must be a table, got {search['options']!r}.")
    if not isinstance(search["space"], dict) or not search["space"]:
        raise ConfigError("[search.space] must be a table of at least one parameter.")
    if not isinstance(out["output"]["dir"], str):
        raise ConfigError(f"[output] dir must be a path, got {out['output']['dir']!r}.")
    if not isinstance(out["output"]["baselines"], bool):
        raise ConfigError(f"[output] baselines must be true or false, got {out['output']['baselines']!r}.")
    make_space(search["space"])  # fails now, not after the data loaded
    return out


def make_space(space):
    """The search space of a config's ``[search.space]`` table.

    ``{low, high}`` is a range (integers when both are whole numbers, with
    ``log = true`` on a log scale and ``base = 2`` for powers of two), a list
    is a choice.

    Examples
    --------
    >>> make_space({"lr": {"low": 1e-4, "high": 1e-1, "log": True}, "bs": {"low": 16, "high": 64, "base": 2}})
    {'lr': Real(low=0.0001, high=0.1, log=True), 'bs': Integer(low=16, high=64, log=True, base=2)}
    """
    out = {}
    for name, spec in space.items():
        where = f"[search.space] {name}"
        if isinstance(spec, list):
            if not spec:
                raise ConfigError(f"{where}: the list of choices is empty.")
            kinds = {_kind(v) for v in spec}
            if len(kinds) > 1:
                raise ConfigError(
                    f"{where}: the choices {spec!r} mix {' and '.join(sorted(kinds))}; write them "
                    "all of one kind (numbers unquoted, names quoted).")
            out[name] = spec
            continue
        if not isinstance(spec, dict):
            raise ConfigError(f"{where} must be a list of choices or {{ low = ..., high = ... }}, got {spec!r}.")
        for key in spec:
            if key not in ("low", "high", "log", "base"):
                raise _unknown(key, ("low", "high", "log", "base"), where)
        if "low" not in spec or "high" not in spec:
            raise ConfigError(f"{where} needs both low and high.")
        low, high = spec["low"], spec["high"]
        try:
            if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (low, high)):
                out[name] = Integer(low, high, log=bool(spec.get("log", False)), base=spec.get("base"))
            else:
                if "base" in spec:
                    raise ConfigError(f"{where}: base needs whole-number low and high.")
                out[name] = Real(low, high, log=bool(spec.get("log", False)))
        except ValueError as err:
            if isinstance(err, ConfigError):
                raise
            raise ConfigError(f"{where}: {err}") from None
    return out


def default_trials(n_samples):
    """The trials of the default search on ``n_samples`` samples: 60, up to 150 below 1,000.

    Small data sets train fast, and their searches need more trials to find
    the few settings that beat an untuned model (iris: 60 trials tied an
    untuned ``SVC()`` for some seeds, 150 beat it); the work of a search then
    stays about that of 60 trials on 1,000 samples.

    Examples
    --------
    >>> default_trials(150), default_trials(569), default_trials(10_000)
    (150, 105, 60)
    """
    return int(min(150, max(60, round(60_000 / n_samples))))


def _kind(value):
    """What a TOML value is, for refusing a list of choices that mixes kinds."""
    if isinstance(value, bool):
        return "booleans"
    if isinstance(value, numbers.Number):
        return "numbers"
    return "strings" if isinstance(value, str) else f"{type(value).__name__}s"


def load_data(data):
    """``(X, y, task, description)`` for a config's ``[data]`` table.

    Examples
    --------
    >>> X, y, task, text = load_data({"name": "iris"})
    >>> X.shape, task
    ((150, 4), 'classification')
    """
    task = data.get("task")
    if data.get("name"):
        import sklearn.datasets

        loader, default_task = BUILTIN_DATA[data["name"]]
        X, y = getattr(sklearn.datasets, loader)(return_X_y=True)
        if data["name"] == "digits":
            X = X / 16.0
        return X, y, task or default_task, f"scikit-learn's {data['name']} data"
    if data.get("npz"):
        path = data["npz"]
        if not os.path.exists(path):
            raise ConfigError(f"[data] npz: no file {path!r}.")
        with np.load(path, allow_pickle=False) as npz:
            missing = {"X", "y"} - set(npz.files)
            if missing:
                raise ConfigError(f"[data] npz {path!r} lacks {sorted(missing)}; it holds {npz.files}.")
            X, y = npz["X"], npz["y"]
        return X, y, task or _guess_task(y), f"{path} ({len(X)} samples)"
    return _load_csv(data["csv"], data["target"], task, data.get("impute"))


def _load_csv(path, target, task, impute=None):
    if not os.path.exists(path):
        raise ConfigError(f"[data] csv: no file {path!r}.")
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        rows = list(reader)
    if not header or not rows:
        raise ConfigError(f"[data] csv {path!r} needs a header row and at least one data row.")
    if target not in header:
        close = difflib.get_close_matches(target, header, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"[data] target {target!r} is not a column of {path}; its columns are "
                          f"{', '.join(header)}.{hint}")
    t = header.index(target)
    features = [i for i in range(len(header)) if i != t]
    if any(len(row) != len(header) for row in rows):
        bad = next(n for n, row in enumerate(rows, 2) if len(row) != len(header))
        raise ConfigError(f"[data] csv {path!r}: line {bad} has not {len(header)} fields like the header.")
    columns = []
    for i in features:
        values = [row[i].strip() for row in rows]
        missing = [n for n, v in enumerate(values) if v.lower() in _MISSING]
        gone = set(missing)
        if missing and impute is None:
            lines = ", ".join(str(n + 2) for n in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise ConfigError(
                f"[data] csv {path!r}: column {header[i]!r} has {len(missing)} missing values "
                f"(lines {lines}); fill them, or set [data] impute = \"median\" (or \"mean\", "
                "\"most_frequent\").")
        try:
            columns.append([np.nan if n in gone else float(v) for n, v in enumerate(values)])
        except ValueError:  # text: a categorical column, one-hot encoded by the preprocessing
            columns.append([None if n in gone else v for n, v in enumerate(values)])
    numeric = all(isinstance(v, float) for column in columns for v in column)
    X = np.array(columns, dtype=float if numeric else object).T
    try:  # named columns: the saved estimator then predicts on pandas.read_csv(...) quietly
        import pandas
    except ImportError:
        pass
    else:
        X = pandas.DataFrame({header[i]: column for i, column in zip(features, columns)})
    y = np.array([row[t] for row in rows])
    try:
        y = y.astype(float)
    except ValueError:
        pass
    return X, y, task or _guess_task(y), f"{path} ({len(X)} samples, target {target!r})"


def _guess_task(y):
    y = np.asarray(y)
    if y.dtype.kind in "f" and len(np.unique(y)) > max(20, len(y) // 10):
        return "regression"
    return "classification"


def _import_builder(spec, folders=()):
    """The function ``'module:function'`` names; the module may lie in one of ``folders``
    (the config's folder, the working directory), which then join the import path of this
    process and of the parallel workers it starts."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigError(f"[model] builder must be 'package.module:function', got {spec!r}.")
    module, _, name = spec.partition(":")
    top = module.split(".")[0]  # the module or package a folder must hold
    for folder in folders:
        folder = os.path.abspath(folder)
        if os.path.exists(os.path.join(folder, top + ".py")) or os.path.isdir(os.path.join(folder, top)):
            if folder not in sys.path:
                sys.path.insert(0, folder)
                paths = os.environ.get("PYTHONPATH")
                os.environ["PYTHONPATH"] = folder + (os.pathsep + paths if paths else "")
            break
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        where = f" (looked beside the config and in {os.getcwd()})" if folders else ""
        raise ConfigError(f"[model] builder {spec!r} cannot be imported: {err}{where}.") from None


def make_estimator(model, task, folders=()):
    """The skhp estimator of a config's ``[model]`` table (any estimator parameter).

    ``folders`` are where a ``builder``'s module may lie besides the import
    path (the config file's folder and the working directory).
    """
    from skhp.estimators import KerasClassifier, KerasRegressor

    params = dict(model)
    if "builder" in params:
        params["model"] = _import_builder(params.pop("builder"), folders)
    for key in ("hidden_layer_sizes", "conv_layers", "image_shape"):
        if isinstance(params.get(key), list):
            params[key] = tuple(params[key])
    cls = KerasClassifier if task == "classification" else KerasRegressor
    names = set(cls().get_params())
    for key in params:
        if key not in names and "__" not in key:
            raise _unknown(key, names | {"builder"}, "[model]")
    estimator = cls(**params)
    try:
        estimator.check_parameters()  # before any data is split or any model built
    except (ValueError, TypeError) as err:
        raise ConfigError(f"[model] {err}") from None
    return estimator


def make_model(estimator, X, task, data):
    """The estimator inside the config's preprocessing, and the prefix of its parameters.

    With ``preprocess = "standard"`` numeric columns are standardized and the
    others one-hot encoded (a scikit-learn ``ColumnTransformer`` in a
    ``Pipeline``, so the saved estimator carries it), after imputing missing
    values when ``impute`` is set; for regression the target is standardized
    too (``TransformedTargetRegressor``: predictions come back in the target's
    units). The prefix (``"model__"``, ``"regressor__model__"`` or ``""``) is
    what the search space's names take.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> model, prefix = make_model(Ridge(), np.zeros((3, 2)), "regression",
    ...                            {"preprocess": "standard", "impute": None})
    >>> type(model).__name__, prefix
    ('TransformedTargetRegressor', 'regressor__model__')
    """
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    standard, impute = data.get("preprocess", "standard") == "standard", data.get("impute")
    if not standard and impute is None:
        _check_image(estimator, X)
        return estimator, ""
    X = np.asarray(X)
    numeric = [j for j in range(X.shape[1]) if X.dtype != object or all(
        isinstance(v, (int, float, np.number)) for v in X[:, j])]
    categorical = [j for j in range(X.shape[1]) if j not in numeric]
    parts = []
    if numeric:
        steps = ([SimpleImputer(strategy=impute)] if impute else []) + ([StandardScaler()] if standard else [])
        parts.append(("numeric", make_pipeline(*steps) if steps else "passthrough", numeric))
    if categorical:
        steps = ([SimpleImputer(strategy="most_frequent")] if impute else [])
        steps.append(OneHotEncoder(handle_unknown="ignore", sparse_output=False))
        parts.append(("categorical", make_pipeline(*steps), categorical))
    model = Pipeline([("preprocess", ColumnTransformer(parts, sparse_threshold=0)), ("model", estimator)])
    _check_image(estimator, X, model[:-1])
    if task == "regression" and standard:
        return TransformedTargetRegressor(regressor=model, transformer=StandardScaler()), "regressor__model__"
    return model, "model__"


def _check_image(estimator, X, preprocessing=None):
    """A ConfigError now, not a failed fit per trial, when ``image_shape`` does not fit the
    features the built-in model sees (after ``preprocessing``, fitted only then)."""
    if getattr(estimator, "model", True) is not None or (
            not getattr(estimator, "conv_layers", None) and estimator.image_shape is None):
        return
    sample_shape = np.shape(X if preprocessing is None else preprocessing.fit_transform(X))[1:]
    try:
        estimator.check_parameters(np.zeros((1, *sample_shape)))
    except ValueError as err:
        raise ConfigError(f"[model] {err}") from None


def baselines(model, X, y, task, cv, scoring=None, seed=0):
    """Untuned scikit-learn models' mean CV scores on the search's folds, for comparison.

    Each baseline takes the place of the skhp estimator inside ``model``'s
    preprocessing: for classification ``MLPClassifier((64,))`` and ``SVC()``,
    for regression ``MLPRegressor((64,))`` and ``Ridge()``, with their
    defaults. ``cv`` and ``scoring`` are the search's, so the folds are the same.

    Returns
    -------
    dict
        ``{name: (mean CV score, seconds)}``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> model, _ = make_model(LogisticRegression(), X, "classification", {"preprocess": "standard"})
    >>> sorted(baselines(model, X, y, "classification", cv=3))
    ['MLPClassifier((64,))', 'SVC()']
    """
    import time
    import warnings

    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import cross_val_score
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.svm import SVC

    if task == "classification":
        candidates = {"MLPClassifier((64,))": MLPClassifier(hidden_layer_sizes=(64,), random_state=seed),
                      "SVC()": SVC()}
    else:
        candidates = {"MLPRegressor((64,))": MLPRegressor(hidden_layer_sizes=(64,), random_state=seed),
                      "Ridge()": Ridge()}
    step = ("regressor__model" if hasattr(model, "regressor") else "model" if hasattr(model, "steps")
            else None)
    out = {}
    for name, baseline in candidates.items():
        pipeline = baseline if step is None else clone(model).set_params(**{step: baseline})
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # untuned means default max_iter
            scores = cross_val_score(pipeline, X, y, cv=cv, scoring=scoring)
        out[name] = (float(np.mean(scores)), time.perf_counter() - start)
    return out


def final_estimator(model):
    """The estimator at the end of ``model``'s preprocessing (itself when there is none).

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> model, _ = make_model(Ridge(), np.zeros((3, 2)), "regression", {"preprocess": "standard"})
    >>> type(final_estimator(model)).__name__
    'Ridge'
    """
    while True:
        if hasattr(model, "regressor_") or hasattr(model, "regressor"):
            model = getattr(model, "regressor_", None) or model.regressor
        elif hasattr(model, "steps"):
            model = model.steps[-1][1]
        else:
            return model


def prepare(model, X, y):
    """``(X, y)`` as the estimator at the end of ``model``'s preprocessing sees them.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> model, _ = make_model(Ridge(), np.zeros((3, 2)), "regression", {"preprocess": "standard"})
    >>> Xt, yt = prepare(model, np.array([[0.0, 1], [1, 1], [2, 1]]), np.array([1.0, 2, 3]))
    >>> Xt[:, 0].round(3).tolist(), yt.round(3).tolist()
    ([-1.225, 0.0, 1.225], [-1.225, 0.0, 1.225])
    """
    from sklearn.base import clone

    y = np.asarray(y)
    if hasattr(model, "transformer"):  # TransformedTargetRegressor
        y = clone(model.transformer).fit_transform(y.reshape(len(y), -1)).reshape(y.shape)
        model = model.regressor
    if hasattr(model, "steps"):
        X = clone(model[:-1]).fit_transform(X)
    return X, y


def make_search(config, estimator, storage=None, study=None, prefix=""):
    """The search object of a config's ``[search]`` table; ``prefix`` goes before every
    parameter name of the space (the estimator inside a preprocessing pipeline)."""
    from skhp.hyperparameters import hp_build_function
    from skhp.search import check_space_names

    s = config["search"]
    names = make_space(s["space"])
    default = s["space"] in [DEFAULT_CONFIG["search"]["space"]] + [
        d.get("search", {}).get("space") for d in DATA_DEFAULTS.values()]
    build = hp_build_function(getattr(final_estimator(estimator), "model", None))
    if default and build is not None:
        return _search_of(s, estimator, _declared_space(build, prefix), storage, study)
    if default:
        # a default space over a regressor: label smoothing is for classifiers only
        taken = final_estimator(estimator).get_params()
        names = {name: dim for name, dim in names.items() if name in taken}
    try:  # before any data is split or any model trained
        check_space_names(final_estimator(estimator), names)
    except ValueError as err:
        raise ConfigError(f"[search.space] {err}") from None
    return _search_of(s, estimator, {prefix + name: dim for name, dim in names.items()},
                      storage, study)


def _declared_space(build, prefix):
    """The space a builder of hp declares (``[search.space]`` left out), its names prefixed."""
    from skhp.search import SpaceUnion, space_from

    try:
        declared = space_from(build)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"[search.space] the builder's own space could not be read ({err}); "
                          "give the space as a [search.space] table over its hp__ names.") from None
    spaces = [{prefix + name: dim for name, dim in sub.dimensions.items()}
              for sub in declared.subspaces]
    return SpaceUnion(spaces, declared.weights) if isinstance(declared, SpaceUnion) else spaces[0]


def _search_of(s, estimator, space, storage, study):
    """The ``[search]`` table's search over ``space``, its options applied and checked."""
    from sklearn.base import is_classifier

    from skhp.search import (
        GuidedSearchCV,
        HyperbandSearchCV,
        NarrowingSearchCV,
        RandomSearchCV,
        SamplerSearchCV,
        SpaceGridSearchCV,
    )

    common = dict(cv=s["cv"], scoring=s["scoring"], n_jobs=s["n_jobs"], error_score=np.nan,
                  time_budget=s["time_budget"], storage=storage, study=study)
    if s["scoring"] is None and s["strategy"] != "guided" and is_classifier(estimator):
        # Accuracy decides; the log loss breaks its ties. On small data accuracy moves in
        # steps (1/150 on iris) and is flat over most settings: the tie-break leads the
        # search to the surer models among equals (the guided recipe decides by the loss).
        common.update(scoring={"accuracy": "accuracy", "neg_log_loss": "neg_log_loss"},
                      refit="accuracy")
    trials = s["trials"] or 60  # None is by the data's size (default_trials); 60 unknown
    if s["strategy"] != "hyperband":  # hyperband's brackets set its trials and pruning
        common.update(n_iter=trials, pruning=s.get("pruning"))
    if s["strategy"] == "hyperband":
        search = HyperbandSearchCV(estimator, space, random_state=s["seed"], **common)
    elif s["strategy"] == "narrowing":
        # a fifth of a large budget explores the whole space before narrowing (the oracle's
        # 10 random points, alone, narrowed 150 trials on wine into a basin of 0.9831)
        search = NarrowingSearchCV(estimator, space, random_state=s["seed"],
                                   n_initial=max(10, trials // 5), **common)
    elif s["strategy"] == "guided":
        search = GuidedSearchCV(estimator, space, **common)
    elif s["strategy"] == "grid":
        search = SpaceGridSearchCV(estimator, space, **common)
    elif s["strategy"] in _SAMPLER_STRATEGIES:
        search = SamplerSearchCV(estimator, space, sampler=s["strategy"], random_state=s["seed"],
                                 **common)
    else:
        search = RandomSearchCV(estimator, space, round_size=5, random_state=s["seed"], **common)
    options = s.get("options") or {}
    fixed = {"cv", "scoring", "n_jobs", "error_score", "n_iter", "time_budget", "storage", "study",
             "random_state", "estimator", "param_distributions", "param_space", "param_grid",
             "progress", "pruning", "sampler"}
    allowed = set(search.get_params(deep=False)) - fixed
    for key in options:
        if key not in allowed:
            raise _unknown(key, allowed, f"[search.options] of the {s['strategy']} strategy")
    try:
        search.set_params(**options)._validate_params()
    except ValueError as err:
        raise ConfigError(f"[search.options] {err}") from None
    return search
