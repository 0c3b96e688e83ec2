"""Full-integer int8 with int8 input and output: what Edge TPUs and Pi-class CPUs want.

`int8_io="float"` keeps a float input and output around the int8 body: the runtime then sees the
scores unrounded, which matters for a two-class model whose scores sit near 0.5.

With `keep_float`, the chosen Keras layers stay float inside the same int8-in/int8-out file
(convert/mixed_precision.py says why and how they are chosen).
"""

from __future__ import annotations

from pathlib import Path

from convert.exporters.context import ExportContext
from convert.exporters.tflite_common import calibrate, convert, node_names, prescreened_layers, quantize_calibrated


def export(ctx: ExportContext, out: Path) -> Path:
    if not ctx.keep_float:
        return convert(ctx, out, "int8")
    from convert import mixed_precision as mp

    calibrated = calibrate(ctx)
    units = mp.layer_units(mp.keras_layer_names(ctx.model), *node_names(calibrated))
    if ctx.keep_float == mp.AUTO and ctx.selection is not None and len(units) > mp.PRESCREEN_ABOVE:
        units = {name: units[name] for name in prescreened_layers(ctx) if name in units}

    def build(float_nodes: list[str]) -> Path:
        path = ctx.scratch(".tflite")
        path.write_bytes(quantize_calibrated(calibrated, float_nodes, io=ctx.int8_io))
        return path

    ctx.mixed["tflite-int8"] = mp.apply(ctx.keep_float, units, build, "tflite-int8", out, ctx.selection, ctx.progress)
    return out
