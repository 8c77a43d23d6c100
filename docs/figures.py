"""Draw the guide's pictures with skhp itself (run by conf.py at every build)."""

import os


def generate(folder):
    """Write every picture (and the Beale and narrowing tables) of the guide into ``folder``
    (skipping those already there)."""
    os.makedirs(folder, exist_ok=True)

    def missing(name):
        return not os.path.exists(os.path.join(folder, name))

    from skhp import plot_schedule
    from skhp.schedules import SCHEDULES

    for name in SCHEDULES:
        if missing(f"schedule_{name}.png"):
            plot_schedule(name, epochs=30, steps_per_epoch=20, learning_rate=0.1,
                          path=os.path.join(folder, f"schedule_{name}.png"))
    if missing("warmup_cosine.png"):
        from skhp.schedules import CosineAnnealing, Warmup

        schedule = Warmup(CosineAnnealing(0.1, epochs=25, steps_per_epoch=20), epochs=5,
                          start_lr=1e-3, steps_per_epoch=20)
        plot_schedule(schedule, epochs=30, steps_per_epoch=20,
                      path=os.path.join(folder, "warmup_cosine.png"))
    if missing("lr_find.png"):
        from sklearn.datasets import load_digits

        from skhp import KerasClassifier, lr_find

        X, y = load_digits(return_X_y=True)
        lr_find(KerasClassifier(hidden_layer_sizes=(32,), random_state=0), X / 16, y).plot(
            os.path.join(folder, "lr_find.png"))
    if missing("beale.png") or missing("beale_table.rst"):
        from skhp.benchmarks import beale

        rows = beale.run()  # every method, 20 seeds: the table is this build's own run
        with open(os.path.join(folder, "beale_table.rst"), "w") as fh:
            fh.write(".. code-block:: text\n\n")
            fh.write("".join(f"   {line}\n" for line in beale.format_table(rows).splitlines()))
        shown = {"Nelder-Mead", "L-BFGS-B", "differential_evolution", "skhp random",
                 "skhp narrowing"}  # the picture keeps to five methods, to stay readable
        beale.plot_contour([r for r in rows if r["method"] in shown],
                           os.path.join(folder, "beale.png"))
    if missing("narrowing_scores.png"):
        from scipy.stats import loguniform
        from sklearn.datasets import load_digits
        from sklearn.svm import SVC

        from skhp.reports import plot_scores
        from skhp.search import NarrowingSearchCV

        X, y = load_digits(return_X_y=True)
        search = NarrowingSearchCV(SVC(), {"C": loguniform(1e-3, 1e4), "gamma": loguniform(1e-7, 10)},
                                   n_iter=40, random_state=0, cv=3).fit(X[:600] / 16, y[:600])
        plot_scores(search, os.path.join(folder, "narrowing_scores.png"))
    if missing("narrowing_table.rst"):
        _narrowing_table(os.path.join(folder, "narrowing_table.rst"))


def _narrowing_table(path):
    """Narrowing's runs on every test function, made now, ranked with the peers' stored runs
    (``data/samplers_peers.json``, written by ``benchmarks/samplers.py --save-peers``)."""
    from skhp.benchmarks.strategies import compare, format_table, load_gaps, mean_ranks

    settings, stored, optuna_version = load_gaps(
        os.path.join(os.path.dirname(__file__), "data", "samplers_peers.json"))
    peers = sorted({s for s, _ in stored}, key=["tpe", "cmaes", "random"].index)
    names = list(dict.fromkeys(n for _, n in stored))
    strategies = ["narrowing", *peers]
    table = compare(strategies, names, settings["seeds"], settings["checkpoints"], stored=stored)
    lines = []
    for column, c in enumerate(settings["checkpoints"]):
        ranks = mean_ranks(table, strategies, names, column)
        lines += [f"**After {c} evaluations** (median best f - f* over {settings['seeds']} seeds; "
                  "mean ranks " + ", ".join(f"{s} {r:.2f}" for s, r in zip(strategies, ranks))
                  + "):", "", format_table(table, strategies, names, settings["checkpoints"],
                                           column), ""]
    lines.append(f"(TPE and CMA-ES: Optuna {optuna_version}, their default settings.)")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
