"""The face-mask dataset: a Kaggle "Face Mask 12k"-style folder, or the synthetic set built offline.

Users point `--data` at the real Kaggle set (`Train|Validation|Test/WithMask|WithoutMask`) or any
two-class image folder. Without a path, the synthetic set (real faces, painted masks; see
train/synth) is built into the cache on first use, since no mask photos can be downloaded here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from train.datasets.base import Dataset, cache_dir
from train.datasets.folders import load_image_folder

SIZE = (128, 128)
log = logging.getLogger(__name__)


def synthetic_dir() -> Path:
    return cache_dir() / "masks-synthetic"


def build_synthetic(out: Path | None = None, seed: int = 42, scale: float = 1.0) -> dict:
    from train.synth.faces import iter_face_photos
    from train.synth.maskset import build_mask_set

    out = Path(out or synthetic_dir())
    log.info("building the synthetic mask set in %s (real faces, painted masks)", out)
    return build_mask_set(iter_face_photos(), out, seed=seed, scale=scale)


def load_mask(source: str = "auto", path: str | Path | None = None, seed: int = 42) -> Dataset:
    if path is None:
        if source == "keras":
            raise ValueError("there is no keras.datasets mask set; give --data PATH (e.g. the Kaggle Face Mask 12k)")
        path = synthetic_dir()
        if not (path / "dataset.json").is_file():
            build_synthetic(path, seed=seed)
    # A set built by train/synth says so in its dataset.json; its bundles must say so too.
    synthetic = (Path(path) / "dataset.json").is_file()
    return load_image_folder(path, SIZE, color="rgb", seed=seed, name="mask-synthetic" if synthetic else "mask")
