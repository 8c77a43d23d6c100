"""A pack's 2-D convolutions as one grouped convolution (TensorFlow engine).

Under ``tf.vectorized_map`` a convolution whose kernel differs per slot —
every convolution of a pack, since each slot has its own weights — has no
vectorized form in TensorFlow: it falls back to a loop over the slots. The
K slots' convolutions are one grouped convolution instead: the slots'
inputs side by side along the channels, their kernels side by side along
the output channels, K groups (K × g for a layer of ``groups=g``). Measured
on the built-in CNN (``benchmarks/packing.py``, digits 8×8, 2 CPU cores),
per slot-epoch against one ordinary fit: 4.6× → 14.4× at K=32.

TensorFlow offers no public hook for this: the rule is added to
``vectorized_map``'s table of op conversions (a private module), for
``Conv2D`` ops whose kernel varies per slot in channels-last layout
(``Conv1D`` runs as one too); every other case keeps TensorFlow's own
conversion. Where that table is not found, or the device cannot run a
grouped convolution, nothing is added and packs train as before. Once a
pack has run, the rule serves every ``vectorized_map`` of the process (the
same numbers, up to round-off, as TensorFlow's loop).
"""

import threading

__all__ = ["install"]

_LOCK = threading.Lock()
_ADDED = None  # whether the rule was added; None before the first install()


def install():
    """Convert per-slot ``Conv2D`` kernels under ``tf.vectorized_map`` to a grouped convolution.

    Idempotent; returns whether the rule is in place.

    Examples
    --------
    >>> import tensorflow as tf
    >>> install()
    True
    >>> x, k = tf.ones((3, 2, 5, 5, 1)), tf.ones((3, 3, 3, 1, 4))  # 3 slots, own kernels
    >>> out = tf.vectorized_map(lambda a: tf.nn.conv2d(a[0], a[1], 1, "SAME"), (x, k))
    >>> tuple(out.shape), float(out[0, 0, 2, 2, 0])
    ((3, 2, 5, 5, 4), 9.0)
    """
    global _ADDED
    with _LOCK:
        if _ADDED is None:
            _ADDED = _add_rule()
        return _ADDED


def _add_rule():
    try:
        from tensorflow.python.ops.parallel_for import pfor
    except ImportError:
        return False
    registry = getattr(pfor, "_pfor_converter_registry", None)
    if not isinstance(registry, dict) or "Conv2D" not in registry or not _device_groups():
        return False
    tensorflow_own = registry["Conv2D"]

    def convert(pfor_input):
        if (not pfor_input.inputs[1].is_stacked
                or pfor_input.get_attr("data_format").decode() != "NHWC"):
            return tensorflow_own(pfor_input)
        pfor_input.stack_inputs([0, 1])
        out = grouped_conv2d(pfor_input.stacked_input(0), pfor_input.stacked_input(1),
                             strides=list(pfor_input.get_attr("strides")),
                             padding=_padding(pfor_input),
                             dilations=list(pfor_input.get_attr("dilations")))
        return pfor.wrap(out, True)

    registry["Conv2D"] = convert
    return True


def _padding(pfor_input):
    padding = pfor_input.get_attr("padding").decode()
    if padding != "EXPLICIT":
        return padding
    flat = list(pfor_input.get_attr("explicit_paddings"))
    return [flat[i:i + 2] for i in range(0, len(flat), 2)]


def grouped_conv2d(x, kernels, strides, padding, dilations):
    """Each slot's ``conv2d(x[j], kernels[j])``, as one grouped convolution.

    ``x``: (K, batch, height, width, channels); ``kernels``: (K, kh, kw,
    channels / groups, filters). Returns (K, batch, height', width', filters).

    Examples
    --------
    >>> import numpy as np, tensorflow as tf
    >>> x = np.random.default_rng(0).normal(size=(2, 1, 4, 4, 3)).astype("float32")
    >>> k = np.random.default_rng(1).normal(size=(2, 3, 3, 3, 5)).astype("float32")
    >>> out = grouped_conv2d(tf.constant(x), tf.constant(k), 1, "SAME", 1)
    >>> apart = [tf.nn.conv2d(x[j], k[j], 1, "SAME") for j in range(2)]
    >>> bool(np.allclose(out, np.stack(apart), atol=1e-5))
    True
    """
    import tensorflow as tf

    xs, ks = tf.shape(x), tf.shape(kernels)
    slots, batch, filters = xs[0], xs[1], ks[4]
    side_by_side = tf.reshape(tf.transpose(x, [1, 2, 3, 0, 4]),
                              tf.stack([batch, xs[2], xs[3], slots * xs[4]]))
    stacked = tf.reshape(tf.transpose(kernels, [1, 2, 3, 0, 4]),
                         tf.stack([ks[1], ks[2], ks[3], slots * filters]))
    out = tf.nn.conv2d(side_by_side, stacked, strides=strides, padding=padding,
                       dilations=dilations)
    shape = tf.shape(out)
    return tf.transpose(tf.reshape(out, tf.stack([batch, shape[1], shape[2], slots, filters])),
                        [3, 0, 1, 2, 4])


def _device_groups():
    """Whether the default device runs (and differentiates) a grouped convolution."""
    import tensorflow as tf

    try:
        x, k = tf.ones((1, 3, 3, 2)), tf.ones((3, 3, 1, 2))
        with tf.GradientTape() as tape:
            tape.watch(k)
            out = tf.nn.conv2d(x, k, 1, "SAME")
        tape.gradient(out, k)
        return True
    except Exception:  # noqa: BLE001 (any refusal of the op: TensorFlow's own conversion stays)
        return False
