"""The lottery: train a few draws of initial weights briefly, keep the best.

A fit with ``lottery=N`` (N >= 2) draws N sets of initial weights, trains
each for ``lottery_epochs`` epochs of ``lottery_steps`` batches at the
constant ``lottery_lr`` — each epoch on fresh samples (:func:`lottery_subsets`),
the same for every draw — and starts its real training from the draw with
the lowest training loss. The built-in MLP's draws train as one pack
(:func:`train_lottery`); other models draw one after another
(:func:`draw_lottery`). Both draw the same weights (the model's, then
redraws seeded by :func:`lottery_seed`).
"""

import math

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import numpy as np

from skhp.fit_spec import model_signature, numbers, seed_or_fresh, smoothed, structural
from skhp.initializers import redraw_weights
from skhp.packed import PackedSlot, loss_key, train_pack

__all__ = ["draw_lottery", "train_lottery", "lottery_subsets", "lottery_seed"]


def draw_lottery(model, X, y, *, draws, compile_kwargs, optimizer, batch_size, epochs=3, steps=None,
                 initializer=None, seed=None):
    """Lottery draws: train ``draws`` draws of weights briefly; keep the lowest training loss.

    One compiled model serves every draw: each draw redraws the weights in
    place (:func:`redraw_weights`, seeds derived from ``seed``) and resets the
    optimizer's state, then trains ``epochs`` epochs of ``steps`` batches,
    each epoch on fresh samples of ``(X, y)`` as a data generator gives them
    (:func:`lottery_subsets`; the same samples for every draw). The model is
    left holding the kept draw's weights, compiled with ``optimizer``.

    Parameters
    ----------
    model : keras.Model
        The built model; its current weights are the first draw.
    X, y : ndarray
        Training data (targets as the model's loss takes them).
    draws : int
        Number of draws, >= 2.
    compile_kwargs : dict
        Arguments of ``model.compile`` (loss, metrics, ...).
    optimizer : keras Optimizer
        The optimizer of the brief training (a constant, small rate).
    batch_size : int
        Minibatch size.
    epochs : int, default=3
        Epochs of each draw's training.
    steps : int or None, default=None
        Batches per epoch; None means 100 or one epoch's worth, whichever is smaller.
    initializer : str or None, default=None
        Kernel initializer of the redraws (None: each layer's own).
    seed : int or None, default=None
        Seed of the subset and of the redraws.

    Returns
    -------
    losses : ndarray
        Final training loss of every draw.
    best : int or None
        Index of the kept draw; None when every draw diverged.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> X, y = np.random.default_rng(0).normal(size=(64, 2)), np.zeros(64)
    >>> losses, best = draw_lottery(model, X, y, draws=3, compile_kwargs={"loss": "mse"},
    ...                             optimizer=keras.optimizers.SGD(1e-3), batch_size=16, seed=0)
    >>> len(losses), best == int(np.argmin(losses))
    (3, True)
    """
    subsets = lottery_subsets(len(X), batch_size, steps, seed, epochs)  # the same for every draw
    model.compile(**{**compile_kwargs, "optimizer": optimizer})
    model.optimizer.build(model.trainable_variables)
    fresh_state = [v.numpy() for v in model.optimizer.variables]
    losses, best, best_weights = [], None, None
    for draw in range(draws):
        if draw:
            redraw_weights(model, initializer, lottery_seed(seed, draw))
            for variable, value in zip(model.optimizer.variables, fresh_state):
                variable.assign(value)
        for epoch, subset in enumerate(subsets):  # fresh samples each epoch
            history = model.fit(X[subset], y[subset], batch_size=batch_size, epochs=epoch + 1,
                                initial_epoch=epoch, verbose=0, shuffle=True)
        loss = float(history.history["loss"][-1])
        losses.append(loss)
        if math.isfinite(loss) and (best is None or loss < losses[best]):
            best, best_weights = draw, model.get_weights()
    if best is not None:
        model.set_weights(best_weights)
    return np.array(losses), best


def lottery_subsets(n_samples, batch_size, steps=None, seed=None, epochs=1):
    """Indices of the samples of each lottery epoch: ``steps`` batches' worth, fresh each epoch.

    The epochs read on through a stream of seeded permutations of the
    samples, as a data generator feeds the chapter's draws: each epoch takes
    the next ``steps * batch_size`` samples (all of them, reshuffled, when
    that is an epoch's worth or more). ``steps=None`` means 100 batches or
    one epoch's worth, whichever is smaller.

    Examples
    --------
    >>> [len(s) for s in lottery_subsets(1000, 32, epochs=2)], len(lottery_subsets(1000, 32, 2)[0])
    ([1000, 1000], 64)
    >>> a, b = lottery_subsets(1000, 32, steps=2, seed=0, epochs=2)
    >>> len(set(a) & set(b))  # the second epoch's samples are new ones
    0
    """
    steps = steps or min(100, int(math.ceil(n_samples / batch_size)))
    size = min(steps * batch_size, n_samples)
    rng, stream, subsets = np.random.default_rng(seed), np.empty(0, dtype=int), []
    for _ in range(epochs):
        if len(stream) < size:
            stream = np.concatenate([stream, rng.permutation(n_samples)])
        subsets.append(stream[:size])
        stream = stream[size:]
    return subsets


def lottery_seed(seed, draw):
    """The seed of lottery draw ``draw`` (>= 1) from the fit's ``seed``; None stays None.

    Examples
    --------
    >>> lottery_seed(0, 1) == lottery_seed(0, 1) != lottery_seed(0, 2), lottery_seed(None, 1)
    (True, None)
    """
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, draw]).generate_state(1)[0] % 2**30)


def train_lottery(model, X, y, *, draws, loss, optimizer, lottery_lr, batch_size, epochs=3,
                  steps=None, initializer=None, seed=None):
    """Train the lottery draws of a built ``model`` as one pack; keep the best.

    The packed counterpart of :func:`draw_lottery`, with the same draws (the
    model's weights, then redraws seeded as there), the same samples each
    epoch (fresh ones every epoch), optimizer (at the constant
    ``lottery_lr``), epochs and steps; each draw shuffles with its own
    seeded stream. The model is left holding the kept draw's weights.

    Parameters
    ----------
    model : keras.Model
        The built model (its weight decay attached: the slots' l2 stays 0).
    X, y : ndarray
        Training data, targets encoded as ``loss`` takes them.
    draws : int
    loss : keras.losses.Loss or callable
    optimizer : skhp.fit_spec.OptimizerSpec
        An optimizer a pack trains (:meth:`~skhp.fit_spec.OptimizerSpec.pack_settings`).
    lottery_lr : float
    batch_size, epochs, steps, initializer, seed
        As :func:`draw_lottery` takes them.

    Returns
    -------
    losses : ndarray
        Final training loss of every draw.
    best : int or None
        Index of the kept draw; None when every draw diverged.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from skhp import KerasClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> est = KerasClassifier(hidden_layer_sizes=(8,), epochs=1, lottery=4, random_state=0).fit(X, y)
    >>> len(est.lottery_losses_), est.lottery_best_ == int(np.argmin(est.lottery_losses_))
    (4, True)
    """
    settings, _ = optimizer.pack_settings()
    # the rows of every epoch, fresh each epoch (one row of indices an epoch)
    subsets = np.stack(lottery_subsets(len(X), batch_size, steps, seed, epochs))
    X_draw = np.asarray(X, dtype="float32")
    targets = np.asarray(y, dtype="float32").reshape(len(X), -1)
    loss, targets = smoothed(loss, targets)
    variables = [*model.trainable_variables, *model.non_trainable_variables]
    n_trainable = len(model.trainable_variables)
    values = [[np.array(v.numpy()) for v in variables]]
    for draw in range(1, draws):
        redraw_weights(model, initializer, lottery_seed(seed, draw))
        values.append([np.array(v.numpy()) for v in variables])
    total = epochs * int(math.ceil(subsets.shape[1] / batch_size))
    momentum = optimizer.momentum_value()
    base = seed_or_fresh(seed)
    slots = [PackedSlot(X=X_draw, train=subsets, validation=None, targets=targets,
                        sample_weight=np.ones(len(X), "float32"), weights=draw[:n_trainable],
                        state=draw[n_trainable:], rates=np.full(total, float(lottery_lr)),
                        momenta=np.full(total, momentum), settings=numbers(settings),
                        seed=base + number)
             for number, draw in enumerate(values)]
    outs = train_pack(slots, model=model, loss=loss, optimizer=optimizer.name,
                      batch_size=batch_size, epochs=epochs, shuffle=True,
                      structural=structural(settings),
                      key=("lottery", model_signature(model), loss_key(loss)))
    losses = np.array([out["history"]["loss"][-1] for out in outs])
    finite = np.where(np.isfinite(losses), losses, np.inf)
    best = int(np.argmin(finite)) if np.isfinite(finite).any() else None
    kept = [*outs[best]["weights"], *outs[best]["state"]] if best is not None else values[0]
    for variable, value in zip(variables, kept):
        variable.assign(value)
    return losses, best
