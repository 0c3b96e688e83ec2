"""Float16 weights: half the size, float compute; the GPU delegates' native type."""

from __future__ import annotations

from pathlib import Path

from convert.exporters.context import ExportContext
from convert.exporters.tflite_common import convert


def export(ctx: ExportContext, out: Path) -> Path:
    return convert(ctx, out, "fp16")
