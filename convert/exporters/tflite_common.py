"""The one TFLite conversion path that is known to be right here.

`TFLiteConverter.from_saved_model` on `model.export(dir)`. Never `from_concrete_functions` (its
models lose their weights and return NaN under XNNPACK) and never SELECT_TF_OPS (a model that
silently needs the Flex delegate will not run on a Pi's runtime).
"""

from __future__ import annotations

from pathlib import Path

from convert.exporters.context import ExportContext


def _converter(ctx: ExportContext):
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(str(ctx.saved_model()))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return conv


def _representative(samples):
    def representative():
        for i in range(len(samples)):
            yield [samples[i:i + 1]]
    return representative


def convert(ctx: ExportContext, out: Path, mode: str, per_channel: bool = True) -> Path:
    import tensorflow as tf

    conv = _converter(ctx)
    if mode == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = _representative(ctx.calibration)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if ctx.int8_io == "int8":
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
        # Per-tensor weights are what some accelerators want; edge-bench calibrate compares both.
        conv._experimental_disable_per_channel = not per_channel
    elif mode != "fp32":
        raise ValueError(f"unknown TFLite mode {mode!r}")
    out.write_bytes(conv.convert())
    return out


def calibrate(ctx: ExportContext) -> bytes:
    """A float model carrying calibration ranges, made once; quantized many times over by `quantize_calibrated`."""
    import tensorflow as tf

    if ctx.calibrated is None:
        conv = _converter(ctx)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = _representative(ctx.calibration)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv._experimental_calibrate_only = True
        ctx.calibrated = conv.convert()
    return ctx.calibrated


def node_names(model: bytes) -> tuple[list[str], list[str]]:
    """Output tensor names of every op (what the MLIR quantizer's denylist matches), and scope hints.

    An op writing a graph output is named after the signature (`StatefulPartitionedCall_1:0`), so
    its hint is its input's name: the final softmax then belongs to its Dense layer.
    """
    from edge.backends.tflite import load_interpreter_module

    interp = load_interpreter_module()[1].Interpreter(model_content=model)
    names = {t["index"]: t["name"] for t in interp.get_tensor_details()}
    outputs = {d["index"] for d in interp.get_output_details()}
    nodes, hints = [], []
    for op in interp._get_ops_details():
        for i in op["outputs"]:
            if i not in names:
                continue
            nodes.append(names[i])
            inputs = [names[j] for j in op["inputs"] if j in names]
            hints.append(inputs[0] if i in outputs and inputs else names[i])
    return nodes, hints


def quantize_calibrated(calibrated: bytes, float_nodes: list[str], per_channel: bool = True,
                        io: str = "int8") -> bytes:
    """Full-integer int8 (int8 input and output unless `io="float"`), except the listed nodes, which stay float.

    The same MLIR quantizer the converter runs (and tf.lite's QuantizationDebugger wraps); the
    debugger's own path cannot make int8 input and output, which the kiosk and Edge TPUs want.
    """
    import tensorflow as tf
    from tensorflow.lite.python import convert as lite_convert

    io_type = tf.int8 if io == "int8" else tf.float32
    return lite_convert.mlir_quantize(calibrated, disable_per_channel=not per_channel,
                                      input_data_type=io_type, output_data_type=io_type,
                                      denylisted_nodes=list(float_nodes))


def layer_errors(ctx: ExportContext, samples) -> dict[str, float]:
    """Per-op int8 error, RMSE over the output scale, from one pass of TFLite's QuantizationDebugger.

    Each op is measured on the same quantized input as its float twin, so this ranks where error is
    made, not where it accumulates: a cheap pre-screen before whole-model trials on big graphs.
    """
    import csv
    import io
    import math

    import tensorflow as tf
    from tensorflow.lite.python import convert as lite_convert

    # The debug model (NumericVerify after every op) from the calibrated model already made: no second calibration.
    debug_model = lite_convert.mlir_quantize(calibrate(ctx), enable_numeric_verify=True)
    debugger = tf.lite.experimental.QuantizationDebugger(quant_debug_model_content=debug_model,
                                                         debug_dataset=_representative(samples))
    debugger.run()
    buf = io.StringIO()
    debugger.layer_statistics_dump(buf)
    errors = {}
    for row in csv.DictReader(io.StringIO(buf.getvalue())):
        try:
            scale, mse = float(row["scale"]), float(row["mean_squared_error"])
        except (KeyError, TypeError, ValueError):
            continue
        if scale > 0 and math.isfinite(mse):
            errors[row["tensor_name"]] = math.sqrt(mse) / scale
    return errors


def prescreened_layers(ctx: ExportContext) -> list[str]:
    """The Keras layers worth whole-model trials on a big graph, measured once and shared by both int8 formats."""
    from convert import mixed_precision as mp

    if "layers" not in ctx.prescreen:
        units = mp.layer_units(mp.keras_layer_names(ctx.model), *node_names(calibrate(ctx)))
        errors = layer_errors(ctx, ctx.selection.x[:mp.PRESCREEN_SAMPLES])
        ctx.prescreen["layers"] = mp.prescreen(units, errors)
    return ctx.prescreen["layers"]
