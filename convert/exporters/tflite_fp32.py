"""Float32: the reference artefact every quantized file is compared with."""

from __future__ import annotations

from pathlib import Path

from convert.exporters.context import ExportContext
from convert.exporters.tflite_common import convert


def export(ctx: ExportContext, out: Path) -> Path:
    return convert(ctx, out, "fp32")
