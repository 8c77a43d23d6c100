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
