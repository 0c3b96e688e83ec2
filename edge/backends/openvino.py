"""OpenVINO (its CPU plugin here; GPU and NPU plugins where Intel hardware has them), reading the bundle's
ONNX or TFLite file directly: no conversion step and no extra file in the bundle.

OpenVINO keeps a TFLite file's int8 input and output but not their quantization parameters, so those are
read from the flatbuffer with the TFLite runtime the base install already has. A dynamic batch axis is
fixed at 1 for the compiled model (the latency the kiosk sees); larger batches run sample by sample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.backends.base import Feeds, SingleTensorMixin, TensorInfo, check_feeds, import_runtime
from edge.errors import BackendUnavailable, InferenceError, ModelLoadError

_OV_TYPES = {"f32": "float32", "i8": "int8", "u8": "uint8", "f16": "float16", "i32": "int32", "i64": "int64"}


def load_openvino():
    return import_runtime("openvino", "pip install edgesight[openvino]")


def _tflite_quantization(path: Path) -> dict[str, tuple[float, int]]:
    """Tensor name -> (scale, zero point) for a TFLite file's inputs and outputs."""
    if path.suffix != ".tflite":
        return {}
    from edge.backends.tflite import load_interpreter_module

    _, module = load_interpreter_module()
    interp = module.Interpreter(model_path=str(path))
    details = interp.get_input_details() + interp.get_output_details()
    return {d["name"]: tuple(d.get("quantization", (0.0, 0))) for d in details}


def _info(port, quant: dict[str, tuple[float, int]]) -> TensorInfo:
    names = port.get_names() or {port.get_any_name()}
    name = port.get_any_name()
    scale, zero = next((quant[n] for n in names if n in quant), (0.0, 0))
    shape = tuple(int(d.get_length()) if d.is_static else -1 for d in port.get_partial_shape())
    return TensorInfo(name, shape, _OV_TYPES.get(port.get_element_type().get_type_name(), "float32"), float(scale),
                      int(zero))


class OpenVinoBackend(SingleTensorMixin):
    def __init__(self, path: Path, threads: int | None = None, device: str = "CPU") -> None:
        ov = load_openvino()
        self.name = "openvino"
        self.runtime = f"openvino {ov.__version__} ({device})"
        self.path = Path(path)
        core = ov.Core()
        if device not in core.available_devices:
            raise BackendUnavailable(f"OpenVINO device {device} is not available here "
                                     f"(available: {', '.join(core.available_devices)})")
        try:
            model = core.read_model(str(self.path))
            dynamic = {p.get_any_name(): [1 if not d.is_static else d.get_length() for d in p.get_partial_shape()]
                       for p in model.inputs if not p.get_partial_shape().is_static}
            if dynamic:
                model.reshape(dynamic)
            config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": int(threads or 1)}
            self._compiled = core.compile_model(model, device, config)
        except Exception as exc:  # noqa: BLE001 - OpenVINO raises RuntimeError and its own types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"{path}: OpenVINO could not load the model: {first[:200]}") from None
        quant = _tflite_quantization(self.path)
        self.inputs = [_info(p, quant) for p in self._compiled.inputs]
        self.outputs = [_info(p, quant) for p in self._compiled.outputs]
        self._request = self._compiled.create_infer_request()
        self._ov = ov

    def _set(self, feeds: Feeds) -> None:
        for i, t in enumerate(self.inputs):
            self._request.set_input_tensor(i, self._ov.Tensor(np.ascontiguousarray(feeds[t.name])))

    def bind(self, batch: np.ndarray | Feeds):
        """Inputs set once; the bare synchronous infer is what a benchmark should time."""
        feeds = self.feeds(batch)
        check_feeds(feeds, self.inputs, str(self.path))
        self._set(feeds)
        return self._request.infer

    def run(self, feeds: np.ndarray | Feeds) -> list[np.ndarray]:
        feeds = self.feeds(feeds)
        check_feeds(feeds, self.inputs, str(self.path))
        n = int(next(iter(feeds.values())).shape[0])
        if n != 1:
            parts = [self.run({k: v[i:i + 1] for k, v in feeds.items()}) for i in range(n)]
            return [np.concatenate(col) for col in zip(*parts)] if parts else []
        try:
            self._set(feeds)
            self._request.infer()
        except Exception as exc:  # noqa: BLE001
            raise InferenceError(f"OpenVINO could not run the model: {' '.join(str(exc).split())[:300]}") from None
        return [self._request.get_output_tensor(i).data.copy() for i in range(len(self.outputs))]

    def close(self) -> None:
        self._request = self._compiled = None
