"""Reports of a search: importance, plots and the self-contained HTML page, on any search."""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC

from skhp import reports


class ScriptedSearch:
    """What the reports read of a fitted search, with scores scripted from the parameters."""

    refit = True

    def __init__(self, params, scores):
        self.cv_results_ = {"params": params, "mean_test_score": np.asarray(scores, dtype=float),
                            "std_test_score": np.zeros(len(scores))}
        self.best_index_ = int(np.nanargmax(scores))


def test_importance_ranks_the_only_informative_parameter_first():
    rng = np.random.default_rng(0)
    params = [{"model__learning_rate": float(10 ** rng.uniform(-4, -1)),
               "model__batch_size": int(rng.choice([16, 32, 64, 128])),
               "model__schedule": str(rng.choice(["constant", "cosine"]))} for _ in range(40)]
    # the score peaks at lr 1e-2 and ignores the rest
    scores = [1 - (np.log10(p["model__learning_rate"]) + 2) ** 2 for p in params]
    shares = reports.importance(ScriptedSearch(params, scores), prefix="model__")
    assert list(shares)[0] == "learning_rate" and shares["learning_rate"] > 0.8
    assert sum(shares.values()) == pytest.approx(1.0)
    # a failed trial is left out; constant scores explain nothing
    assert list(reports.importance(ScriptedSearch(params, scores[:-1] + [np.nan]), "model__"))[0] \
        == "learning_rate"
    assert set(reports.importance(ScriptedSearch(params, [0.5] * 40), "model__").values()) == {0.0}


def test_a_pruned_search_with_few_completed_trials_explains_every_trials_first_rung(tmp_path):
    rng = np.random.default_rng(1)
    params = [{"model__learning_rate": float(10 ** rng.uniform(-4, -1)),
               "model__batch_size": int(rng.choice([16, 32, 64, 128]))} for _ in range(30)]
    early = [1 - (np.log10(p["model__learning_rate"]) + 2) ** 2 for p in params]
    kept = set(np.argsort(early)[-5:])  # the five best go on and complete
    final = [early[i] + 0.1 if i in kept else np.nan for i in range(30)]
    search = ScriptedSearch(params, final)
    search.cv_results_["rung_scores"] = [{2: early[i], **({16: final[i]} if i in kept else {})}
                                         for i in range(30)]
    search.cv_results_["pruned"] = np.array([i not in kept for i in range(30)])
    assert reports.importance_epoch(search) == 2
    shares = reports.importance(search, "model__", epoch=2)
    assert list(shares)[0] == "learning_rate" and shares["learning_rate"] > 0.8
    # with enough completed trials the final scores are explained
    search.cv_results_["mean_test_score"] = np.asarray(early)
    assert reports.importance_epoch(search) is None
    assert reports.importance_epoch(ScriptedSearch(params, final)) is None  # no rungs: unpruned


def test_write_takes_a_scikit_learn_search_and_writes_one_self_contained_page(tmp_path):
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(SVC(), {"C": [0.01, 0.1, 1, 10, 100], "kernel": ["rbf", "linear"]},
                          cv=3).fit(X, y)
    names = {os.path.basename(p) for p in reports.write(search, tmp_path)}
    assert names == {"cv_results.csv", "best_params.json", "scores.png", "importance.png",
                     "slices.png", "parallel.png", "estimator.joblib", "summary.md", "report.html"}
    page = (tmp_path / "report.html").read_text()
    assert len(re.findall(r"<img alt='[^']+' src='data:image/png;base64,", page)) == 4
    assert "src='http" not in page and "href=" not in page  # nothing outside the page
    assert "Hyperparameter importance" in (tmp_path / "summary.md").read_text()


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="needs Chromium (Debian package 'chromium') to open the page headless")
def test_the_html_report_opens_in_a_headless_browser_and_shows_every_plot(tmp_path):
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(SVC(), {"C": [0.01, 1, 100], "gamma": [0.01, 0.1, 1]}, cv=3).fit(X, y)
    reports.write(search, tmp_path)
    run = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--virtual-time-budget=5000", "--dump-dom", (tmp_path / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert 'data-images="4"' in run.stdout  # every embedded plot decoded and shown
    assert "Uncaught" not in run.stderr and "ERROR:CONSOLE" not in run.stderr
    dom = run.stdout
    # the summary is a rendered page, not its Markdown source in a preformatted block
    assert "<h3>Best parameters</h3>" in dom and "<table>" in dom and "<code>C</code>" in dom
    assert "<pre>" not in dom and "##" not in dom and "`" not in dom
    assert dom.count("<tr>") == 1 + 5  # the header and the top five trials


def _pruned_search():
    class Stub:  # a search's results as a pruned narrowing search leaves them
        pass

    search = Stub()
    rng = np.random.default_rng(0)
    n = 12
    lrs = 10 ** rng.uniform(-4, -1, n)
    pruned = np.array([i % 4 != 0 for i in range(n)])
    rungs = [{1: float(0.5 + 0.1 * np.log10(lr) + 0.5)} | ({} if p else {3: float(0.9)})
             for lr, p in zip(lrs, pruned)]
    scores = np.where(pruned, np.nan, 0.9 + 0.01 * rng.normal(size=n))
    search.cv_results_ = {
        "params": [{"learning_rate": float(lr), "batch_size": int(b)}
                   for lr, b in zip(lrs, rng.choice([32, 64], n))],
        "mean_test_score": scores, "std_test_score": np.zeros(n), "rank_test_score":
        np.argsort(np.argsort(-np.nan_to_num(scores, nan=-1))) + 1, "pruned": pruned,
        "rung_scores": rungs, "epochs_trained": np.where(pruned, 1, 3), "mean_fit_time": np.ones(n)}
    search.refit, search.n_splits_ = False, 3
    return search


def test_pruned_trials_show_in_the_slices_and_parallel_coordinates(tmp_path, monkeypatch):
    import matplotlib.axes

    search = _pruned_search()
    drawn = []
    original = matplotlib.axes.Axes.scatter
    monkeypatch.setattr(matplotlib.axes.Axes, "scatter",
                        lambda self, x, y, *a, **k: drawn.append((k.get("label"), len(x)))
                        or original(self, x, y, *a, **k))
    reports.plot_slices(search, tmp_path / "slices.png")
    # each of the 2 panels: the 3 completed trials, and the 9 pruned ones at their last rung
    assert drawn == [("completed", 3), ("pruned (score at its last rung)", 9)] * 2
    lines = []
    plot = matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "plot",
                        lambda self, *a, **k: lines.append(k.get("ls")) or plot(self, *a, **k))
    reports.plot_parallel_coordinates(search, tmp_path / "parallel.png")
    assert len(lines) == 12 and sum(ls != "-" for ls in lines) == 9  # pruned: dashed
