"""A float-exact rewrite of the model before int8 quantization, for graphs that per-tensor int8 treats badly.

Two patterns cost DenseNet-121 most of its int8 accuracy, and neither changes the float function:

* A BatchNormalization no conv absorbs (DenseNet's BN after every concat) converts to MUL and ADD
  with one int8 scale for all channels' multipliers and offsets; channels with small multipliers
  round to nothing. As a 1x1 depthwise conv it gets per-channel int8 weights and an int32 bias.
* A concat shares one activation scale over channels whose ranges differ by orders of magnitude, so
  small channels keep a few levels. Each producer's output channel c is scaled by s_c = R / r_c
  (r_c its range on calibration images, R the widest channel of the concat it lands in) and every
  consumer divides its weights for that channel by s_c: cross-layer equalization (Nagel et al. 2019)
  through ReLU, pooling, padding and concat, which all commute with a positive per-channel scale.

The rewritten graph is flat (nested models inlined), checked against the original on calibration
images, and only the int8 files are built from it; the bundle's Keras model stays as trained.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import keras
import numpy as np

log = logging.getLogger(__name__)

PASS = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D, keras.layers.ZeroPadding2D,
        keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D, keras.layers.Dropout,
        keras.layers.Identity)
# Layers whose weights take a per-input-channel scale back (equalization) and that fold a following BatchNorm.
WEIGHTED = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)
MAX_SCALE = 1000.0


@dataclass
class Rewrite:
    model: keras.Model
    bn_to_depthwise: list[str] = field(default_factory=list)
    equalized: list[str] = field(default_factory=list)  # producers whose output channels were rescaled
    max_abs_diff: float = 0.0  # rewritten vs original model on the calibration images
    skipped: str | None = None  # why the model is quantized as it is (a layer that cannot be copied, ...)

    @property
    def changed(self) -> bool:
        return bool(self.bn_to_depthwise or self.equalized)

    def as_dict(self) -> dict:
        if self.skipped:
            return {"skipped": self.skipped}
        return {"bn_to_depthwise": len(self.bn_to_depthwise), "equalized_producers": len(self.equalized),
                "max_abs_diff": self.max_abs_diff}


def _producer(tensor):
    return tensor._keras_history.operation


def _standalone_bn(layer, inputs) -> bool:
    """A channels-last BN the converter cannot fold: after a concat or pool, or after a conv's ReLU."""
    if not isinstance(layer, keras.layers.BatchNormalization) or len(inputs[0].shape) != 4 or layer.axis not in (-1, 3):
        return False
    producer = _producer(inputs[0])
    return not (isinstance(producer, WEIGHTED) and producer.activation is keras.activations.linear)


def _bn_as_depthwise(bn, x):
    gamma = bn.gamma.numpy() if bn.scale else 1.0
    beta = bn.beta.numpy() if bn.center else 0.0
    mul = gamma / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
    dw = keras.layers.DepthwiseConv2D(1, use_bias=True, name=bn.name)
    out = dw(x)
    dw.set_weights([mul.reshape(1, 1, -1, 1).astype(np.float32),
                    (beta - bn.moving_mean.numpy() * mul).astype(np.float32)])
    return out


def flatten(model: keras.Model) -> tuple[keras.Model, list[str]]:
    """A one-level copy of the model (fresh layers, nested models inlined); standalone BNs as depthwise convs."""
    clones: dict[int, keras.layers.Layer] = {}
    replaced: list[str] = []

    def call(layer, *args, **kwargs):
        inner = getattr(layer, "_functional", None) or layer  # a Sequential runs its Functional
        if hasattr(inner, "_run_through_graph"):
            return inner._run_through_graph(args[0], operation_fn=lambda op: op, call_fn=call)
        if _standalone_bn(layer, args):
            replaced.append(layer.name)
            return _bn_as_depthwise(layer, args[0])
        if not isinstance(layer, keras.layers.Layer):  # a stateless op (`1.0 - p`) is reused as it is
            return layer(*args, **kwargs)
        kwargs.pop("training", None)
        if id(layer) in clones:
            return clones[id(layer)](*args, **kwargs)
        try:
            new = layer.__class__.from_config(layer.get_config())
        except Exception as exc:  # noqa: BLE001 - named, then handled by rewrite_for_int8
            raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) has no config to copy it by "
                             f"({type(exc).__name__})") from exc
        out = new(*args, **kwargs)
        new.set_weights(layer.get_weights())
        clones[id(layer)] = new
        return out

    graph = getattr(model, "_functional", None) or model
    inputs = [keras.Input(batch_shape=t.shape, dtype=t.dtype, name=t.name.split(":")[0]) for t in graph.inputs]
    outputs = graph._run_through_graph(inputs if len(inputs) > 1 else inputs[0], operation_fn=lambda op: op,
                                       call_fn=call)
    return keras.Model(inputs, outputs, name=model.name), replaced


def _nodes(model: keras.Model):
    """(layer, input tensors) in topological order."""
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.operation is not None and not node.is_input:
                yield node.operation, list(node.input_tensors)


def _channels_last(layer) -> bool:
    return getattr(layer, "data_format", "channels_last") == "channels_last"


def _absorbs(layer) -> bool:
    """Weights per input channel: a grouped conv's are not, and channels-first ones sit on another axis."""
    return isinstance(layer, WEIGHTED) and getattr(layer, "groups", 1) == 1 and _channels_last(layer)


def _passes(layer) -> bool:
    if not _channels_last(layer):
        return False
    if isinstance(layer, PASS):
        return True
    if isinstance(layer, keras.layers.ReLU):  # positively homogeneous unless clipped or shifted
        return layer.max_value is None and float(layer.threshold) == 0.0
    if isinstance(layer, keras.layers.LeakyReLU):
        return True
    if isinstance(layer, keras.layers.Activation):
        return layer.activation in (keras.activations.relu, keras.activations.linear)
    return False


def _concat_axis_ok(layer) -> bool:
    return isinstance(layer, keras.layers.Concatenate) and layer.axis in (-1, len(layer.output.shape) - 1)


def _produces(layer) -> bool:
    if not _channels_last(layer):
        return False
    if isinstance(layer, keras.layers.BatchNormalization):
        return layer.scale and layer.center and layer.axis in (-1, len(layer.output.shape) - 1)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return layer.depth_multiplier == 1 and layer.activation in (keras.activations.linear, keras.activations.relu)
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
        groups = getattr(layer, "groups", 1)
        return groups == 1 and layer.activation in (keras.activations.linear, keras.activations.relu)
    return False


def _channel_sources(model: keras.Model):
    """Per layer output: (producer name, channel) per channel, or None; and the producers that cannot be scaled."""
    sources: dict[str, list | None] = {}
    blocked: set[str] = set()
    concats: list[str] = []

    def src(t):
        return sources.get(_producer(t).name)

    for layer, inputs in _nodes(model):
        ins = [src(t) for t in inputs]
        scaled = {c[0] for s in ins for c in (s or []) if c}
        if _concat_axis_ok(layer):
            parts = [s if s is not None else [None] * t.shape[-1] for s, t in zip(ins, inputs)]
            sources[layer.name] = [c for part in parts for c in part]
            concats.append(layer.name)
            continue
        if len(inputs) == 1 and _passes(layer):
            sources[layer.name] = ins[0]
            continue
        if not (len(inputs) == 1 and _absorbs(layer)):
            blocked |= scaled  # an Add, a Multiply, a clipped activation...: a scaled input would change it
        if _produces(layer):
            sources[layer.name] = [(layer.name, c) for c in range(layer.output.shape[-1])]
    for t in model.outputs:
        blocked |= {c[0] for c in (src(t) or []) if c}
    return sources, blocked, concats


def _channel_ranges(model: keras.Model, names: list[str], samples: np.ndarray) -> dict[str, np.ndarray]:
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    peak: dict[str, np.ndarray] = {}
    for i in range(0, len(samples), 16):  # batch by batch: whole feature maps of every concat add up
        outs = probe.predict_on_batch(samples[i:i + 16])
        for n, o in zip(names, outs if isinstance(outs, (list, tuple)) else [outs]):
            m = np.abs(np.asarray(o)).reshape(-1, o.shape[-1]).max(0)
            peak[n] = np.maximum(peak[n], m) if n in peak else m
    return peak


def _scales(model, sources, blocked, concats, samples) -> dict[str, np.ndarray]:
    """Producer -> per-channel scale, from the last (widest) concat each channel lands in."""
    targets = [n for n in concats if any(s and s[0] not in blocked for s in sources[n])]
    if not targets:
        return {}
    ranges = _channel_ranges(model, targets, samples)
    scales: dict[str, np.ndarray] = {}
    for name in targets:  # topological order: a later concat overrides an earlier one's choice
        r = ranges[name]
        for (producer, ch), rc in zip((s or (None, 0) for s in sources[name]), r):
            if producer is None or producer in blocked:
                continue
            vec = scales.setdefault(producer, np.ones(model.get_layer(producer).output.shape[-1], np.float32))
            vec[ch] = min(r.max() / rc, MAX_SCALE) if rc > 0 else 1.0
    return scales


def _apply(model: keras.Model, sources, scales: dict[str, np.ndarray]) -> None:
    for layer, inputs in _nodes(model):
        s_out = scales.get(layer.name)
        src = sources.get(_producer(inputs[0]).name) if len(inputs) == 1 else None
        s_in = None
        if _absorbs(layer) and src:
            s_in = np.array([scales[p][c] if p in scales else 1.0 for p, c in (x or (None, 0) for x in src)],
                            np.float32)
        if s_in is None and s_out is None:
            continue
        w = layer.get_weights()
        if isinstance(layer, keras.layers.BatchNormalization):  # producer only: gamma, beta, mean, var
            w[0], w[1] = w[0] * s_out, w[1] * s_out
        else:
            kernel = w[0]
            if s_in is not None:
                shape = [1] * kernel.ndim
                shape[-2 if not isinstance(layer, keras.layers.Dense) else 0] = -1
                kernel = kernel / s_in.reshape(shape)
            if s_out is not None:
                kernel = kernel * (s_out.reshape(1, 1, -1, 1) if isinstance(layer, keras.layers.DepthwiseConv2D)
                                   else s_out)
                if layer.use_bias:
                    w[1] = w[1] * s_out
            w[0] = kernel.astype(np.float32)
        layer.set_weights(w)


def rewrite_for_int8(model: keras.Model, samples: np.ndarray, equalize: bool = True,
                     tolerance: float = 1e-3) -> Rewrite:
    """The int8-friendly twin of `model`; `changed` is False when neither pattern occurs (use the original).

    Never fatal: a graph it cannot copy (a layer without a complete config, ...) is quantized as it is.
    """
    try:
        return _rewrite(model, samples, equalize, tolerance)
    except Exception as exc:  # noqa: BLE001 - an optional optimisation must not stop a conversion
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
        log.warning("int8 rewrite skipped, quantizing the model as it is (%s)", reason)
        return Rewrite(model, skipped=reason)


def _outputs(out) -> np.ndarray:
    """Every output of a model, one or many, as one flat vector to compare."""
    return np.concatenate([np.ravel(o) for o in (out if isinstance(out, (list, tuple)) else [out])])


def _rewrite(model: keras.Model, samples: np.ndarray, equalize: bool, tolerance: float) -> Rewrite:
    flat, replaced = flatten(model)
    result = Rewrite(flat, bn_to_depthwise=replaced)
    if equalize:
        sources, blocked, concats = _channel_sources(flat)
        scales = _scales(flat, sources, blocked, concats, samples)
        _apply(flat, sources, scales)
        result.equalized = sorted(scales)
    if not result.changed:
        return Rewrite(model)
    probe = samples[:32]
    ref, new = (_outputs(m.predict(probe, batch_size=16, verbose=0)) for m in (model, flat))
    result.max_abs_diff = float(np.abs(ref - new).max())
    if result.max_abs_diff > tolerance * max(1.0, float(np.abs(ref).max())):
        log.warning("int8 rewrite changed the float outputs by %.2e; quantizing the model as it is",
                    result.max_abs_diff)
        return Rewrite(model, skipped=f"rewritten model differs by {result.max_abs_diff:.2e} in float")
    return result
