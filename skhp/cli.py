"""The skhp command: tuning experiments, LR range test, benchmarks, schedule plots.

  skhp tune                      the built-in experiment (digits, small CNN, narrowing search)
  skhp tune --config exp.toml    an experiment of your own
  skhp tune --dry-run            the resolved experiment and its number of fits, no training
  skhp tune --list-datasets      the built-in data sets
  skhp tune --resume             continue the study stored in the output folder
  skhp lr-find                   LR range test, curve in lr_find.png
  skhp bench beale               Beale: scipy.optimize vs skhp's strategies
  skhp schedules                 one PNG per learning-rate schedule

The config format (TOML, or YAML with PyYAML): python -m pydoc skhp.experiment,
or the user guide's page on the command (docs/guide/cli.rst).

Exit status 0 on success, 2 with a one-line "skhp: error: ..." for a bad
command line or config.
"""

import argparse
import contextlib
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["main"]


def _start_tensorflow_quietly():
    """Import TensorFlow and start its runtime without its C++ start-up lines.

    (See :mod:`skhp._tensorflow`: they would land in the middle of the
    command's output.)
    """
    import skhp.estimators  # noqa: F401  (imports Keras and TensorFlow, quietly)
    from skhp.runtime import configure, visible_gpus

    configure()
    visible_gpus()


@contextlib.contextmanager
def _quiet_workers():
    """Give processes started in the block (joblib's workers) a closed stderr.

    A worker starts TensorFlow when its first task arrives, and TensorFlow's
    C++ start-up lines go straight to file descriptor 2; this process keeps
    its own stderr (progress, warnings) on a copy of the real one.
    """
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    stream, previous = os.fdopen(os.dup(saved), "w", buffering=1), sys.stderr
    os.dup2(devnull, 2)
    sys.stderr = stream
    try:
        yield
    finally:
        sys.stderr = previous
        stream.close()
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def _read_config(path):
    from skhp.experiment import ConfigError

    if path is None:
        return {}
    if not os.path.exists(path):
        raise ConfigError(f"no config file {path!r}.")
    if path.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise ConfigError("YAML configs need PyYAML (pip install pyyaml); TOML needs nothing.") from None
        with open(path) as fh:
            return yaml.safe_load(fh) or {}
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}.") from None


def _folders(path):
    """Where a ``[model] builder``'s module may lie: beside the config, and the working directory."""
    return ([os.path.dirname(os.path.abspath(path))] if path else []) + [os.getcwd()]


def _overrides(config, args):
    """Command-line options over the config file."""
    search = config.setdefault("search", {})
    for option, key in (("trials", "trials"), ("cv", "cv"), ("n_jobs", "n_jobs"), ("seed", "seed"),
                        ("strategy", "strategy"), ("time_budget", "time_budget")):
        value = getattr(args, option)
        if value is not None:
            search[key] = value
    if args.epochs is not None:
        config.setdefault("model", {})["epochs"] = args.epochs
    if args.output is not None:
        config.setdefault("output", {})["dir"] = args.output
    return config


class _Progress:
    """A tqdm bar over trials x folds (plain lines when stderr is not a terminal)."""

    def __init__(self, total_trials, n_folds, quiet):
        from tqdm import tqdm

        self.quiet, self.n_folds = quiet, n_folds
        self.total = total_trials
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.bar = None
        self.reported = 0
        if not quiet and self.tty:
            self.bar = tqdm(total=total_trials * n_folds, unit="fit", desc="trials x folds",
                            dynamic_ncols=True)

    def __call__(self, results):
        import numpy as np

        key = next(k for k in results if k.startswith("mean_test_"))
        scores = np.asarray(results[key], dtype=float)
        done = len(scores)
        best = np.nanmax(scores) if np.isfinite(scores).any() else float("nan")
        if self.bar is not None:
            self.bar.update(done * self.n_folds - self.bar.n)
            self.bar.set_postfix(best=f"{best:.4f}", trial=done)
        elif not self.quiet:
            elapsed = time.monotonic() - self.start
            eta = elapsed / done * (self.total - done) if done else float("nan")
            # a round reports several trials at once: one line each
            pruned = results.get("pruned", np.zeros(done, bool))
            for trial in range(self.reported, done):
                best_so_far = np.nanmax(scores[: trial + 1]) if np.isfinite(scores[: trial + 1]).any() else float("nan")
                score = f"score {scores[trial]:.4f}"
                if pruned[trial]:
                    epoch, at = list(results["rung_scores"][trial].items())[-1]
                    score = f"pruned at epoch {epoch} ({at:.4f})"
                best_text = f"{best_so_far:.4f}" if np.isfinite(best_so_far) else "none yet"
                print(f"trial {trial + 1}/{self.total}  {score}  "
                      f"best {best_text}  elapsed {elapsed:.0f} s  eta {eta:.0f} s",
                      file=sys.stderr, flush=True)
        self.reported = done

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _list_datasets():
    from skhp.experiment import BUILTIN_DATA, load_data

    print(f"{'name':<14} {'task':<15} {'samples':>7} {'features':>8}  classes")
    for name, (_, task) in BUILTIN_DATA.items():
        X, y, _, _ = load_data({"name": name, "task": None})
        classes = len(set(y.tolist())) if task == "classification" else "-"
        print(f"{name:<14} {task:<15} {X.shape[0]:>7} {X.shape[1]:>8}  {classes}")
    print('use one with [data] name = "..." in a config, or csv = "file.csv" and target = "column"')
    return 0


def _n_trials(config, search):
    """The trials a search runs: ``[search] trials``, or Hyperband's brackets' candidates."""
    from skhp.search.pruning import hyperband_brackets

    if config["search"]["strategy"] != "hyperband":
        return config["search"]["trials"]
    brackets = hyperband_brackets(config["model"]["epochs"], search.factor)
    return sum(b["sizes"][0] for b in brackets) * search.hyperband_iterations


def _dry_run(config, search, described, task):
    import json

    s = config["search"]
    print(json.dumps(config, indent=2, default=repr))
    print(f"{described}, {task}; {type(search).__name__}")
    if s["strategy"] == "hyperband":
        trials = _n_trials(config, search)
        print(f"{trials} trials x {s['cv']} folds = {trials * s['cv']} fits in Hyperband's "
              "brackets, most of them stopped after a few epochs, plus 1 refit of the best; "
              "nothing was trained")
        return 0
    n_fits = s["trials"] * s["cv"]
    print(f"{s['trials']} trials x {s['cv']} folds = {n_fits} fits"
          + (", at most (the guided recipe usually ends sooner)" if s["strategy"] == "guided" else "")
          + (f", pruned by {s['pruning']} (most stop after a few epochs)" if s.get("pruning") else "")
          + ", plus 1 refit of the best; nothing was trained")
    return 0


def _tune(args):
    from skhp.experiment import (
        ConfigError,
        baselines,
        default_trials,
        load_config,
        load_data,
        make_estimator,
        make_model,
        make_search,
    )
    from skhp.reports import results_table, write_reports

    if args.list_datasets:
        return _list_datasets()
    config = load_config(_overrides(_read_config(args.config), args))
    folder = config["output"]["dir"]
    db = os.path.join(folder, "trials.db")
    _start_tensorflow_quietly()
    # the config and the data are checked first, and nothing is written before they pass
    X, y, task, described = load_data(config["data"])
    if config["search"]["trials"] is None:  # by the data's size
        config["search"]["trials"] = default_trials(len(y))
    if args.dry_run:
        model, prefix = make_model(make_estimator(config["model"], task, _folders(args.config)), X, task, config["data"])
        search = make_search(config, model, prefix=prefix)
        return _dry_run(config, search, described, task)
    estimator = make_estimator(config["model"], task, _folders(args.config))
    model, prefix = make_model(estimator, X, task, config["data"])
    storage = None if args.no_storage else f"sqlite:///{db}"
    search = make_search(config, model, storage=storage, study="tune", prefix=prefix)
    if os.path.exists(db) and not args.resume and not args.no_storage:
        raise ConfigError(f"{db} holds an earlier search; pass --resume to continue it, or choose "
                          "another --output.")
    os.makedirs(folder, exist_ok=True)
    s = config["search"]
    n_trials = _n_trials(config, search)
    text = (f"{described}, {task}; {type(estimator).__name__}; {s['strategy']} search, "
            f"{n_trials} trials, cv={s['cv']}"
            + (f", pruning={s['pruning']}" if s.get("pruning") else ""))
    if not args.quiet:
        print(text, flush=True)
    with _quiet_workers():
        progress = _Progress(n_trials, s["cv"], args.quiet)
        if "progress" in search.get_params(deep=False):
            search.set_params(progress=progress)
        tic = time.monotonic()
        try:
            search.fit(X, y)
        finally:
            progress.close()
    elapsed = time.monotonic() - tic
    written = write_reports(search, folder, description=f"{text}; {elapsed:.0f} s", prefix=prefix)
    replayed = getattr(search, "n_trials_replayed_", 0)
    print(results_table(search, prefix=prefix))
    print(f"best score {search.best_score_:.4f} in {elapsed:.0f} s"
          + (f" ({replayed} trials resumed from {db})" if replayed else ""))
    if config["output"]["baselines"]:
        compared = baselines(model, X, y, task, cv=s["cv"], scoring=s["scoring"], seed=s["seed"])
        print("untuned baselines on the same folds: " + ", ".join(
            f"{name} {score:.4f} ({seconds:.1f} s)" for name, (score, seconds) in compared.items()))
    if not args.no_storage:
        written.append(db)
    print(f"reports in {folder}/: " + ", ".join(os.path.basename(p) for p in written))
    return 0


def _lr_find(args):
    from skhp import lr_find
    from skhp.experiment import load_config, load_data, make_estimator, make_model, prepare

    config = load_config(_read_config(args.config))
    _start_tensorflow_quietly()
    X, y, task, described = load_data(config["data"])
    estimator = make_estimator(config["model"], task, _folders(args.config))
    model, _ = make_model(estimator, X, task, config["data"])
    result = lr_find(estimator, *prepare(model, X, y))
    os.makedirs(args.output, exist_ok=True)
    path = os.path.join(args.output, "lr_find.png")
    result.plot(path)
    print(f"LR range test on {described}: {len(result.lrs)} steps")
    for name, value in result.suggestions.items():
        print(f"  {name:<11} " + (f"{value:.3g}" if value is not None else "none"))
    if not result.diverged:
        print("  the loss never blew up within the range: no divergence point")
    print(f"suggested learning_rate {result.suggestion:.3g}; curve in {path}")
    return 0


def _schedules(args):
    from skhp import plot_schedule
    from skhp.schedules import SCHEDULES

    os.makedirs(args.output, exist_ok=True)
    for name in SCHEDULES:
        path = os.path.join(args.output, f"schedule_{name}.png")
        plot_schedule(name, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                      learning_rate=args.learning_rate, path=path)
        print(path)
    return 0


def _bench(args):
    from skhp.benchmarks import beale

    return beale.main(args.rest)


def _parser():
    parser = argparse.ArgumentParser(prog="skhp", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--backend", choices=["tensorflow", "jax", "torch"],
                        help="Keras' backend (default: KERAS_BACKEND, else tensorflow; packs "
                             "train on tensorflow and jax)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    tune = commands.add_parser("tune", help="run a tuning experiment (default: the built-in one)",
                               description="Run a tuning experiment: the built-in one (digits, a small "
                               "CNN, narrowing search, cv=3), or the one a TOML config describes. The "
                               "config format: python -m pydoc skhp.experiment, or "
                               "docs/guide/cli.rst.")
    tune.add_argument("--config", help="TOML (or YAML) file describing the experiment")
    tune.add_argument("--trials", type=int, help="number of trials (overrides the config)")
    tune.add_argument("--epochs", type=int, help="training epochs of every trial")
    tune.add_argument("--cv", type=int, help="cross-validation folds")
    tune.add_argument("--n-jobs", dest="n_jobs", type=int, help="parallel workers")
    tune.add_argument("--seed", type=int, help="seed of the search")
    tune.add_argument("--strategy", help="narrowing, random, guided, grid, hyperband, "
                      "or Optuna's tpe, cmaes, gp, qmc (needs optuna)")
    tune.add_argument("--time-budget", dest="time_budget", type=float,
                      help="seconds after which no new trial starts")
    tune.add_argument("--output", help="output folder (default skhp-output)")
    tune.add_argument("--resume", action="store_true",
                      help="continue the search stored in the output folder")
    tune.add_argument("--no-storage", dest="no_storage", action="store_true",
                      help="do not store trials (no resuming)")
    tune.add_argument("--quiet", action="store_true", help="no progress output")
    tune.add_argument("--dry-run", dest="dry_run", action="store_true",
                      help="print the resolved experiment and its number of fits; train nothing")
    tune.add_argument("--list-datasets", dest="list_datasets", action="store_true",
                      help="list the built-in data sets and exit")
    tune.set_defaults(run=_tune)

    lr = commands.add_parser("lr-find", help="LR range test, with its curve",
                             description="Run the LR range test on the experiment's data and model.")
    lr.add_argument("--config", help="TOML file (its [data] and [model] tables are used)")
    lr.add_argument("--output", default=".", help="folder for lr_find.png (default .)")
    lr.set_defaults(run=_lr_find)

    bench = commands.add_parser("bench", help="benchmarks: skhp bench beale [options]",
                                description="Benchmarks. 'skhp bench beale --help' lists its options.")
    bench.add_argument("name", choices=["beale"], help="the benchmark")
    bench.add_argument("rest", nargs=argparse.REMAINDER, help="options of the benchmark")
    bench.set_defaults(run=_bench)

    sched = commands.add_parser("schedules", help="plot every learning-rate schedule",
                                description="Write one PNG per learning-rate schedule.")
    sched.add_argument("--output", default="schedules", help="folder (default ./schedules)")
    sched.add_argument("--epochs", type=int, default=30)
    sched.add_argument("--steps-per-epoch", dest="steps_per_epoch", type=int, default=50)
    sched.add_argument("--learning-rate", dest="learning_rate", type=float, default=0.1)
    sched.set_defaults(run=_schedules)
    return parser


def _installed(module):
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _configured_backend():
    """The backend Keras' own config file names (``$KERAS_HOME/keras.json``), or None."""
    import json

    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    try:
        with open(os.path.join(home, "keras.json")) as fh:
            return json.load(fh).get("backend")
    except (OSError, ValueError):
        return None


def _use_backend(backend):
    """Train on Keras' ``backend`` (set before Keras starts; an error once it runs another).

    Without ``--backend``, ``KERAS_BACKEND`` or another backend than TensorFlow in
    Keras' config file, where TensorFlow (Keras' default) is not installed, the command runs on JAX,
    else PyTorch, when installed (as on GPU machines that carry JAX and no TensorFlow).
    """
    if backend is None:
        if "KERAS_BACKEND" in os.environ or "keras" in sys.modules or _installed("tensorflow") \
                or _configured_backend() not in (None, "tensorflow"):  # (Keras writes its default)
            return
        backend = next((b for b in ("jax", "torch") if _installed(b)), None)
        if backend is None:
            return
    keras = sys.modules.get("keras")
    if keras is not None and keras.backend.backend() != backend:
        raise ValueError(f"--backend {backend}: Keras already runs on {keras.backend.backend()} "
                         "in this process; start a new one (or set KERAS_BACKEND).")
    os.environ["KERAS_BACKEND"] = backend


def main(argv=None):
    """Run the ``skhp`` command with ``argv`` (default: the process's arguments)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        from skhp import __version__

        print(f"skhp {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    try:
        _use_backend(args.backend)
        return args.run(args)
    except (FileNotFoundError, ValueError, TypeError) as err:  # ConfigError is a ValueError
        message = " ".join(str(err).split())  # one line
        print(f"skhp: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("skhp: interrupted; finished trials are stored, --resume continues", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
