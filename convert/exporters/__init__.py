"""Format name -> exporter. One module each; adding a format is one module and one line here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from convert.exporters import onnx_fp32, onnx_int8, tflite_dynamic, tflite_fp16, tflite_fp32, tflite_int8
from convert.exporters.context import ExportContext

Exporter = Callable[[ExportContext, Path], Path]

EXPORTERS: dict[str, tuple[Exporter, str]] = {
    "tflite-fp32": (tflite_fp32.export, "model_fp32.tflite"),
    "tflite-fp16": (tflite_fp16.export, "model_fp16.tflite"),
    "tflite-dynamic": (tflite_dynamic.export, "model_dynamic.tflite"),
    "tflite-int8": (tflite_int8.export, "model_int8.tflite"),
    "onnx-fp32": (onnx_fp32.export, "model_fp32.onnx"),
    "onnx-int8": (onnx_int8.export, "model_int8.onnx"),
}
INT8_FORMATS = ("tflite-int8", "onnx-int8")

__all__ = ["EXPORTERS", "INT8_FORMATS", "ExportContext"]
