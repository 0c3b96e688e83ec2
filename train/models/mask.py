"""The face-mask CNN: three 3x3 conv blocks, 64 -> 32 -> 16 filters, each conv -> BatchNorm -> pool -> dropout.

Provenance: the seed 004 paper's "model_6", its best of six variants.
"""

from __future__ import annotations

import keras
from keras import layers


def build_mask_cnn(input_shape: tuple[int, int, int] = (128, 128, 3), n_classes: int = 2) -> keras.Model:
    blocks = []
    for i, filters in enumerate((64, 32, 16), start=1):  # fixed names: edge-dream and reports refer to them
        blocks += [layers.Conv2D(filters, 3, activation="relu", name=f"conv{i}"), layers.BatchNormalization(
            name=f"bn{i}"), layers.MaxPooling2D(2, name=f"pool{i}"), layers.Dropout(0.3, name=f"drop{i}")]
    return keras.Sequential(
        [keras.Input(shape=input_shape, name="image"), *blocks, layers.Flatten(),
         layers.Dense(n_classes, activation="softmax", name="probs")],
        name="mask_model6",
    )


MODELS = {"mask-cnn": build_mask_cnn}
