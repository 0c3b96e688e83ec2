"""Backends by name. An uninstalled runtime is reported as unavailable, never a crash at import."""

from __future__ import annotations

import importlib
from pathlib import Path

from edge.backends.base import Backend, TensorInfo
from edge.errors import BackendUnavailable, EdgeSightError

# name -> "module:Class"; adding a backend is one module and one line here.
REGISTRY: dict[str, str] = {
    "tflite": "edge.backends.tflite:TFLiteBackend",
    "onnx": "edge.backends.onnx:OnnxBackend",
    "opencv-dnn": "edge.backends.opencv_dnn:OpenCVDnnBackend",  # Caffe files (the res10 face detector)
    "openvino": "edge.backends.openvino:OpenVinoBackend",  # the ONNX and TFLite files as they are
}


def backend_for_format(fmt: str) -> str:
    if fmt.startswith("tflite-"):
        return "tflite"
    if fmt.startswith("onnx-"):
        return "onnx"
    raise EdgeSightError(f"format {fmt!r} does not run on the edge runtime (Keras needs TensorFlow); "
                         "pick a tflite-* or onnx-* file, or run edge-convert on the bundle")


def open_backend(name: str, path: Path, threads: int | None = None, **options: object) -> Backend:
    if name not in REGISTRY:
        raise EdgeSightError(f"unknown backend {name!r}; choose one of {', '.join(REGISTRY)}")
    module_name, cls_name = REGISTRY[name].split(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except ImportError as exc:
        raise BackendUnavailable(f"backend {name} unavailable: {exc}") from None
    return cls(Path(path), threads=threads, **options)


__all__ = ["REGISTRY", "Backend", "TensorInfo", "backend_for_format", "open_backend"]
