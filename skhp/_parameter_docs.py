"""The parameter documentation the classifier and the regressor share, written once.

:func:`shared_docs` fills the markers of an estimator's docstring with it.
"""

__all__ = ["shared_docs"]

#: Parameters before ``loss`` (each estimator documents its own loss and metrics).
TRAINING = """\
    model : callable, keras.Model, keras_tuner.HyperModel or None, default=None
        A builder function returning a Keras model (it may take ``meta``, the
        fitted data facts such as ``n_features_in_`` and ``n_classes_``, and any
        ``model__<name>`` parameter), a KerasTuner build function of ``hp``
        (or ``HyperModel``), whose ``hp.Int("units", ...)``-style values are the
        ``hp__<name>`` parameters (its declared defaults where unset; see
        :func:`skhp.search.space_from` for its space), or a Keras model. None
        builds an MLP from ``hidden_layer_sizes`` and ``activation`` (for 2-d
        X, or images with ``conv_layers``). The estimator compiles the model
        itself with the schedule and training settings below. A builder or a
        Keras model that compiles itself keeps its optimizer, learning rate,
        loss and metrics wherever ``optimizer``, ``learning_rate``, ``loss``
        and ``metrics`` are None; a value set there replaces the compiled
        one. A Keras model passed here is
        never trained itself: each fit trains a copy
        (``keras.models.clone_model``) that starts from the model's weights
        as you passed it, so folds and clones do not leak.
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Hidden layers of the built-in MLP.
    activation : str, default="relu"
        Hidden-layer activation of the built-in MLP (any Keras activation name).
    conv_layers : int or sequence of int, default=()
        Filters of 3×3 convolutions the built-in MLP puts before its hidden
        layers, each followed by 2×2 max pooling (for images: digits as
        ``conv_layers=(32, 64), image_shape=(8, 8)``); empty for none.
    image_shape : tuple of int or None, default=None
        ``(height, width)`` or ``(height, width, channels)`` of one sample:
        the built-in model reshapes each row of 2-d X to it before its
        convolutions. Needed with ``conv_layers`` for 2-d X; images passed as
        3-d/4-d X (``(n, height, width[, channels])``) give their own shape.
        Its product must be the number of features; it is checked against X
        even without ``conv_layers`` (the MLP then sees the same pixels,
        flat), and refused with a ``model`` of your own.
    initializer : str, dict, keras.initializers.Initializer or None, default=None
        Kernel initializer of every layer with a kernel (user-built models
        included): any Keras initializer name such as ``"he_normal"`` or
        ``"glorot_uniform"``. None keeps the kernels as the model built them
        (the built-in model's: Keras' default Glorot-uniform, drawn from
        ``random_state`` as a packed search draws them).
    optimizer : str, keras Optimizer class or instance, or None, default=None
        The optimizer; ``optimizer__<name>`` parameters are passed to it.
        None is Adam, or the optimizer a model that compiles itself (a build
        function's or a compiled Keras model's compile) compiles with; a
        value set here replaces that one.
    learning_rate : float, "auto" or None, default=None
        Initial learning rate of the main phase (the peak for 1cycle), > 0.
        None trains at the optimizer's own rate: an instance's
        (``optimizer=SGD(learning_rate=0.1)`` trains at 0.1, as in Keras),
        the one a model that compiles itself compiles with, else Keras'
        default for the optimizer's class (Adam 1e-3, SGD 1e-2). A rate set
        here is the rate: it replaces the instance's or the compiled one, so
        a search over ``learning_rate`` trains at every value it reports.
        Set between two calls of ``partial_fit`` or ``fit`` with
        ``warm_start=True``, it applies from the next call on: the schedule
        keeps its position (its step count goes on) and scales to the new
        rate. ``"auto"`` runs :func:`skhp.lr_find` on the training data first and
        uses its suggestion (kept in ``learning_rate_`` and ``lr_find_``).
    momentum : float or None, default=None
        Momentum for SGD and RMSprop, ``beta_1`` for the Adam family, in [0, 1).
        None keeps the optimizer's default.
    batch_size : int or None, default=None
        Minibatch size; None means 32 below 50,000 samples, else 256.
    epochs : int, default=10
        Training epochs, warm-up included.
    warmup : int, default=0
        Warm-up epochs at the start of training (0 = none): the learning rate
        rises linearly from ``warmup_lr`` to ``learning_rate``, then the
        schedule runs over the remaining epochs.
    warmup_lr : float, default=1e-5
        Learning rate at the start of warm-up, > 0 and not above ``learning_rate``.
    lottery : int, default=0
        Lottery draws (0 or 1 = none): ``fit`` gives the built model this many
        different random draws of weights (seeds derived from
        ``random_state``), trains each briefly, keeps the one with the lowest
        training loss and trains it fully. The model is built and compiled
        once; each draw only redraws its weights.
    lottery_epochs : int, default=3
        Epochs of each draw's brief training.
    lottery_steps : int or None, default=None
        Optimizer steps per lottery epoch, each epoch on fresh samples of
        the training data (the same for every draw); None means 100 or one epoch's
        worth of batches, whichever is smaller.
    lottery_lr : float, default=1e-4
        Constant learning rate of the draws' brief training, > 0.
    initial_weights : StabilizedWeights, str or None, default=None
        Weights to start from instead of a random draw (see
        :func:`skhp.stabilize`): a :class:`skhp.StabilizedWeights` or the path of
        an ``.npz`` file it saved. They must fit the model's architecture;
        ``lottery`` is skipped when they are given.
    schedule : str, keras LearningRateSchedule, callable or None, default=None
        Learning-rate schedule after warm-up: a name from
        :data:`skhp.schedules.SCHEDULES` (``"constant"``, ``"time"``,
        ``"exponential"``, ``"ramp"``, ``"linear"``, ``"cosine"``,
        ``"restarts"``, ``"onecycle"``), with arguments as
        ``schedule__<name>`` parameters (e.g. ``schedule__alpha=0.1``), or a
        schedule object, or a function ``fn(epoch, lr)`` or ``fn(epoch)`` with
        exactly the semantics of :class:`keras.callbacks.LearningRateScheduler` (see
        :class:`skhp.schedules.EpochFunction`). None is a constant rate.
        A ``LearningRateScheduler`` or ``ReduceLROnPlateau`` in ``callbacks``
        drives the rate itself (then leave ``schedule`` None). ``"linear"``,
        ``"cosine"`` and ``"onecycle"`` end at ``epochs``: continuing past it
        (``partial_fit``, ``warm_start``) raises an error rather than training
        at their final, near-zero rate. ``optimizer__decay=k``, Keras 2's
        legacy argument, is honoured as ``schedule="time"`` with
        ``schedule__per="iteration"``.
    weight_decay : float, default=0.0
        L2 penalty factor on every kernel, >= 0; added to a kernel's own
        regularizer (a builder's ``kernel_regularizer=L1(1e-4)`` stays).
    early_stopping : int, default=0
        Patience in epochs (0 = off); monitors ``val_loss`` on the held-out
        data (see ``validation_split``) and restores the best weights.
        With a cyclic schedule (``"restarts"``, ``"onecycle"``) the stop
        happens only at the end of a cycle, where the learning rate is lowest
        (see :class:`skhp.callbacks.CycleAwareEarlyStopping`).
    validation_split : float or None, default=None
        Fraction of the training data held out (a seeded random subset) for
        validation metrics, in [0, 1). None means 0.1 when ``early_stopping``
        is set, else 0; 0 with early stopping monitors the training loss.
"""

#: Parameters after ``metrics``.
RUNNING = """\
    callbacks : list or None, default=None
        Extra Keras callbacks. With callbacks the optimizer's rate is a
        settable variable (skhp's schedule writes it before each step), so a
        callback may set it as Keras documents
        (``self.model.optimizer.learning_rate.assign(r)``).
    steps_per_execution : int or None, default=None
        Optimizer steps run per call into the compiled training function. Small
        networks spend most of a step in per-call overhead, so None runs up to
        32 steps at a time (one epoch at most; 1 with 1cycle's per-step momentum
        and whenever a ``callbacks`` entry may act per batch).
    device : {"auto", "cpu", "gpu"} or "gpu:N", default="auto"
        Where to train: ``"auto"`` takes a GPU when there is one (parallel
        workers are spread over the GPUs round-robin), else the CPU; ``"gpu"``
        requires one; ``"gpu:N"`` names it. See :mod:`skhp.runtime`.
    precision : {"float32", "mixed_float16", "mixed_bfloat16"}, default="float32"
        Keras dtype policy while the model is built; the mixed policies compute
        in half precision with float32 weights and a float32 output layer
        (``mixed_float16`` with loss scaling), for GPUs with tensor cores.
    random_state : int, RandomState or None, default=None
        Seed for weights, shuffling and dropout; a fixed value makes fits identical.
    verbose : int, default=0
        Keras' verbosity during fit.
    warm_start : bool, default=False
        Keep the trained model between calls to ``fit``.
    **kwargs
        Routed parameters in scikeras' form: ``model__``, ``optimizer__``,
        ``fit__``, ``predict__``, ``schedule__`` and so on.
"""

#: Fitted attributes both estimators have.
FITTED = """\
    model_ : keras.Model
        The trained model.
    history_ : dict of list
        Per-epoch ``loss``, metrics, ``val_*`` values and ``lr``, the learning
        rate in force at the start of each epoch (with 1cycle also
        ``momentum``).
    schedule_ : keras LearningRateSchedule
        The learning-rate schedule used, warm-up included.
    learning_rate_ : float
        The learning rate used (found by the LR range test for ``"auto"``).
    device_ : str
        The device the model was trained on, e.g. ``"cpu:0"`` or ``"gpu:1"``.
    lottery_losses_ : ndarray
        Training loss of every lottery draw after its brief training (when
        ``lottery`` >= 2).
    lottery_best_ : int
        Index of the draw kept, the argmin of ``lottery_losses_``.
    n_features_in_ : int
        Number of features seen in fit.
"""

_MARKERS = {"    [training parameters]\n": TRAINING, "    [running parameters]\n": RUNNING,
            "    [fitted attributes]\n": FITTED}


def shared_docs(cls):
    """Class decorator: the shared documentation in place of the markers of ``cls``'s docstring.

    Examples
    --------
    >>> Estimator = type("Estimator", (), {"__doc__": "    [training parameters]\\n"})
    >>> "hidden_layer_sizes : int" in shared_docs(Estimator).__doc__
    True
    """
    doc = cls.__doc__
    for marker, text in _MARKERS.items():
        doc = doc.replace(marker, text)
    cls.__doc__ = doc
    return cls
