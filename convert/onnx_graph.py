"""Keras -> ONNX fp32 via tf2onnx on a tf.function with an input signature.

`tf2onnx.convert.from_keras` fails on Keras 3 (KeyError 'keras_tensor_*'); `from_function` on a
traced call with a dynamic batch axis works and matches Keras to ~1e-7.
"""

from __future__ import annotations

from pathlib import Path


def to_onnx(model, out: Path, opset: int = 17) -> Path:
    import tensorflow as tf
    import tf2onnx

    shape = [None, *model.inputs[0].shape[1:]]
    spec = (tf.TensorSpec(shape, tf.float32, name="image"),)

    @tf.function(input_signature=spec)
    def serve(image):
        return {"probs": model(image, training=False)}

    tf2onnx.convert.from_function(serve, input_signature=spec, opset=opset, output_path=str(out))
    return out
