"""Reports of a finished search: tables, files and pictures in an output folder.

:func:`write` (also :func:`write_reports`) takes any fitted search — skhp's or
scikit-learn's — and writes ``cv_results.csv``, ``best_params.json``, the refitted
best model (``best_model.keras``) and estimator (``estimator.joblib``),
``scores.png`` (the score of every trial, rounds marked), ``importance.png``
(which parameters the score depends on, :func:`importance`), ``slices.png`` (the
score against each parameter), ``parallel.png`` (parallel coordinates),
``learning_curves.png`` (the best model's loss and metrics per epoch, with their
validation curves when it held data out), ``summary.md`` and ``report.html``, one
self-contained page with all of it. :func:`results_table` is the table the
``skhp`` command prints.
"""

import csv
import json
import os

import numpy as np

__all__ = ["write", "write_reports", "results_table", "importance", "importance_epoch", "plot_scores",
           "plot_importance", "plot_slices", "plot_parallel_coordinates", "plot_learning_curves",
           "write_html"]


def _pyplot():
    """matplotlib and pyplot, drawing off-screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return matplotlib, plt


def _save(fig, path):
    _, plt = _pyplot()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _primary(search):
    refit = search.refit if isinstance(search.refit, str) else "score"
    key = f"mean_test_{refit}"
    return key if key in search.cv_results_ else next(
        k for k in search.cv_results_ if k.startswith("mean_test_"))


def _scores(search):
    return np.asarray(search.cv_results_[_primary(search)], dtype=float)


def _best_index(search):
    """The best trial: ``best_index_``, or, without refit (a multi-metric search with
    ``refit=False`` has none), the first ranked by the primary metric."""
    if hasattr(search, "best_index_"):
        return int(search.best_index_)
    rank = search.cv_results_.get(_primary(search).replace("mean_", "rank_", 1))
    if rank is not None:
        return int(np.argmin(np.asarray(rank)))
    return int(np.nanargmax(_scores(search)))


def _pruned(results, n):
    """Which of the ``n`` trials of ``results`` (``cv_results_``) pruning stopped."""
    return np.asarray(results.get("pruned", np.zeros(n, bool)), dtype=bool)


def _reached_scores(search):
    """Every trial's score and whether it was pruned: a pruned trial's is its last rung's.

    A pruned search's final scores are NaN for most trials, whose rung
    scores are the informative part; the slices and parallel coordinates
    show them, marked.
    """
    res = search.cv_results_
    scores = _scores(search).copy()
    pruned = _pruned(res, len(scores))
    rungs = res.get("rung_scores")
    for i in np.flatnonzero(pruned):
        if rungs is not None and rungs[i]:
            scores[i] = float(list(rungs[i].values())[-1])
    return scores, pruned


def _epochs(n):
    return f"{n} epoch" + ("" if n == 1 else "s")


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
    header, rows, note = _top_trials(search, top, prefix)
    lines = [f"{header[0]:<4}  {header[1]:>5}  {header[2]:<15}  {header[3]}"]
    lines += [f"{rank:<4}  {trial:>5}  {score}  {params}" for rank, trial, score, params in rows]
    return "\n".join(lines + ([note] if note else []))


def _top_trials(search, top=5, prefix=""):
    """The ``top`` completed trials: ``(header, rows, note)``, ``note`` on the pruned ones."""
    res = search.cv_results_
    key = _primary(search)
    scores = np.asarray(res[key], dtype=float)
    std = np.asarray(res[key.replace("mean_", "std_")], dtype=float)
    pruned = _pruned(res, len(scores))
    order = [i for i in np.argsort(-np.nan_to_num(scores, nan=-np.inf)) if not pruned[i]][:top]
    rows = []
    for rank, i in enumerate(order, 1):
        params = ", ".join(f"{_unprefixed(k, prefix)}={_short(v)}" for k, v in res["params"][i].items())
        rows.append((rank, int(i), f"{scores[i]:.4f} ± {std[i]:.4f}", params))
    note = None
    if pruned.any():
        epochs = np.asarray(res["epochs_trained"], dtype=float)[pruned]
        low, high = int(np.nanmin(epochs)), int(np.nanmax(epochs))
        after = f"{low}-{high} epochs" if low < high else _epochs(low)
        note = f"({int(pruned.sum())} more trials were pruned after {after})"
    return ("rank", "trial", "score", "parameters"), rows, note


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
    matplotlib, plt = _pyplot()

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
    pruned = _pruned(res, len(scores))
    rungs = res.get("rung_scores")
    if rungs is not None and any(rungs):  # pruning: every rung's score, pruned trials' last one
        xs = [t for t in trials for _ in rungs[t]]
        ys = [v for t in trials for v in rungs[t].values()]
        ax.scatter(xs, ys, marker="_", s=40, color="grey", label="score at each rung")
        reached, _ = _reached_scores(search)
        ax.scatter(trials[pruned], reached[pruned], facecolors="none", edgecolors="black",
                   s=30, label="pruned (at its last rung)")
    failed = ~np.isfinite(scores) & ~pruned
    if failed.any():
        ax.scatter(trials[failed], np.full(failed.sum(), np.nanmin(scores) if np.isfinite(scores).any() else 0),
                   marker="x", color="red", label="failed")
    ax.set(xlabel="trial", ylabel=_primary(search).replace("mean_test_", "CV "),
           title="Score of every trial (dotted lines: new rounds)")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _save(fig, path)


def plot_learning_curves(history, path):
    """Loss (left) and metrics (right) per epoch, validation curves beside training ones.

    The learning rate goes on a second axis of the loss panel.
    """
    matplotlib, plt = _pyplot()

    names = [n for n in history if n not in ("lr", "momentum")]
    losses = [n for n in names if n.endswith("loss")]
    metrics = [n for n in names if n not in losses]
    fig, axes = plt.subplots(1, 2 if metrics else 1, figsize=(10 if metrics else 6, 4), squeeze=False)
    for ax, group, label in zip(axes[0], (losses, metrics), ("loss", "metric")):
        for name in group:
            values = history[name]
            ax.plot(np.arange(1, len(values) + 1), values, marker=".",
                    ls="--" if name.startswith("val_") else "-", label=name)
        ax.set(xlabel="epoch", ylabel=label)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.legend(fontsize=7)
    if "lr" in history:
        ax2 = axes[0][0].twinx()
        ax2.plot(np.arange(1, len(history["lr"]) + 1), history["lr"], color="grey", ls=":",
                 label="learning rate")
        ax2.set_ylabel("learning rate")
        ax2.set_ylim(0, 1.1 * max(max(history["lr"]), 1e-12))  # a constant rate: a flat line
        ax2.legend(loc="center right", fontsize=7)
    validated = any(n.startswith("val_") for n in names)
    fig.suptitle("Best trial, refitted: learning curves"
                 + ("" if validated else " (no held-out data: set validation_split for validation curves)"),
                 fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def _parameter_table(search, prefix=""):
    """Each searched parameter's values per trial: ``{name: (values, kind)}``.

    ``kind`` is ``"log"`` (positive numbers spanning more than a decade),
    ``"linear"`` (other numbers) or ``"choice"`` (anything else, as labels).
    Parameters with one value only are left out.
    """
    params = search.cv_results_["params"]
    names = []
    for p in params:
        names += [k for k in p if k not in names]
    table = {}
    for name in names:
        values = [p.get(name) for p in params]
        if len({repr(v) for v in values}) < 2:
            continue
        numeric = all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values)
        if numeric:
            v = np.asarray(values, dtype=float)
            kind = "log" if v.min() > 0 and v.max() / v.min() > 10 else "linear"
        else:
            v, kind = np.asarray([_short(x) if x is not None else "-" for x in values], dtype=object), "choice"
        table[_unprefixed(name, prefix)] = (v, kind)
    return table


def _encoded(values, kind):
    """One numeric column for a parameter: log10 for log ranges, codes for choices."""
    if kind == "log":
        return np.log10(values)
    if kind == "linear":
        return np.asarray(values, dtype=float)
    labels = sorted(set(values), key=str)
    return np.asarray([labels.index(v) for v in values], dtype=float)


#: Fewer completed trials than this in a pruned search: importance reads every trial's
#: score at the first rung (see :func:`importance_epoch`).
_FEW_COMPLETED = 10


def importance_epoch(search):
    """The rung whose scores :func:`importance` explains, or None for the trials' final scores.

    In a pruned search where fewer than 10 trials completed, the final
    scores say little (a forest fitted on five points ranks noise), so the
    scores every trial reached are used instead: those of the first rung.

    Examples
    --------
    >>> class Pruned:
    ...     refit = True
    ...     cv_results_ = {"mean_test_score": [0.9, float("nan"), float("nan")],
    ...                    "rung_scores": [{1: 0.5, 3: 0.9}, {1: 0.2}, {1: 0.3}]}
    >>> importance_epoch(Pruned())
    1
    """
    rungs = search.cv_results_.get("rung_scores")
    if rungs is None or not any(rungs) or np.isfinite(_scores(search)).sum() >= _FEW_COMPLETED:
        return None
    return min(min(r) for r in rungs if r)


def importance(search, prefix="", random_state=0, epoch=None):
    """How much each parameter explains the trials' scores, summing to 1.

    A random-forest surrogate is fitted on the finished trials (parameter
    values to CV score; log ranges as log10, choices as codes) and each
    parameter's importance is the loss of the surrogate's fit when that
    parameter's column is permuted (scikit-learn's ``permutation_importance``),
    normalized. Failed trials are left out; fewer than 4 finished trials or
    constant scores give all zeros. With ``epoch`` (a pruned search's rung,
    see :func:`importance_epoch`) the scores are the trials' mean CV scores
    at that epoch, pruned trials included.

    Returns
    -------
    dict
        ``{parameter: importance}``, most important first.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import RandomizedSearchCV
    >>> from sklearn.svm import SVC
    >>> X, y = load_iris(return_X_y=True)
    >>> s = RandomizedSearchCV(SVC(), {"C": np.logspace(-3, 2, 20), "shrinking": [True, False]},
    ...                        n_iter=12, random_state=0).fit(X, y)
    >>> list(importance(s))[0]
    'C'
    """
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    table, scores = _parameter_table(search, prefix), _scores(search)
    if epoch is not None:
        scores = np.array([r.get(epoch, np.nan) for r in search.cv_results_["rung_scores"]], float)
    finite = np.isfinite(scores)
    if not table:
        return {}
    Z = np.column_stack([_encoded(v, kind) for v, kind in table.values()])[finite]
    if finite.sum() < 4 or np.ptp(scores[finite]) == 0:
        return {name: 0.0 for name in table}
    forest = RandomForestRegressor(n_estimators=100, min_samples_leaf=2, random_state=random_state)
    forest.fit(Z, scores[finite])
    drop = permutation_importance(forest, Z, scores[finite], n_repeats=5,
                                  random_state=random_state).importances_mean
    drop = np.clip(drop, 0, None)
    total = drop.sum()
    shares = drop / total if total > 0 else np.zeros_like(drop)
    return dict(sorted(zip(table, shares.tolist()), key=lambda kv: -kv[1]))


def plot_importance(shares, path, epoch=None):
    """Horizontal bars of :func:`importance`'s shares (``epoch``: the rung they explain).

    Examples
    --------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "importance.png")
    >>> plot_importance({"learning_rate": 0.8, "batch_size": 0.2}, path) == path
    True
    """
    matplotlib, plt = _pyplot()

    names = list(shares)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(names) + 1.6), layout="constrained")
    ax.barh(names, [shares[n] for n in names], color="tab:blue")
    ax.set(xlabel="share of the score's variation explained (random-forest surrogate)",
           title="Hyperparameter importance" + (f"\n(of every trial's score after {_epochs(epoch)})"
                                                 if epoch is not None else ""), xlim=(0, 1))
    return _save(fig, path)


def plot_slices(search, path, prefix=""):
    """The CV score of every trial against each parameter (log axes for log ranges).

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.svm import SVC
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(SVC(), {"C": [0.1, 1, 10], "kernel": ["rbf", "linear"]}, cv=3).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "slices.png")
    >>> plot_slices(search, path) == path
    True
    """
    matplotlib, plt = _pyplot()

    table = _parameter_table(search, prefix)
    scores, pruned = _reached_scores(search)
    n = max(len(table), 1)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols + 1, 3.2 * rows), squeeze=False,
                             layout="constrained")
    trials = np.arange(len(scores))
    for ax, (name, (values, kind)) in zip(axes.flat, table.items()):
        if kind == "choice":
            labels = sorted(set(values), key=str)
            x = np.asarray([labels.index(v) for v in values], dtype=float)
            ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=7)
        else:
            x = values
            if kind == "log":
                ax.set_xscale("log")
                if values.max() / values.min() > 100:  # labelled decades: minor labels crowd
                    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        x = np.asarray(x, dtype=float)
        done = ~pruned
        points = ax.scatter(x[done], scores[done], c=trials[done], cmap="viridis", s=22,
                            vmin=0, vmax=max(len(scores) - 1, 1), label="completed")
        if pruned.any():
            ax.scatter(x[pruned], scores[pruned], facecolors="none", s=22, linewidths=0.8,
                       edgecolors=plt.get_cmap("viridis")(trials[pruned] / max(len(scores) - 1, 1)),
                       label="pruned (score at its last rung)")
            if ax is axes.flat[0]:
                ax.legend(fontsize=7, loc="best")
        ax.set(xlabel=name, ylabel="CV score")
    for ax in list(axes.flat)[len(table):]:
        ax.axis("off")
    if table:
        fig.colorbar(points, ax=axes.ravel().tolist(), label="trial")
    fig.suptitle("Score against each parameter (colour: trial order"
                 + ("; open circles: pruned trials at their last rung)" if pruned.any() else ")"),
                 fontsize=10)
    return _save(fig, path)


def plot_parallel_coordinates(search, path, prefix=""):
    """Every trial as a line across the parameters' axes, coloured by its CV score.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> grid = {"C": [0.01, 1, 100], "fit_intercept": [True, False]}
    >>> search = GridSearchCV(LogisticRegression(max_iter=500), grid, cv=3).fit(X, y)
    >>> out = tempfile.mkdtemp()
    >>> os.path.basename(plot_parallel_coordinates(search, os.path.join(out, "parallel.png")))
    'parallel.png'
    """
    matplotlib, plt = _pyplot()

    table = _parameter_table(search, prefix)
    scores, pruned = _reached_scores(search)
    columns, ticks = [], []
    for values, kind in table.values():
        z = _encoded(values, kind)
        low, high = z.min(), z.max()
        columns.append((z - low) / (high - low) if high > low else np.full(len(z), 0.5))
        if kind == "choice":
            ticks.append(sorted(set(values), key=str))
        else:
            ticks.append([_short(float(values.min())), _short(float(values.max()))])
    fig, ax = plt.subplots(figsize=(max(7, 2.0 * len(table) + 2), 5))
    finite, best = np.isfinite(scores), _best_index(search)
    if columns and finite.any():
        cmap = plt.get_cmap("viridis")
        low, high = np.nanmin(scores[finite]), np.nanmax(scores[finite])
        span = high - low if high > low else 1.0
        data = np.column_stack(columns)
        for i in np.argsort(np.where(finite, scores, -np.inf)):  # the best drawn last, on top
            if finite[i]:
                ax.plot(range(len(columns)), data[i], color=cmap((scores[i] - low) / span),
                        lw=2.5 if i == best else 0.9, alpha=0.6 if pruned[i] else 0.9,
                        ls=(0, (3, 2)) if pruned[i] else "-")
        mappable = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(low, high))
        fig.colorbar(mappable, ax=ax, label="CV score")
    ax.set_xticks(range(len(table)), list(table))
    for j, labels in enumerate(ticks):
        for k, label in enumerate(labels):
            ax.annotate(str(label), (j, k / max(len(labels) - 1, 1)), fontsize=9,
                        xytext=(4, 0), textcoords="offset points", color="black",
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    ax.set(yticks=[], title="Parallel coordinates (thick line: the best trial"
           + ("; dashed: pruned trials, coloured by their last rung's score)" if pruned.any()
              else ")"))
    fig.tight_layout()
    return _save(fig, path)


def write_html(path, title, sections):
    """One self-contained HTML page: ``sections`` of (heading, body, image path or None).

    A body is plain text (shown as it is, preformatted), a list of blocks
    (rendered: headings, lists, tables) or None. Images are embedded
    (base64 PNG), so the page needs no other file.

    Examples
    --------
    >>> import tempfile
    >>> path = write_html(os.path.join(tempfile.mkdtemp(), "r.html"), "Report", [("Summary", "ok", None)])
    >>> "<h2>Summary</h2>" in open(path).read()
    True
    """
    import base64
    import html

    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "pre{background:#f6f6f6;padding:.8em;overflow-x:auto}img{max-width:100%}"
             "table{border-collapse:collapse;font-size:.9em}th,td{border-bottom:1px solid #ddd;"
             "padding:.3em .7em;text-align:left;vertical-align:top}"
             "code{background:#f3f3f3;padding:0 .2em}</style>",
             f"</head><body><h1>{html.escape(title)}</h1>"]
    for heading, text, image in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(text, str):
            parts.append(f"<pre>{html.escape(text)}</pre>")
        elif text:
            parts.append(_html(text))
        if image:
            with open(image, "rb") as fh:
                data = base64.b64encode(fh.read()).decode("ascii")
            parts.append(f"<img alt='{html.escape(heading)}' src='data:image/png;base64,{data}'>")
    # After loading, the page records how many of its images decoded (read by the tests' browser).
    parts.append("<script>addEventListener('load', () => { document.body.dataset.images = "
                 "[...document.images].filter(i => i.complete && i.naturalWidth > 0).length; });"
                 "</script></body></html>")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(parts))
    return path


def write(search, folder, description=None, prefix=""):
    """Write every report of a fitted search into ``folder``; returns the paths written.

    Works on skhp's searches and scikit-learn's (``GridSearchCV``,
    ``RandomizedSearchCV``, halving searches). The saved ``estimator.joblib``
    is the whole refitted estimator (with its preprocessing);
    ``best_model.keras`` and the learning curves come from the Keras
    estimator at its end, when there is one. ``prefix`` (e.g. ``"model__"``)
    is left out of parameter names.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.svm import SVC
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(SVC(), {"C": [0.1, 1, 10], "gamma": [0.01, 0.1]}, cv=3).fit(X, y)
    >>> names = [os.path.basename(p) for p in write(search, tempfile.mkdtemp())]
    >>> "report.html" in names and "importance.png" in names
    True
    """
    import joblib

    os.makedirs(folder, exist_ok=True)
    at = lambda name: os.path.join(folder, name)  # noqa: E731
    written = [write_cv_results(search, at("cv_results.csv"))]
    index = _best_index(search)
    best = {_unprefixed(k, prefix): _plain(v) for k, v in search.cv_results_["params"][index].items()}
    with open(at("best_params.json"), "w") as fh:
        json.dump({"best_score": float(_scores(search)[index]), "best_params": best}, fh, indent=2)
    written.append(at("best_params.json"))
    epoch = importance_epoch(search)
    shares = importance(search, prefix, epoch=epoch)
    images = {"scores": plot_scores(search, at("scores.png"))}
    if shares:
        images["importance"] = plot_importance(shares, at("importance.png"), epoch)
        images["slices"] = plot_slices(search, at("slices.png"), prefix)
        images["parallel"] = plot_parallel_coordinates(search, at("parallel.png"), prefix)
    from skhp.experiment import final_estimator

    estimator = final_estimator(getattr(search, "best_estimator_", None))
    if hasattr(estimator, "model_"):
        estimator.model_.save(at("best_model.keras"))
        written.append(at("best_model.keras"))
    if getattr(estimator, "history_", None):
        images["learning"] = plot_learning_curves(estimator.history_, at("learning_curves.png"))
    written += list(images.values())
    if hasattr(search, "best_estimator_"):
        joblib.dump(search.best_estimator_, at("estimator.joblib"))
        written.append(at("estimator.joblib"))
    blocks = _summary(search, description, written + [at("summary.md"), at("report.html")],
                      prefix, shares, epoch)
    with open(at("summary.md"), "w") as fh:
        fh.write(_markdown(blocks))
    written.append(at("summary.md"))
    sections = [("Summary", blocks, None), ("Scores", None, images["scores"])]
    sections += [(heading, None, images[key]) for key, heading in (
        ("importance", "Hyperparameter importance"), ("slices", "Score against each parameter"),
        ("parallel", "Parallel coordinates"), ("learning", "Learning curves of the best trial"))
        if key in images]
    written.append(write_html(at("report.html"), "Search report", sections))
    return written


#: The name :mod:`skhp.cli` and earlier releases use.
write_reports = write


def _summary(search, description, written, prefix="", shares=None, epoch=None):
    """The summary as blocks: ``(kind, ...)`` with kind h1, h2, p, ul (items) or table."""
    res = search.cv_results_
    scores = np.asarray(res[_primary(search)], dtype=float)
    pruned = _pruned(res, len(scores))
    failed = int(np.sum(~np.isfinite(scores) & ~pruned))
    best = _best_index(search)
    blocks = [("h1", "Search summary")]
    if description:
        blocks.append(("p", description))
    blocks.append(("ul", [
        f"trials: {len(scores)} ({failed} failed"
        + (f", {int(pruned.sum())} pruned" if pruned.any() else "")
        + f"), cv folds: {search.n_splits_}",
        f"best {_primary(search).replace('mean_test_', '')}: {scores[best]:.4f} (trial {best})",
        f"total fit time: {float(np.sum(res['mean_fit_time']) * search.n_splits_):.1f} s"]))
    blocks += [("h2", "Best parameters"), ("ul", [
        f"`{_unprefixed(k, prefix)}` = `{_short(v)}`" for k, v in res["params"][best].items()])]
    if shares:
        blocks.append(("h2", "Hyperparameter importance"))
        if epoch is not None:
            blocks.append(("p", f"Of every trial's score after {_epochs(epoch)} (few trials completed)."))
        blocks.append(("ul", [f"`{name}`: {share:.2f}" for name, share in shares.items()]))
    blocks += [("h2", "Top trials"), ("table", *_top_trials(search, prefix=prefix)),
               ("h2", "Files"), ("ul", [f"`{os.path.basename(p)}`" for p in written])]
    return blocks


def _markdown(blocks):
    """Blocks of :func:`_summary` as Markdown (``summary.md``)."""
    lines = []
    for kind, *body in blocks:
        if kind in ("h1", "h2"):
            lines += [("# " if kind == "h1" else "## ") + body[0], ""]
        elif kind == "p":
            lines += [body[0], ""]
        elif kind == "ul":
            lines += [f"- {item}" for item in body[0]] + [""]
        else:
            header, rows, note = body
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
            lines += ([""] + [note] if note else []) + [""]
    return "\n".join(lines)


def _html(blocks):
    """Blocks of :func:`_summary` as HTML (backticks become ``<code>``)."""
    import html
    import re

    def inline(text):
        return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(str(text)))

    parts = []
    for kind, *body in blocks:
        if kind == "h1":
            continue  # the page's section heading stands for it
        if kind in ("h2", "p"):
            tag = {"h2": "h3", "p": "p"}[kind]  # under the page's h1 and its sections' h2
            parts.append(f"<{tag}>{inline(body[0])}</{tag}>")
        elif kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{inline(item)}</li>" for item in body[0]) + "</ul>")
        else:
            header, rows, note = body
            parts.append("<table><thead><tr>" + "".join(f"<th>{inline(h)}</th>" for h in header)
                         + "</tr></thead><tbody>" + "".join(
                             "<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>"
                             for row in rows) + "</tbody></table>")
            if note:
                parts.append(f"<p>{inline(note)}</p>")
    return "\n".join(parts)
