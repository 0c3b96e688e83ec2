"""Full-integer int8 with int8 input and output: what Edge TPUs and Pi-class CPUs want."""

from __future__ import annotations

from pathlib import Path

from convert.exporters.context import ExportContext
from convert.exporters.tflite_common import convert


def export(ctx: ExportContext, out: Path) -> Path:
    return convert(ctx, out, "int8")
