"""Reports of a finished search: tables, files and pictures in an output folder.

:func:`write_reports` writes ``cv_results.csv``, ``best_params.json``, the refitted
best model (``best_model.keras``) and estimator (``estimator.joblib``),
``scores.png`` (the score of every trial, rounds marked), ``learning_curves.png``
(the best model's loss, metrics and learning rate per epoch) and ``summary.md``;
:func:`results_table` is the table the ``skhp`` command prints.
"""

import csv
import json
import os

import numpy as np

__all__ = ["write_reports", "results_table", "plot_scores", "plot_learning_curves"]


def _primary(search):
    refit = search.refit if isinstance(search.refit, str) else "score"
    key = f"mean_test_{refit}"
    return key if key in search.cv_results_ else next(
        k for k in search.cv_results_ if k.startswith("mean_test_"))


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value if isinstance(value, (int, float, str, bool, list, dict, type(None))) else repr(value)


def results_table(search, top=5, prefix=""):
    """The ``top`` trials by score as text (rank, score ± std, parameters).

    ``prefix`` (e.g. ``"model__"``, the estimator's step in a preprocessing
    pipeline) is left out of the parameter names.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> s = GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.01, 1]}, cv=3).fit(X, y)
    >>> print(results_table(s).splitlines()[0])
    rank  trial  score            parameters
    """
    res = search.cv_results_
    key = _primary(search)
    scores = np.asarray(res[key], dtype=float)
    std = np.asarray(res[key.replace("mean_", "std_")], dtype=float)
    order = [i for i in np.argsort(-np.nan_to_num(scores, nan=-np.inf))][:top]
    lines = [f"{'rank':<4}  {'trial':>5}  {'score':<15}  parameters"]
    for rank, i in enumerate(order, 1):
        params = ", ".join(f"{_unprefixed(k, prefix)}={_short(v)}" for k, v in res["params"][i].items())
        lines.append(f"{rank:<4}  {i:>5}  {scores[i]:.4f} ± {std[i]:.4f}  {params}")
    return "\n".join(lines)


def _unprefixed(name, prefix):
    return name[len(prefix):] if prefix and name.startswith(prefix) else name


def _short(value):
    return f"{value:.3g}" if isinstance(value, float) else repr(value)


def write_cv_results(search, path):
    """``cv_results_`` as CSV: one row per trial, parameters as ``param_*`` columns."""
    res = search.cv_results_
    columns = [k for k in res if k != "params"]
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["trial", *columns])
        for i in range(len(res["params"])):
            row = []
            for k in columns:
                value = res[k][i]
                row.append("" if value is np.ma.masked else _plain(value))
            writer.writerow([i, *row])
    return path


def plot_scores(search, path):
    """The score of every trial in order, coloured by round, with the best so far."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = search.cv_results_
    scores = np.asarray(res[_primary(search)], dtype=float)
    trials = np.arange(len(scores))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    rounds = np.asarray(res["round"]) if "round" in res else np.zeros(len(scores), int)
    steps = list(res["step"]) if "step" in res else ["trial"] * len(scores)
    for r in np.unique(rounds):
        mask = rounds == r
        first = int(np.flatnonzero(mask)[0])
        ax.scatter(trials[mask], scores[mask], s=25, label=f"round {r}: {steps[first]}" if r < 8 else None)
        if first:
            ax.axvline(first - 0.5, color="grey", lw=0.5, ls=":")
    best = np.fmax.accumulate(np.nan_to_num(scores, nan=-np.inf))
    ax.step(trials, np.where(np.isfinite(best), best, np.nan), where="post", color="black",
            lw=1, label="best so far")
    failed = ~np.isfinite(scores)
    if failed.any():
        ax.scatter(trials[failed], np.full(failed.sum(), np.nanmin(scores) if (~failed).any() else 0),
                   marker="x", color="red", label="failed")
    ax.set(xlabel="trial", ylabel=_primary(search).replace("mean_test_", "CV "),
           title="Score of every trial (dotted lines: new rounds)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_learning_curves(history, path):
    """Loss and metrics per epoch, with the learning rate on a second axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, values in history.items():
        if name not in ("lr", "momentum"):
            ax.plot(np.arange(1, len(values) + 1), values, marker=".", label=name)
    ax.set(xlabel="epoch", ylabel="value", title="Best trial, refitted: learning curves")
    if "lr" in history:
        ax2 = ax.twinx()
        ax2.plot(np.arange(1, len(history["lr"]) + 1), history["lr"], color="grey", ls="--",
                 label="learning rate")
        ax2.set_ylabel("learning rate")
        ax2.legend(loc="center right", fontsize=7)
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_reports(search, folder, description=None, prefix=""):
    """Write every report of a fitted search into ``folder``; returns the paths written.

    The saved ``estimator.joblib`` is the whole refitted estimator (with its
    preprocessing); ``best_model.keras`` and the learning curves come from the
    Keras estimator at its end. ``prefix`` is left out of parameter names.
    """
    import joblib

    os.makedirs(folder, exist_ok=True)
    written = [write_cv_results(search, os.path.join(folder, "cv_results.csv"))]
    best = {_unprefixed(k, prefix): _plain(v) for k, v in search.best_params_.items()}
    path = os.path.join(folder, "best_params.json")
    with open(path, "w") as fh:
        json.dump({"best_score": float(search.best_score_), "best_params": best}, fh, indent=2)
    written.append(path)
    written.append(plot_scores(search, os.path.join(folder, "scores.png")))
    from skhp.experiment import final_estimator

    estimator = final_estimator(search.best_estimator_)
    if hasattr(estimator, "model_"):
        path = os.path.join(folder, "best_model.keras")
        estimator.model_.save(path)
        written.append(path)
    if getattr(estimator, "history_", None):
        written.append(plot_learning_curves(estimator.history_,
                                            os.path.join(folder, "learning_curves.png")))
    path = os.path.join(folder, "estimator.joblib")
    joblib.dump(search.best_estimator_, path)
    written.append(path)
    written.append(_summary(search, folder, description, written, prefix))
    return written


def _summary(search, folder, description, written, prefix=""):
    res = search.cv_results_
    scores = np.asarray(res[_primary(search)], dtype=float)
    failed = int(np.sum(~np.isfinite(scores)))
    lines = ["# Search summary", ""]
    if description:
        lines += [description, ""]
    lines += [
        f"- trials: {len(scores)} ({failed} failed), cv folds: {search.n_splits_}",
        f"- best {_primary(search).replace('mean_test_', '')}: {search.best_score_:.4f} "
        f"(trial {search.best_index_})",
        f"- total fit time: {float(np.sum(res['mean_fit_time']) * search.n_splits_):.1f} s",
        "", "## Best parameters", "",
    ]
    lines += [f"- `{_unprefixed(k, prefix)}` = `{_short(v)}`" for k, v in search.best_params_.items()]
    lines += ["", "## Top trials", "", "```", results_table(search, prefix=prefix), "```", "",
              "## Files", ""]
    lines += [f"- `{os.path.basename(p)}`" for p in written]
    path = os.path.join(folder, "summary.md")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path
