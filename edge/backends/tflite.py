"""TFLite on the CPU (XNNPACK for float models), via ai_edge_litert, tflite_runtime or tensorflow.lite."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np

from edge.backends.base import TensorInfo
from edge.errors import BackendUnavailable, InferenceError, ModelLoadError

# The order the product brief fixes: the maintained runtime first, TensorFlow itself last.
_RUNTIMES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite")
_SHORT = {"ai_edge_litert": _RUNTIMES[0], "tflite_runtime": _RUNTIMES[1], "tensorflow": _RUNTIMES[2]}
TFLITE_MAGIC = b"TFL3"
SMALL_BATCH = 16


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


def _info(detail: dict) -> TensorInfo:
    scale, zero = detail.get("quantization", (0.0, 0))
    shape = tuple(int(s) for s in detail.get("shape_signature", detail["shape"]))
    return TensorInfo(detail["name"], shape, np.dtype(detail["dtype"]).name, float(scale), int(zero))


class TFLiteBackend:
    """One interpreter, tensors allocated once; batches run sample by sample unless resized."""

    def __init__(self, path: Path, threads: int | None = None, xnnpack: bool = True, delegates=None) -> None:
        self.runtime, module = load_interpreter_module()
        self.name = "tflite"
        data = check_flatbuffer(Path(path))
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
        if len(ins) != 1 or len(outs) != 1:
            raise ModelLoadError(f"{path}: expected one input and one output, found {len(ins)} and {len(outs)}")
        self.input, self.output = _info(ins[0]), _info(outs[0])
        self._in_index, self._out_index = ins[0]["index"], outs[0]["index"]
        self._in_shape = tuple(int(s) for s in ins[0]["shape"])

    def bind(self, batch: np.ndarray):
        """Set the input once and return the bare invoke: the thing a benchmark should time."""
        self._resize(batch.shape[0])
        self._interp.set_tensor(self._in_index, batch)
        return self._interp.invoke

    def ops_details(self) -> list[dict]:
        return self._interp._get_ops_details()

    def _resize(self, n: int) -> None:
        # Small batches (the faces of one frame) loop at the allocated size: re-allocating tensors for
        # every new face count costs more than it saves. Large batches (evaluation sets) resize.
        if n != self._in_shape[0] and self.input.shape[0] == -1 and (n > SMALL_BATCH or n == 1):
            self._in_shape = (n, *self._in_shape[1:])
            self._interp.resize_tensor_input(self._in_index, list(self._in_shape))
            self._interp.allocate_tensors()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        self._resize(batch.shape[0])
        if batch.shape[0] == self._in_shape[0]:
            try:
                self._interp.set_tensor(self._in_index, batch)
                self._interp.invoke()
            except (ValueError, RuntimeError) as exc:
                # XNNPACK prepares lazily: a damaged model can load and then fail here.
                raise InferenceError(f"TFLite could not run the model: {' '.join(str(exc).split())[:300]}") from None
            return self._interp.get_tensor(self._out_index).copy()
        return np.concatenate([self.infer(batch[i:i + 1]) for i in range(batch.shape[0])])

    def close(self) -> None:
        self._interp = None
