"""Dynamic-range: int8 weights, float activations; no calibration data needed."""

from __future__ import annotations

from pathlib import Path

from convert.exporters.context import ExportContext
from convert.exporters.tflite_common import convert


def export(ctx: ExportContext, out: Path) -> Path:
    return convert(ctx, out, "dynamic")
