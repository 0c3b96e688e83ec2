"""ONNX Runtime with a chosen execution provider (CPU by default; CUDA, TensorRT, ... where present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.backends.base import Feeds, SingleTensorMixin, TensorInfo, check_feeds, import_runtime
from edge.errors import BackendUnavailable, InferenceError, ModelLoadError

_ORT_TYPES = {"tensor(float)": "float32", "tensor(int8)": "int8", "tensor(uint8)": "uint8",
              "tensor(float16)": "float16"}


def load_ort():
    return import_runtime("onnxruntime", "pip install onnxruntime")


def _info(arg) -> TensorInfo:
    shape = tuple(int(s) if isinstance(s, int) else -1 for s in arg.shape)
    return TensorInfo(arg.name, shape, _ORT_TYPES.get(arg.type, arg.type))


class OnnxBackend(SingleTensorMixin):
    def __init__(self, path: Path, threads: int | None = None, provider: str = "CPUExecutionProvider") -> None:
        ort = load_ort()
        self.name = "onnx"
        self.runtime = f"onnxruntime {ort.__version__}"
        available = ort.get_available_providers()
        if provider not in available:
            raise BackendUnavailable(f"ONNX Runtime provider {provider} is not available here "
                                     f"(available: {', '.join(available)})")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.path = Path(path)
        try:
            self._session = ort.InferenceSession(self.path.read_bytes(), sess_options=opts, providers=[provider])
        except Exception as exc:  # noqa: BLE001 - ORT raises several private exception types
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelLoadError(f"{path}: ONNX Runtime could not load the model: {first}") from None
        self.provider = self._session.get_providers()[0]
        self.inputs = [_info(a) for a in self._session.get_inputs()]
        self.outputs = [_info(a) for a in self._session.get_outputs()]
        self._output_names = [t.name for t in self.outputs]

    def bind(self, batch: np.ndarray | Feeds):
        """The run with its feed prepared: the thing a benchmark should time."""
        feeds = dict(self.feeds(batch))
        check_feeds(feeds, self.inputs, str(self.path))
        outputs, run = self._output_names, self._session.run
        return lambda: run(outputs, feeds)

    def run(self, feeds: np.ndarray | Feeds) -> list[np.ndarray]:
        feeds = self.feeds(feeds)
        check_feeds(feeds, self.inputs, str(self.path))
        try:
            return self._session.run(self._output_names, dict(feeds))
        except Exception as exc:  # noqa: BLE001 - ORT raises several private exception types
            raise InferenceError(f"ONNX Runtime could not run the model: {' '.join(str(exc).split())[:300]}") \
                from None

    def close(self) -> None:
        self._session = None
