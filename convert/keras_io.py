"""Loading any EdgeSight .keras file, on the training side and in the converter alike.

The one custom layer some bundles hold (pain backbones' ImageNet input normalisation) lives in
`convert.keras_layers`, which both `train/` and `convert/` import; registering it here first is what
lets any .keras file of this project load (Keras needs the class to deserialize the layer).
"""

from __future__ import annotations

from pathlib import Path


def load_keras(path: str | Path):
    import keras

    import convert.keras_layers  # noqa: F401 - registers edgesight>ImagenetPreprocess

    return keras.models.load_model(path, compile=False)
