"""The learning-rate range test (L. Smith): find a good initial learning rate.

Train a clone of the estimator for a few hundred steps while the learning rate
grows exponentially from ``start_lr`` to ``end_lr``; smooth the loss of every
step, stop once it exceeds ``diverge`` times its best, and suggest rates from
the curve. The estimator passed in is never changed.
"""

import math
import warnings
from dataclasses import dataclass, field

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import keras
import numpy as np
from sklearn.base import clone

from skhp._training import batch_size_for
from skhp._validation import check_number

__all__ = ["lr_find", "LRFindResult"]


@dataclass
class LRFindResult:
    """The curve of an LR range test and the rates it suggests.

    Attributes
    ----------
    lrs : ndarray
        Learning rate of each step.
    losses : ndarray
        Training loss of each step.
    smoothed : ndarray
        Bias-corrected exponential moving average of ``losses``.
    suggestions : dict
        ``"minimum"``: 10× below the rate at the smoothed minimum;
        ``"divergence"``: 10× below the rate where the loss blew up (the last
        step), None when it never did (see ``diverged``); ``"steepest"``: the
        rate where the smoothed loss falls fastest against log(lr), past the
        initial flat part (None when the loss never fell).
    suggestion : float
        The recommended rate, the LR range test article's rule: 10× below the
        smoothed minimum, where the loss starts to climb (``"minimum"``). When
        the loss never climbed within the range (``climbed`` is False), that
        minimum is only the range's end, and the steepest fall is taken
        instead (``"steepest"``, else ``"minimum"``).
    fell : bool
        Whether the smoothed loss fell by more than 5 % of its level over the
        range; when it did not, :func:`lr_find` warns that no suggestion can
        be read from the curve.
    diverged : bool
        Whether the loss blew up within the range. When it did not, the
        range never reached a rate that is too high: the minimum may sit at
        the end of the range, and only the other suggestions are safe.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestions: dict = field(default_factory=dict)

    @property
    def suggestion(self):
        if self.climbed or self.suggestions.get("steepest") is None:
            return self.suggestions["minimum"]
        return self.suggestions["steepest"]

    @property
    def climbed(self):
        """Whether the loss rose again after its minimum within the range (or blew up), so
        that the minimum is where it starts to climb, not the range's end."""
        finite = np.flatnonzero(np.isfinite(self.smoothed))
        at_min = finite[int(np.argmin(self.smoothed[finite]))]
        return self.diverged or at_min < finite[-1] - max(3, len(finite) // 20)

    @property
    def fell(self):
        finite = self.smoothed[np.isfinite(self.smoothed)]
        level = float(np.median(finite[:_BURN_IN]))
        return bool(finite.size) and level - float(finite.min()) > 0.05 * abs(level)

    @property
    def diverged(self):
        return self.suggestions.get("divergence") is not None

    def plot(self, path=None, ax=None):
        """Plot smoothed loss against learning rate (log scale), suggestions marked.

        Parameters
        ----------
        path : str or path-like, optional
            Where to save the figure (PNG or any format matplotlib knows).
        ax : matplotlib Axes, optional
            Axes to draw on; a new figure otherwise.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs, self.losses, color="0.8", lw=1, label="loss")
        ax.plot(self.lrs, self.smoothed, color="C0", label="smoothed loss")
        for (name, lr), color in zip(self.suggestions.items(), ("C1", "C2", "C3")):
            if lr is not None:
                ax.axvline(lr, color=color, ls="--", label=f"{name}: {lr:.2g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        low, high = np.nanmin(self.smoothed), np.nanmax(self.smoothed[: max(1, len(self.smoothed) // 2)])
        ax.set_ylim(low - 0.1 * abs(low), high + 0.5 * abs(high - low) + 1e-9)
        ax.set_title("LR range test")
        ax.legend(fontsize="small")
        if path is not None:
            ax.figure.savefig(path, dpi=100, bbox_inches="tight")
        return ax


class _RangeRecorder(keras.callbacks.Callback):
    """Record each step's rate and loss; stop when the smoothed loss diverges."""

    def __init__(self, beta, diverge, max_steps):
        super().__init__()
        self.beta, self.diverge, self.max_steps = beta, diverge, max_steps
        self.lrs, self.losses, self.smoothed = [], [], []
        self._avg, self._best = 0.0, math.inf
        self.diverged = False

    def on_epoch_begin(self, epoch, logs=None):
        self._previous_mean, self._seen = 0.0, 0

    def on_train_batch_begin(self, batch, logs=None):
        self._lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_train_batch_end(self, batch, logs=None):
        # Keras reports the epoch's running mean; recover this batch's loss from it.
        mean = float(logs["loss"])
        seen = batch + 1
        loss = mean * seen - self._previous_mean * (seen - 1)
        self._previous_mean = mean
        self.lrs.append(self._lr)
        self.losses.append(loss)
        self._avg = self.beta * self._avg + (1 - self.beta) * loss
        smooth = self._avg / (1 - self.beta ** len(self.losses))
        self.smoothed.append(smooth)
        self._best = min(self._best, smooth)
        if not math.isfinite(smooth) or smooth > self.diverge * self._best:
            self.diverged = True
            self.model.stop_training = True
        elif len(self.losses) >= self.max_steps:
            self.model.stop_training = True


def lr_find(estimator, X, y, *, start_lr=1e-7, end_lr=10.0, num_steps=200, beta=0.98, diverge=4.0):
    """Run the LR range test for ``estimator`` on ``(X, y)``.

    A clone of the estimator (same model, optimizer, batch size, loss) trains
    for up to ``num_steps`` steps while the learning rate rises exponentially
    from ``start_lr`` to ``end_lr``, without warm-up, schedule or early
    stopping; the estimator itself is left as it was.

    Parameters
    ----------
    estimator : skhp.KerasClassifier or skhp.KerasRegressor
        The estimator whose learning rate is sought.
    X, y : array-like
        Training data.
    start_lr, end_lr : float, default=1e-7, 10
        The range, 0 < start_lr < end_lr.
    num_steps : int, default=200
        Steps from start to end (the test stops earlier on divergence).
    beta : float, default=0.98
        Smoothing of the loss, in [0, 1).
    diverge : float, default=4
        Stop once the smoothed loss exceeds this many times its best, > 1.

    Returns
    -------
    LRFindResult

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhp import KerasClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> result = lr_find(KerasClassifier(hidden_layer_sizes=(32,), random_state=0), X / 16, y)
    >>> 1e-4 <= result.suggestion <= 1
    True
    """
    check_number(start_lr, "start_lr", low=0, closed="neither")
    check_number(end_lr, "end_lr", low=start_lr, closed="neither")
    check_number(num_steps, "num_steps", low=2, integer=True)
    check_number(beta, "beta", low=0, high=1, closed="left")
    check_number(diverge, "diverge", low=1, closed="neither")

    n_samples = len(X)
    probe = clone(estimator)
    batch_size = batch_size_for(probe.batch_size, n_samples)
    steps_per_epoch = max(1, math.ceil(n_samples / batch_size))
    growth = keras.optimizers.schedules.ExponentialDecay(
        start_lr, decay_steps=num_steps - 1, decay_rate=end_lr / start_lr
    )
    recorder = _RangeRecorder(beta, diverge, num_steps)
    probe.set_params(
        learning_rate=start_lr,
        schedule=growth,
        warmup=0,
        lottery=0,
        steps_per_execution=1,  # the recorder reads the loss after every step
        early_stopping=0,
        validation_split=0.0,
        epochs=math.ceil(num_steps / steps_per_epoch),
        callbacks=list(estimator.callbacks or []) + [recorder],
        warm_start=False,
    )
    probe.fit(X, y)
    lrs, losses, smoothed = map(np.asarray, (recorder.lrs, recorder.losses, recorder.smoothed))
    result = LRFindResult(lrs, losses, smoothed, _suggest(lrs, smoothed, recorder.diverged))
    if not result.fell:
        warnings.warn(
            f"the LR range test's loss never fell over learning rates {lrs[0]:.3g} to "
            f"{lrs[-1]:.3g}: no rate can be read from its curve, and the suggestion "
            f"{result.suggestion:.3g} is a guess. Scale X (StandardScaler), try another "
            "optimizer, or widen the range (start_lr, end_lr).", RuntimeWarning, stacklevel=2)
    return result


def _suggest(lrs, smoothed, diverged):
    finite = np.isfinite(smoothed)
    lrs_f, smooth_f = lrs[finite], smoothed[finite]
    at_min = int(np.argmin(smooth_f))
    # The first steps' smoothed loss averages only a few batches and swings with
    # them (standardized breast cancer: 0.70 -> 0.60 in five steps at 1e-7, then
    # back): it is not where the loss falls. The steepest fall is sought after this
    # burn-in, between the end of the flat part (before 5 % of the fall from the
    # burn-in's level to the minimum) and the minimum, on a log-lr axis.
    burn_in = min(max(_BURN_IN, len(smooth_f) // 10), max(at_min - 2, 0))
    level = float(np.median(smooth_f[burn_in:burn_in + _BURN_IN])) if burn_in < at_min \
        else float(smooth_f[0])
    drop = level - smooth_f[at_min]
    flat = np.flatnonzero(smooth_f[burn_in: at_min + 1] >= level - 0.05 * drop)
    first = burn_in + (int(flat[-1]) if flat.size else 0)
    if drop > 0 and at_min - first >= 2:
        window = slice(first, at_min + 1)
        slopes = np.gradient(smooth_f[window], np.log(lrs_f[window]))
        steepest = float(lrs_f[first + int(np.argmin(slopes))])
    else:
        steepest = None
    return {
        "minimum": float(lrs_f[at_min]) / 10,
        "divergence": float(lrs[-1]) / 10 if diverged else None,
        "steepest": steepest,
    }


#: Steps at the start of the range whose smoothed loss is too noisy to read a slope from
#: (at least; a tenth of the steps taken when that is more).
_BURN_IN = 10
