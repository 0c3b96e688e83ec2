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

    names = _output_names(model)

    @tf.function(input_signature=spec)
    def serve(image):
        out = model(image, training=False)
        if len(names) == 1:
            return {"probs": out}
        out = [out[n] for n in names] if isinstance(out, dict) else out
        return {name: tensor for name, tensor in zip(names, out)}  # named like the Keras outputs, in their order

    tf2onnx.convert.from_function(serve, input_signature=spec, opset=opset, output_path=str(out))
    return out


def _output_names(model) -> list[str]:
    names = list(getattr(model, "output_names", None) or [])
    return names if len(names) == len(model.outputs) else [f"output_{i}" for i in range(len(model.outputs))]
