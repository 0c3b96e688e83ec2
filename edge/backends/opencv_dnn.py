"""OpenCV's DNN module as a backend, for model files neither TFLite nor ONNX Runtime reads (Caffe).

The res10 SSD face detector ships as a Caffe model plus its prototxt; cv2.dnn runs it with nothing more
installed than OpenCV. Input names and shapes come from the prototxt's `input:` / `input_shape` (or
`input_dim`) lines, output names from the network's unconnected layers.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from edge.backends.base import Feeds, SingleTensorMixin, TensorInfo, check_feeds
from edge.errors import InferenceError, ModelLoadError

_INPUT = re.compile(r'^\s*input\s*:\s*"([^"]+)"', re.M)
_DIMS = re.compile(r"^\s*(?:dim|input_dim)\s*:\s*(\d+)", re.M)


def prototxt_inputs(text: str) -> list[TensorInfo]:
    """The declared inputs of a Caffe prototxt, with their shapes (NCHW float32)."""
    names = _INPUT.findall(text)
    dims = [int(d) for d in _DIMS.findall(text.split("layer", 1)[0])]
    if not names or len(dims) < 4 * len(names):
        raise ModelLoadError("the prototxt declares no input with a 4-D shape (input: / input_shape)")
    return [TensorInfo(n, tuple(dims[4 * i:4 * i + 4]), "float32") for i, n in enumerate(names)]


class OpenCVDnnBackend(SingleTensorMixin):
    def __init__(self, path: Path, threads: int | None = None, config: Path | None = None) -> None:
        import cv2

        self.name = "opencv-dnn"
        self.runtime = f"opencv {cv2.__version__} dnn"
        self.path = Path(path)
        if config is None:
            raise ModelLoadError(f"{path}: a Caffe model needs its prototxt (config=...)")
        try:
            self._net = cv2.dnn.readNetFromCaffe(str(config), str(self.path))
        except cv2.error as exc:
            raise ModelLoadError(f"{path}: cv2.dnn cannot load the model: {str(exc).strip().splitlines()[-1]}") \
                from None
        self.inputs = prototxt_inputs(Path(config).read_text(errors="replace"))
        self._output_names = list(self._net.getUnconnectedOutLayersNames())
        self.outputs = [TensorInfo(n, (-1,), "float32") for n in self._output_names]
        if threads:
            cv2.setNumThreads(threads)  # OpenCV's pool is process-wide: the last backend opened sets it

    def _set(self, feeds: Feeds) -> None:
        for name, tensor in feeds.items():
            self._net.setInput(np.ascontiguousarray(tensor, np.float32), name)

    def run(self, feeds: np.ndarray | Feeds) -> list[np.ndarray]:
        import cv2

        feeds = self.feeds(feeds)
        check_feeds(feeds, self.inputs, str(self.path))
        try:
            self._set(feeds)
            return list(self._net.forward(self._output_names))
        except cv2.error as exc:
            raise InferenceError(f"cv2.dnn could not run {self.path.name}: {str(exc).strip().splitlines()[-1]}") \
                from None

    def bind(self, batch: np.ndarray | Feeds):
        feeds = self.feeds(batch)
        check_feeds(feeds, self.inputs, str(self.path))
        names, net = self._output_names, self._net

        def call():
            self._set(feeds)  # cv2.dnn consumes its input on forward
            return net.forward(names)

        return call

    def close(self) -> None:
        self._net = None
