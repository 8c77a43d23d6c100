"""The skhp command: the default experiment, configs, reports, errors, resuming."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from skhp.cli import main
from skhp.schedules import SCHEDULES

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def skhp(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "skhp", *map(str, args)], capture_output=True,
                          text=True, timeout=600, env=ENV, cwd=cwd)


@pytest.mark.slow
def test_default_experiment_on_a_tiny_budget_writes_every_report(tmp_path):
    out = tmp_path / "out"
    run = skhp("tune", "--trials", "2", "--epochs", "1", "--cv", "2", "--output", out)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "digits" in run.stdout and "narrowing search, 2 trials, cv=2" in run.stdout
    assert "best score" in run.stdout and "rank  trial  score" in run.stdout
    assert "trial 2/2" in run.stderr  # plain progress lines when not on a terminal
    for noise in ("I0000", "E0000", "absl::InitializeLog", "cuInit"):  # TensorFlow's start-up lines
        assert noise not in run.stderr
    assert "retracing" not in run.stderr + run.stdout  # scoring calls the model, no new predict function
    assert re.search(r"untuned baselines on the same folds: MLPClassifier\(\(64,\)\) 0\.\d{4} "
                     r"\(\d+\.\d s\), SVC\(\) 0\.9\d{3}", run.stdout)
    files = {p.name for p in out.iterdir()}
    assert files >= {"cv_results.csv", "best_params.json", "best_model.keras", "estimator.joblib",
                     "scores.png", "importance.png", "slices.png", "parallel.png",
                     "learning_curves.png", "summary.md", "report.html", "trials.db"}
    best = json.loads((out / "best_params.json").read_text())
    assert set(best["best_params"]) == {"learning_rate", "batch_size", "initializer", "schedule",
                                        "smoothing", "weight_decay"}
    assert (out / "cv_results.csv").read_text().count("\n") == 3  # header + 2 trials

    again = skhp("tune", "--trials", "2", "--epochs", "1", "--cv", "2", "--output", out)
    assert again.returncode == 2 and "pass --resume" in again.stderr
    more = skhp("tune", "--trials", "3", "--epochs", "1", "--cv", "2", "--output", out, "--resume",
                "--quiet")
    assert more.returncode == 0, more.stderr[-3000:]
    assert "(2 trials resumed from" in more.stdout
    assert "trial 3/3" not in more.stderr  # --quiet: no progress


def test_grid_strategy_sizes_its_grid_to_the_trials_and_resumes(tmp_path, capsys):
    config = tmp_path / "grid.toml"
    config.write_text('[data]\nname = "iris"\n[model]\nhidden_layer_sizes = [4]\n'
                      '[search.space]\nlearning_rate = { low = 1e-3, high = 1e-1, log = true }\n')
    args = ["tune", "--config", str(config), "--strategy", "grid", "--trials", "4", "--epochs", "1",
            "--cv", "2", "--output", str(tmp_path / "out"), "--quiet"]
    assert main(args) == 0
    rows = (tmp_path / "out" / "cv_results.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 4  # the grid holds 4 points, not grid(3)
    assert main(args + ["--resume"]) == 0
    assert "(4 trials resumed from" in capsys.readouterr().out


@pytest.mark.slow
def test_toml_config(tmp_path):
    config = tmp_path / "exp.toml"
    config.write_text("""
[data]
name = "iris"

[model]
hidden_layer_sizes = [8]
epochs = 2
batch_size = 16

[search]
strategy = "random"
trials = 2
cv = 2
scoring = "accuracy"

[search.space]
learning_rate = { low = 1e-3, high = 1e-1, log = true }

[output]
dir = "results"
""")
    run = skhp("tune", "--config", config, "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    best = json.loads((tmp_path / "results" / "best_params.json").read_text())
    assert list(best["best_params"]) == ["learning_rate"]
    assert 1e-3 <= best["best_params"]["learning_rate"] <= 1e-1


@pytest.mark.slow
def test_other_commands(tmp_path):
    config = tmp_path / "iris.toml"
    config.write_text('[data]\nname = "iris"\n[model]\nhidden_layer_sizes = [8]\n')
    run = skhp("lr-find", "--config", config, "--output", tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "suggested learning_rate" in run.stdout and (tmp_path / "lr_find.png").exists()
    assert f"curve in {tmp_path / 'lr_find.png'}" in run.stdout and "Axes" not in run.stdout
    assert main(["schedules", "--output", str(tmp_path / "s"), "--epochs", "5"]) == 0
    assert len(list((tmp_path / "s").glob("schedule_*.png"))) == len(SCHEDULES)
    assert main(["bench", "beale", "--seeds", "1", "--methods", "L-BFGS-B"]) == 0


@pytest.mark.parametrize("command", [[], ["tune"], ["lr-find"], ["bench"], ["schedules"]])
def test_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    assert "usage: skhp" in capsys.readouterr().out


def _error(tmp_path, capsys, config_text=None, args=()):
    argv = ["tune", "--output", str(tmp_path / "out"), *args]
    if config_text is not None:
        path = tmp_path / "c.toml"
        path.write_text(config_text)
        argv += ["--config", str(path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("skhp: error: ") and "\n" not in err
    return err


@pytest.mark.parametrize("config_text, message", [
    ("[serch]\ntrials = 3\n", "unknown key 'serch' in the config; allowed: data, model, output, "
                              "search. Did you mean 'search'?"),
    ("[search]\ntrails = 3\n", "unknown key 'trails' in [search]"),
    ("[search]\ntrials = 'ten'\n", "[search] trials must be a whole number >= 1, got 'ten'"),
    ("[search]\nstrategy = 'narowing'\n", "Did you mean 'narrowing'?"),
    ("[data]\nname = 'mnist'\n", "unknown key 'mnist' in [data] name"),
    ("[model]\nlearnig_rate = 0.1\n", "unknown key 'learnig_rate' in [model]"),
    ("[model]\nlearning_rate = -1.0\n", "[model] The 'learning_rate' parameter of KerasClassifier must be a float in the range (0.0, inf), a str among {'auto'} or None. Got -1.0 instead."),
    ("[search.space]\nlr = { low = 1.0, high = 0.1 }\n", "low must not exceed high"),
    ("[search.space]\nbatch_size = []\n", "the list of choices is empty"),
    ("[search.space]\nlerning_rate = [0.1, 0.01]\n",
     "[search.space] the search space names 'lerning_rate', which KerasClassifier does not take. "
     "Did you mean 'learning_rate'?"),
    ("[search]\nstrategy = 'random'\n[search.space]\noptimizer__nesterof = [true]\n",
     "optimizer Adam takes no argument 'nesterof'"),
    ("[data]\ncsv = 'missing.csv'\ntarget = 'y'\n", "no file 'missing.csv'"),
    ("[data]\nnpz = 'missing.npz'\n", "no file 'missing.npz'"),
    ("not toml at all [\n", "is not valid TOML"),
    ("[search]\npruning = 'halve'\n", "unknown key 'halve' in [search] pruning"),
    ("[data]\nname = 'wine'\n[model]\nconv_layers = [4]\n",
     "[model] conv_layers=(4,) needs image_shape, the (height, width) or (height, width, channels) "
     "of one sample; X has 13 features per sample."),
    ("[model]\nimage_shape = [8, 4]\n", "[model] image_shape=(8, 4) holds 32 values, but X has 64"),
    ("[search]\nstrategy = 'hyperband'\npruning = 'median'\n",
     "the hyperband strategy prunes by its own brackets"),
    ("[search.space]\nsmoothing = [0.0, '0.1']\n",
     "[search.space] smoothing: the choices [0.0, '0.1'] mix numbers and strings"),
])
def test_bad_configs_give_one_line_errors(tmp_path, capsys, config_text, message):
    assert message in _error(tmp_path, capsys, config_text)


BUILDER = """
import keras


def build(meta):
    return keras.Sequential([keras.Input((meta["n_features_in_"],)),
                             keras.layers.Dense(meta["n_classes_"], activation="softmax")])
"""


@pytest.mark.parametrize("where", ["beside the config", "in the working directory"])
def test_a_builders_module_is_found_beside_the_config_and_in_the_working_directory(
        tmp_path, monkeypatch, capsys, where):
    module = f"userbuild_{where.split()[-1]}"
    config_dir, work = tmp_path / "configs", tmp_path / "work"
    config_dir.mkdir(), work.mkdir()
    (config_dir if where == "beside the config" else work).joinpath(f"{module}.py").write_text(BUILDER)
    config = config_dir / "c.toml"
    config.write_text(f"[data]\nname = 'iris'\n[model]\nbuilder = '{module}:build'\n")
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    assert main(["tune", "--config", str(config), "--dry-run", "--trials", "2"]) == 0
    assert module in sys.modules
    del sys.modules[module]


def test_missing_config_file_and_bad_csv_column(tmp_path, capsys):
    assert "no config file" in _error(tmp_path, capsys, args=["--config", str(tmp_path / "no.toml")])
    data = tmp_path / "d.csv"
    data.write_text("a,b,label\n1,2,x\n3,4,y\n")
    err = _error(tmp_path, capsys, f"[data]\ncsv = '{data}'\ntarget = 'lable'\n")
    assert "target 'lable' is not a column" in err and "Did you mean 'label'?" in err
    data.write_text("a,b,label\n1,2\n")
    assert "line 2 has not 3 fields like the header" in _error(
        tmp_path, capsys, f"[data]\ncsv = '{data}'\ntarget = 'label'\n")


def test_dry_run_and_list_datasets_train_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["tune", "--dry-run", "--trials", "4", "--cv", "2", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert '"trials": 4' in text and "4 trials x 2 folds = 8 fits" in text and "nothing was trained" in text
    assert not out.exists()
    assert main(["tune", "--list-datasets"]) == 0
    listing = capsys.readouterr().out
    assert "wine" in listing and "178" in listing and "regression" in listing
    assert main(["tune", "--dry-run", "--config", str(tmp_path / "none.toml")]) == 2


def test_dry_run_counts_hyperbands_trials(tmp_path, capsys):
    config = tmp_path / "hb.toml"
    config.write_text('[model]\nepochs = 9\n[search]\nstrategy = "hyperband"\ncv = 3\n')
    assert main(["tune", "--dry-run", "--config", str(config)]) == 0
    assert "17 trials x 3 folds = 51 fits in Hyperband's brackets" in capsys.readouterr().out


def test_a_pruned_run_says_which_trials_it_stopped(tmp_path, capfd):
    config = tmp_path / "p.toml"
    config.write_text('[data]\nname = "iris"\n[model]\nhidden_layer_sizes = [8]\nepochs = 3\n'
                      '[search]\nstrategy = "random"\npruning = "halving"\ntrials = 6\ncv = 2\n'
                      '[search.space]\nlearning_rate = { low = 1e-4, high = 1e-1, log = true }\n'
                      '[output]\nbaselines = false\n')
    out = tmp_path / "out"
    assert main(["tune", "--config", str(config), "--output", str(out)]) == 0
    captured = capfd.readouterr()  # the progress goes to the process's own stderr
    assert "pruning=halving" in captured.out
    assert captured.err.count("pruned at epoch 1") == 4  # 6 trials, the top third go on
    assert "(4 more trials were pruned after 1 epoch)" in captured.out
    summary = (out / "summary.md").read_text()
    assert "- trials: 6 (0 failed, 4 pruned)" in summary
    assert "Of every trial's score after 1 epoch (few trials completed)." in summary
    rows = (out / "cv_results.csv").read_text().splitlines()
    assert "pruned" in rows[0] and "epochs_trained" in rows[0]


def test_help_has_no_markup_and_points_to_the_config_format(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "::" not in text and "``" not in text
    assert "config format" in text


def _tune(tmp_path, config_text, *extra):
    config = tmp_path / "c.toml"
    config.write_text(config_text)
    out = tmp_path / "out"
    code = main(["tune", "--config", str(config), "--output", str(out), "--quiet", "--no-storage", *extra])
    return code, out


ONE_TRIAL = ('[model]\nhidden_layer_sizes = [32]\nepochs = 30\nbatch_size = 16\nrandom_state = 0\n'
             '[search]\ntrials = 1\ncv = 3\n[search.space]\nlearning_rate = [0.003]\n')


def test_built_in_data_is_standardized_wine_beats_the_majority_class(tmp_path):
    code, out = _tune(tmp_path, '[data]\nname = "wine"\n' + ONE_TRIAL)
    assert code == 0
    best = json.loads((out / "best_params.json").read_text())
    assert best["best_params"] == {"learning_rate": 0.003}  # names without the pipeline's prefix
    assert best["best_score"] > 0.9  # unscaled: 0.33-0.37, below the 0.40 majority class
    assert (out / "best_model.keras").exists() and (out / "learning_curves.png").exists()


def test_regression_scales_the_target(tmp_path):
    code, out = _tune(tmp_path, '[data]\nname = "diabetes"\n' + ONE_TRIAL.replace("epochs = 30", "epochs = 40"))
    assert code == 0
    assert json.loads((out / "best_params.json").read_text())["best_score"] > 0.3  # r2; raw: < 0
    import joblib
    model = joblib.load(out / "estimator.joblib")
    from sklearn.datasets import load_diabetes
    X, y = load_diabetes(return_X_y=True)
    assert abs(model.predict(X).mean() - y.mean()) < 0.2 * y.std()  # predictions in the target's units


def test_csv_with_a_text_column_and_missing_values(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = ["size,colour,weight,label"]
    for i in range(90):
        colour = ["red", "green", "blue"][i % 3]
        weight = "" if i in (4, 17) else f"{rng.normal(50 + 10 * (i % 3), 2):.2f}"
        rows.append(f"{rng.normal(i % 3, 0.3):.3f},{colour},{weight},{'abc'[i % 3]}")
    data = tmp_path / "d.csv"
    data.write_text("\n".join(rows) + "\n")
    base = f'[data]\ncsv = "{data}"\ntarget = "label"\n' + ONE_TRIAL
    code, _ = _tune(tmp_path, base)
    err = capsys.readouterr().err
    assert code == 2 and "column 'weight' has 2 missing values (lines 6, 19)" in err and "impute" in err
    code, out = _tune(tmp_path, base.replace('target = "label"\n', 'target = "label"\nimpute = "median"\n'))
    assert code == 0
    assert json.loads((out / "best_params.json").read_text())["best_score"] > 0.9
    # the saved estimator predicts on the CSV as pandas reads it, without feature-name warnings
    import warnings

    import joblib
    import pandas as pd

    frame = pd.read_csv(data).drop(columns="label")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        predicted = joblib.load(out / "estimator.joblib").predict(frame)
    assert (predicted == pd.read_csv(data)["label"]).mean() > 0.9


def test_search_options_reach_the_strategy_and_are_checked(tmp_path, capsys):
    config = tmp_path / "o.toml"
    config.write_text('[search.options]\npolicy = "book"\nround_size = 4\n')
    assert main(["tune", "--config", str(config), "--dry-run"]) == 0
    assert '"policy": "book"' in capsys.readouterr().out
    config.write_text('[search.options]\npolcy = "book"\n')
    assert main(["tune", "--config", str(config), "--dry-run"]) == 2
    assert "unknown key 'polcy' in [search.options] of the narrowing strategy" in capsys.readouterr().err
    config.write_text('[search.options]\npolicy = "bok"\n')
    assert main(["tune", "--config", str(config), "--dry-run"]) == 2
    assert "The 'policy' parameter of NarrowingSearchCV must be a str among" in capsys.readouterr().err


@pytest.mark.slow
def test_parallel_workers_print_no_tensorflow_lines(tmp_path):
    config = tmp_path / "parallel.toml"
    config.write_text('[data]\nname = "iris"\n[model]\nhidden_layer_sizes = [4]\n'
                      '[search]\nn_jobs = 2\n[output]\nbaselines = false\n')
    run = skhp("tune", "--config", config, "--trials", "2", "--epochs", "1", "--cv", "2",
               "--output", tmp_path / "out", "--no-storage")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "trial 2/2" in run.stderr  # the command's own progress still shows
    for noise in ("I0000", "E0000", "absl::InitializeLog", "cuInit"):
        assert noise not in run.stderr
    assert "untuned baselines" not in run.stdout


def test_help_starts_neither_scikit_learn_nor_tensorflow():
    code = ("import sys\nfrom skhp.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n"
            "    print(sorted(m for m in ('sklearn', 'tensorflow', 'keras') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
                         timeout=120)
    assert run.returncode == 0 and run.stdout.strip().endswith("[]"), run.stdout[-500:]


def test_the_default_pruning_can_be_turned_off_and_hyperband_keeps_its_own():
    from skhp.experiment import load_config

    assert load_config()["search"]["pruning"] == "median"  # the digits default
    assert load_config({"data": {"name": "wine"}})["search"]["pruning"] == "median"
    assert load_config({"search": {"pruning": "none"}})["search"]["pruning"] is None
    assert load_config({"search": {"strategy": "hyperband"}})["search"]["pruning"] is None


def test_digits_bring_a_convolutional_network_other_data_the_mlp():
    from skhp.experiment import DEFAULT_CONFIG, load_config, load_data, make_estimator, make_model

    config = load_config()
    assert config["model"]["conv_layers"] == [16, 32] and config["data"]["preprocess"] == "none"
    assert config["search"]["space"]["batch_size"]["low"] == 32
    assert load_config({"data": {"name": "digits"}}) == config
    for other in ({"data": {"name": "wine"}}, {"data": {"csv": "x.csv", "target": "y"}}):
        mlp = load_config(other)
        assert mlp["model"] == DEFAULT_CONFIG["model"] and mlp["data"]["preprocess"] == "standard"
        assert mlp["search"]["space"] == DEFAULT_CONFIG["search"]["space"]
    # the user's config has the last word
    own = load_config({"model": {"conv_layers": []}, "data": {"preprocess": "standard"}})
    assert own["model"]["conv_layers"] == [] and own["model"]["image_shape"] == [8, 8]
    X, y, task, _ = load_data(config["data"])
    model, prefix = make_model(make_estimator(config["model"], task), X, task, config["data"])
    assert prefix == "" and model.conv_layers == (16, 32) and model.image_shape == (8, 8)
    assert X.min() == 0 and X.max() == 1  # pixels scaled to [0, 1], not standardized


def test_the_default_space_over_a_regressor_leaves_smoothing_out_a_given_one_does_not():
    from skhp.experiment import ConfigError, load_config, load_data, make_estimator, make_model, make_search

    def search(config):
        X, y, task, _ = load_data(config["data"])
        model, prefix = make_model(make_estimator(config["model"], task), X, task, config["data"])
        return make_search(config, model, prefix=prefix), prefix

    default, prefix = search(load_config({"data": {"name": "diabetes"}}))
    names = [name[len(prefix):] for name in default.param_distributions]
    assert names == ["learning_rate", "batch_size", "initializer", "schedule", "weight_decay"]
    given = load_config({"data": {"name": "diabetes"}, "search": {"space": {"smoothing": [0.0, 0.1]}}})
    with pytest.raises(ConfigError, match="names 'smoothing', which KerasRegressor does not take"):
        search(given)


def test_optuna_strategies_run_resume_and_need_optuna(tmp_path, capsys, monkeypatch):
    pytest.importorskip("optuna")
    config = tmp_path / "tpe.toml"
    config.write_text('[data]\nname = "iris"\n[model]\nhidden_layer_sizes = [4]\nepochs = 3\n'
                      '[search]\nstrategy = "tpe"\ntrials = 6\ncv = 2\n'
                      '[search.options]\nround_size = 3\n'
                      '[search.space]\nlearning_rate = { low = 1e-4, high = 1e-1, log = true }\n'
                      '[output]\nbaselines = false\n')
    out = tmp_path / "out"
    assert main(["tune", "--config", str(config), "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "tpe search, 6 trials, cv=2, pruning=median" in text
    rows = (out / "cv_results.csv").read_text().splitlines()
    assert len(rows) == 1 + 6 and all(",TPESampler," in row for row in rows[1:])
    assert main(["tune", "--config", str(config), "--output", str(out), "--quiet", "--resume",
                 "--trials", "9"]) == 0
    assert "(6 trials resumed from" in capsys.readouterr().out
    assert main(["tune", "--config", str(config), "--strategy", "cmaes", "--dry-run"]) == 0
    assert "SamplerSearchCV" in capsys.readouterr().out
    config.write_text('[search.options]\nsampler = "gp"\n[search]\nstrategy = "tpe"\n')
    assert main(["tune", "--config", str(config), "--dry-run"]) == 2
    assert "unknown key 'sampler' in [search.options] of the tpe strategy" in capsys.readouterr().err
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    config.write_text('[search]\nstrategy = "tpe"\n')
    assert main(["tune", "--config", str(config), "--dry-run"]) == 2
    assert "strategy 'tpe' is Optuna's sampler and needs optuna: pip install optuna" in (
        capsys.readouterr().err)


def test_config_errors_come_before_the_store_and_write_nothing(tmp_path, capsys):
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "trials.db").write_text("")  # an earlier search's store
    typo = tmp_path / "typo.toml"
    typo.write_text("[model]\nhiden_layer_sizes = [8]\n")
    assert main(["tune", "--config", str(typo), "--output", str(earlier)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'hiden_layer_sizes' in [model]" in err and "--resume" not in err
    space = tmp_path / "space.toml"
    space.write_text("[search]\ntrials = 2\n[search.space]\nlearning_rat = [0.001, 0.01]\n")
    fresh = tmp_path / "fresh"
    assert main(["tune", "--config", str(space), "--output", str(fresh)]) == 2
    assert "names 'learning_rat'" in capsys.readouterr().err
    assert not fresh.exists()  # nothing written before the checks pass


def test_backend_option_names_the_backend_keras_already_runs_on(capsys):
    import keras

    other = "jax" if keras.backend.backend() != "jax" else "torch"
    assert main(["--backend", other, "tune", "--dry-run"]) == 2
    assert f"--backend {other}: Keras already runs on {keras.backend.backend()}" in capsys.readouterr().err

