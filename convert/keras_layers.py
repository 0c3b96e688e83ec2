"""Custom Keras layers that bundles carry, importable by the training side and the converter alike.

`ImagenetPreprocess` is keras.applications' `preprocess_input` as a saveable layer (a Lambda would not
reload or convert), so a pain bundle takes plain RGB pixels in [0, 255] and its backbone's own input
normalisation travels inside the graph to TFLite and ONNX. Its numbers are edge.preprocess's presets, the
same table `edge-convert --preprocess` names, so there is one definition of each normalisation.
"""

from __future__ import annotations

import keras
from keras import ops

from edge.preprocess import PRESETS

# keras.applications' preprocess_input modes -> the preset with the same arithmetic
MODE_PRESET = {"tf": "-1..1", "torch": "imagenet-torch", "caffe": "imagenet-caffe"}


@keras.saving.register_keras_serializable(package="edgesight")
class ImagenetPreprocess(keras.layers.Layer):
    def __init__(self, mode: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.mode = mode

    def call(self, x):
        p = PRESETS[MODE_PRESET[self.mode]]
        if p.color == "bgr":
            x = x[..., ::-1]
        x = x * p.scale
        return (x - ops.convert_to_tensor(p.mean)) / ops.convert_to_tensor(p.std)

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode}
