"""ONNX int8 by ONNX Runtime static QDQ quantization, per-channel weights.

With `keep_float`, the chosen Keras layers are left out of quantization (`nodes_to_exclude`).

Defaults per target, proved by the parity report: on x86 without VNNI the s8s8 default lost
1.35 points on a trained digits model while u8 activations + s8 weights + reduce_range kept fp32
accuracy (onnxruntime #12072); ARM kernels prefer s8s8.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np

from convert.exporters.context import ExportContext

TARGETS = {
    "x86": {"activation": "QUInt8", "weight": "QInt8", "reduce_range": True},
    "arm": {"activation": "QInt8", "weight": "QInt8", "reduce_range": False},
}


def preprocess(fp32: Path, out: Path) -> Path:
    """ORT's shape inference + graph clean-up; node names here are the ones `nodes_to_exclude` matches."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with contextlib.redirect_stdout(sys.stderr):
        quant_pre_process(str(fp32), str(out), skip_symbolic_shape=True)
    return out


def quantize_prepped(prepped: Path, out: Path, samples: np.ndarray, target: str = "x86", method: str = "MinMax",
                     per_channel: bool = True, float_nodes: list[str] | None = None) -> Path:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    input_name = onnx.load(str(prepped)).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(range(len(samples)))

        def get_next(self):
            i = next(self._it, None)
            return None if i is None else {input_name: samples[i:i + 1]}

    cfg = TARGETS[target]
    # ORT's calibrators print progress with print(); stdout belongs to our --json output.
    with contextlib.redirect_stdout(sys.stderr):
        quantize_static(
            str(prepped), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
            activation_type=getattr(QuantType, cfg["activation"]), weight_type=getattr(QuantType, cfg["weight"]),
            reduce_range=cfg["reduce_range"], calibrate_method=getattr(CalibrationMethod, method),
            nodes_to_exclude=list(float_nodes or []),
        )
    return out


def quantize_onnx(fp32: Path, out: Path, samples: np.ndarray, target: str = "x86",
                  method: str = "MinMax", per_channel: bool = True) -> Path:
    prepped = preprocess(fp32, out.with_suffix(".pre.onnx"))
    try:
        return quantize_prepped(prepped, out, samples, target, method, per_channel)
    finally:
        prepped.unlink(missing_ok=True)


def export(ctx: ExportContext, out: Path) -> Path:
    if not ctx.keep_float:
        return quantize_onnx(ctx.onnx_fp32(), out, ctx.calibration, ctx.onnx_target)
    import onnx

    from convert import mixed_precision as mp

    prepped = preprocess(ctx.onnx_fp32(), ctx.scratch(".pre.onnx"))
    units = mp.layer_units(mp.keras_layer_names(ctx.model), [n.name for n in onnx.load(str(prepped)).graph.node])
    if ctx.keep_float == mp.AUTO and ctx.selection is not None and len(units) > mp.PRESCREEN_ABOVE:
        from convert.exporters.tflite_common import prescreened_layers  # TFLite's debugger ranks the layers

        units = {name: units[name] for name in prescreened_layers(ctx) if name in units}

    def build(float_nodes: list[str]) -> Path:
        return quantize_prepped(prepped, ctx.scratch(".onnx"), ctx.calibration, ctx.onnx_target,
                                float_nodes=float_nodes)

    ctx.mixed["onnx-int8"] = mp.apply(ctx.keep_float, units, build, "onnx-int8", out, ctx.selection, ctx.progress)
    return out
