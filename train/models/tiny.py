"""A tiny CNN for small, quick classifiers (the face / not-face second look): four conv blocks and a
global average, about 45k parameters, well under a millisecond per 48x48 crop in int8 on a Pi-class CPU.

Conv -> BatchNorm -> ReLU, so the converter folds every BatchNorm into its conv (no unfoldable BN for int8).
"""

from __future__ import annotations

import keras
from keras import layers


def build_tiny_cnn(input_shape: tuple[int, int, int] = (48, 48, 1), n_classes: int = 2) -> keras.Model:
    x = inputs = keras.Input(shape=input_shape, name="image")
    for i, filters in enumerate((16, 32, 64, 64), start=1):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)  # small sets: statistics settle in time
        x = layers.ReLU(name=f"relu{i}")(x)
        if i < 4:
            x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(0.3, name="drop")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")
