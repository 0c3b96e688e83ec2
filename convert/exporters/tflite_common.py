"""The one TFLite conversion path that is known to be right here.

`TFLiteConverter.from_saved_model` on `model.export(dir)`. Never `from_concrete_functions` (its
models lose their weights and return NaN under XNNPACK) and never SELECT_TF_OPS (a model that
silently needs the Flex delegate will not run on a Pi's runtime).
"""

from __future__ import annotations

from pathlib import Path

from convert.exporters.context import ExportContext


def convert(ctx: ExportContext, out: Path, mode: str, per_channel: bool = True) -> Path:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(str(ctx.saved_model()))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if mode == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        samples = ctx.calibration

        def representative():
            for i in range(len(samples)):
                yield [samples[i:i + 1]]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        # Per-tensor weights are what some accelerators want; edge-bench calibrate compares both.
        conv._experimental_disable_per_channel = not per_channel
    elif mode != "fp32":
        raise ValueError(f"unknown TFLite mode {mode!r}")
    out.write_bytes(conv.convert())
    return out
