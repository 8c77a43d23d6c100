"""KerasTuner's two listings, run by skhp: the same build functions, cross-validated and packed.

(a) The chapter's listing: a build function of ``hp`` loads the saved,
numerically stabilized model and recompiles it with Adam at
``hp.Choice("learning_rate", [1e-1, 1e-2, 1e-3, 1e-4])``; KerasTuner runs
``RandomSearch(hp_model, objective="val_accuracy", max_trials=3)`` with the
test set as validation data. (b) The Hyperband article's listing:
``build_model(hp)`` whose first 3x3 same-padded Conv2D has
``hp.Int("conv1", 32, 96, step=32)`` filters and whose learning rate is
``hp.Choice("learning_rate", [1e-1, 1e-2, 1e-3])``, tuned by
``kt.Hyperband(build_model, objective="val_accuracy", max_epochs=EPOCHS,
factor=3, seed=42)`` with an ``EarlyStopping(monitor="val_loss", patience,
restore_best_weights=True)`` callback.

The build functions below are the listings' own; only the tuner line
changes: the estimator takes the build function as its ``model``,
:func:`skhp.search.space_from` reads its space, and the search
cross-validates every candidate (KerasTuner scores one validation split),
trains candidates in packs and, with Hyperband, continues the survivors of
each rung instead of retraining them. ``early_stopping=patience`` is
KerasTuner's EarlyStopping callback (validation loss, best weights restored)
in a form that packs. The test set is kept for the end.

Run: ``python examples/keras_tuner_build.py`` (``--trials``, ``--epochs``).
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import skhp  # noqa: E402
from skhp.reports import results_table  # noqa: E402
from skhp.search import HyperbandSearchCV, RandomSearchCV, space_from  # noqa: E402

STABILIZED = os.path.join(tempfile.gettempdir(), "skhp_stabilized_digits.keras")


# (a) the chapter's build function, as written for KerasTuner
def hp_model(hp):
    model = keras.models.load_model(STABILIZED)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  optimizer=keras.optimizers.Adam(
                      learning_rate=hp.Choice("learning_rate", values=[1e-1, 1e-2, 1e-3, 1e-4])))
    return model


# (b) the Hyperband article's build function, for 8x8 digits
def build_model(hp):
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(hp.Int("conv1", min_value=32, max_value=96, step=32), 3,
                            padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(hp.Choice("learning_rate", values=[1e-1, 1e-2, 1e-3])),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=3, help="random-search trials of listing (a)")
    parser.add_argument("--epochs", type=int, default=9, help="epochs of (a); max_epochs of (b)")
    parser.add_argument("--patience", type=int, default=3, help="early stopping of (b)")
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split((X / 16).astype("float32"), y, test_size=0.3,
                                                        random_state=0, stratify=y)

    # the chapter stabilizes its model first (lottery draws, then a warm-up) and saves it
    stable = skhp.stabilize(skhp.KerasClassifier(hidden_layer_sizes=(64, 64), random_state=0),
                            X_train, y_train, warmup=2, warmup_lr=1e-4, lottery=4)
    model = stable.initialize(X_train, y_train).model_
    saved = keras.models.clone_model(model)  # the weights, without an optimizer's state
    saved.set_weights(model.get_weights())
    saved.save(STABILIZED)

    # kt.RandomSearch(hp_model, objective="val_accuracy", max_trials=3).search(..., batch_size=32)
    tic = time.perf_counter()
    chapter = RandomSearchCV(skhp.KerasClassifier(model=hp_model, batch_size=32, epochs=args.epochs,
                                                  random_state=0),
                             space_from(hp_model), n_iter=args.trials, cv=3, random_state=0)
    chapter.fit(X_train, y_train)
    t_chapter = time.perf_counter() - tic
    print(f"(a) the chapter's hp_model, {args.trials} trials x 3 folds, {args.epochs} epochs "
          f"({t_chapter:.0f} s; packing: {', '.join(sorted(set(chapter.cv_results_['packing'])))})")
    print(results_table(chapter))  # KerasTuner's tuner.results_summary()
    print(f"test accuracy of the refit best model: {chapter.score(X_test, y_test):.4f}\n")

    # kt.Hyperband(build_model, objective="val_accuracy", max_epochs=EPOCHS, factor=3, seed=42)
    tic = time.perf_counter()
    images = X_train.reshape(-1, 8, 8, 1)
    hyperband = HyperbandSearchCV(
        skhp.KerasClassifier(model=build_model, early_stopping=args.patience, random_state=42),
        space_from(build_model), max_epochs=args.epochs, factor=3, cv=3, random_state=42)
    hyperband.fit(images, y_train)
    t_hyperband = time.perf_counter() - tic
    results = hyperband.cv_results_
    print(f"(b) the Hyperband article's build_model, max_epochs={args.epochs}, factor=3: "
          f"{len(results['params'])} candidates x 3 folds, {int(results['pruned'].sum())} stopped "
          f"at a rung ({t_hyperband:.0f} s; packing: {', '.join(sorted(set(results['packing'])))})")
    print(results_table(hyperband))
    print(f"test accuracy of the refit best model: "
          f"{hyperband.score(X_test.reshape(-1, 8, 8, 1), y_test):.4f}")
    print(f"best CV accuracy: (a) {chapter.best_score_:.4f}, (b) {hyperband.best_score_:.4f}")


if __name__ == "__main__":
    main()
