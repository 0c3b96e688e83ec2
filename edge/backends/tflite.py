"""TFLite on the CPU (XNNPACK for float models), via ai_edge_litert, tflite_runtime or tensorflow.lite."""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path

import numpy as np

from edge.backends.base import Feeds, SingleTensorMixin, TensorInfo, check_feeds
from edge.errors import BackendUnavailable, InferenceError, ModelLoadError

# The order the product brief fixes: the maintained runtime first, TensorFlow itself last. The last is a
# fallback the edge package otherwise avoids (edge/ never imports TensorFlow): chosen only when nothing
# lighter is installed, and then said in a warning and in every report's runtime name.
_RUNTIMES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite.python.interpreter")
_SHORT = {"ai_edge_litert": _RUNTIMES[0], "tflite_runtime": _RUNTIMES[1], "tensorflow": _RUNTIMES[2]}
TFLITE_MAGIC = b"TFL3"
SMALL_BATCH = 16
_LOG = logging.getLogger(__name__)


def load_interpreter_module():
    """The first TFLite runtime that imports; EDGESIGHT_TFLITE_RUNTIME=tflite_runtime (etc.) forces one."""
    forced = os.environ.get("EDGESIGHT_TFLITE_RUNTIME")
    if forced and forced not in _SHORT:
        raise BackendUnavailable(f"EDGESIGHT_TFLITE_RUNTIME={forced!r}: choose one of {', '.join(_SHORT)}")
    reasons = []
    for name in (_SHORT[forced],) if forced else _RUNTIMES:
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - any import failure just means "try the next"
            reasons.append(f"{name}: {type(exc).__name__}")
            continue
        if name == _RUNTIMES[2]:
            _LOG.warning("TFLite runs through TensorFlow itself (tensorflow.lite): no ai-edge-litert or "
                         "tflite-runtime is installed. The edge runtime works, but loads all of TensorFlow; "
                         "`pip install ai-edge-litert` for the light runtime a device should use.")
        return name, module
    raise BackendUnavailable("no TFLite runtime installed (pip install ai-edge-litert); tried " + "; ".join(reasons))


def check_flatbuffer(path: Path) -> bytes:
    """Cheap structural checks before native code sees the bytes (a bad flatbuffer can crash it)."""
    data = path.read_bytes()
    if len(data) < 16:
        raise ModelLoadError(f"{path}: {len(data)} bytes is too small to be a TFLite model")
    if data[4:8] != TFLITE_MAGIC:
        raise ModelLoadError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier); wrong file or format?")
    root = int.from_bytes(data[0:4], "little")
    if root >= len(data):
        raise ModelLoadError(f"{path}: truncated TFLite model (root offset {root} past end {len(data)})")
    return data


def _info(detail: dict, actual: bool = False) -> TensorInfo:
    """The tensor's facts; its declared shape (-1 for dynamic axes), or with `actual` the allocated one."""
    scale, zero = detail.get("quantization", (0.0, 0))
    shape = tuple(int(s) for s in (detail["shape"] if actual else detail.get("shape_signature", detail["shape"])))
    return TensorInfo(detail["name"], shape, np.dtype(detail["dtype"]).name, float(scale), int(zero))


class TFLiteBackend(SingleTensorMixin):
    """One interpreter, tensors allocated once; N inputs and N outputs; batches run sample by sample unless
    every input has a dynamic batch axis to resize."""

    def __init__(self, path: Path, threads: int | None = None, xnnpack: bool = True, delegates=None) -> None:
        self.runtime, module = load_interpreter_module()
        self.name = "tflite"
        self.path = Path(path)
        data = check_flatbuffer(self.path)
        kwargs: dict = {"model_content": data, "num_threads": threads or 1}
        if delegates:
            kwargs["experimental_delegates"] = delegates
        if not xnnpack:
            resolver = getattr(module, "OpResolverType", None)
            if resolver is None:
                raise BackendUnavailable(f"{self.runtime} cannot turn XNNPACK off")
            kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            self._interp = module.Interpreter(**kwargs)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"{path}: TFLite could not load the model: {str(exc).splitlines()[0]}") from None
        ins, outs = self._interp.get_input_details(), self._interp.get_output_details()
        if not ins or not outs:
            raise ModelLoadError(f"{path}: a model needs inputs and outputs, found {len(ins)} and {len(outs)}")
        self.inputs, self.outputs = [_info(d) for d in ins], [_info(d) for d in outs]
        self._in_index = {d["name"]: d["index"] for d in ins}
        self._in_rest = {d["name"]: [int(v) for v in d["shape"][1:]] for d in ins}  # shape past the batch axis
        self._out_index = [d["index"] for d in outs]
        self._batch = int(ins[0]["shape"][0]) if len(ins[0]["shape"]) else 1
        self._resizable = all(t.shape and t.shape[0] == -1 for t in self.inputs)

    def reshape(self, shapes: dict[str, list[int]]) -> None:
        """Give inputs new full shapes (a fully convolutional detector run at another resolution); the output
        shapes follow. ModelLoadError when the graph cannot take them (a fixed reshape inside)."""
        try:
            for name, shape in shapes.items():
                self._interp.resize_tensor_input(self._in_index[name], [int(v) for v in shape])
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"{self.path}: the model cannot run at input shapes {shapes}: "
                                 f"{' '.join(str(exc).split())[:200]}") from None
        ins, outs = self._interp.get_input_details(), self._interp.get_output_details()
        self.inputs = [_info(d, actual=True) for d in ins]
        self.outputs = [_info(d, actual=True) for d in outs]
        self._in_rest = {d["name"]: [int(v) for v in d["shape"][1:]] for d in ins}
        self._batch = int(ins[0]["shape"][0])

    def _set(self, feeds: Feeds) -> None:
        for name, tensor in feeds.items():
            self._interp.set_tensor(self._in_index[name], tensor)

    def bind(self, batch: np.ndarray | Feeds):
        """Set the inputs once and return the bare invoke: the thing a benchmark should time."""
        feeds = self.feeds(batch)
        check_feeds(feeds, self.inputs, str(self.path))
        self._resize(_batch_of(feeds))
        self._set(feeds)
        return self._interp.invoke

    def ops_details(self) -> list[dict]:
        return self._interp._get_ops_details()

    def _resize(self, n: int) -> None:
        # Small batches (the faces of one frame) loop at the allocated size: re-allocating tensors for
        # every new face count costs more than it saves. Large batches (evaluation sets) resize.
        if n != self._batch and self._resizable and (n > SMALL_BATCH or n == 1):
            for name, index in self._in_index.items():
                self._interp.resize_tensor_input(index, [n, *self._in_rest[name]])
            self._interp.allocate_tensors()
            self._batch = n

    def run(self, feeds: np.ndarray | Feeds) -> list[np.ndarray]:
        feeds = self.feeds(feeds)
        check_feeds(feeds, self.inputs, str(self.path))
        n = _batch_of(feeds)
        self._resize(n)
        if n != self._batch:
            parts = [self.run({k: v[i:i + 1] for k, v in feeds.items()}) for i in range(n)]
            return [np.concatenate(col) for col in zip(*parts)]
        try:
            self._set(feeds)
            self._interp.invoke()
        except (ValueError, RuntimeError) as exc:
            # XNNPACK prepares lazily: a damaged model can load and then fail here.
            raise InferenceError(f"TFLite could not run the model: {' '.join(str(exc).split())[:300]}") from None
        return [self._interp.get_tensor(i).copy() for i in self._out_index]

    def close(self) -> None:
        self._interp = None


def _batch_of(feeds: Feeds) -> int:
    first = next(iter(feeds.values()))
    return int(first.shape[0]) if first.ndim else 1
