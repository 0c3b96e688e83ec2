"""Loading any EdgeSight .keras file: the custom layers some bundles use are registered first."""

from __future__ import annotations

from pathlib import Path


def load_keras(path: str | Path):
    import keras

    import train.pain.backbones  # noqa: F401 - registers ImagenetPreprocess (pain bundles)

    return keras.models.load_model(path, compile=False)
