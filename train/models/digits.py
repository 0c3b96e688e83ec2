"""The seed 003 CNNs for 28x28 grayscale digits and clothing."""

from __future__ import annotations

import keras
from keras import layers


def build_advanced(input_shape: tuple[int, int, int] = (28, 28, 1), n_classes: int = 10) -> keras.Model:
    """The paper's "advanced" model: 887,530 parameters for 28x28x1 and 10 classes."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape, name="image"),
            layers.Conv2D(32, 5, padding="same", activation="relu"),
            layers.Conv2D(32, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2, strides=2),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(n_classes, activation="softmax", name="probs"),
        ],
        name="digits_advanced",
    )


def build_simple(input_shape: tuple[int, int, int] = (28, 28, 1), n_classes: int = 10) -> keras.Model:
    """The paper's "simple" baseline (0.966 on MNIST in the paper)."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape, name="image"),
            layers.Conv2D(64, 3, activation="relu"),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(n_classes, activation="softmax", name="probs"),
        ],
        name="digits_simple",
    )


MODELS = {"advanced": build_advanced, "simple": build_simple}
