"""ONNX fp32: the context's graph (convert.onnx_graph, made once per conversion) written out."""

from __future__ import annotations

from pathlib import Path

from convert.exporters.context import ExportContext


def export(ctx: ExportContext, out: Path) -> Path:
    out.write_bytes(ctx.onnx_fp32().read_bytes())
    return out
