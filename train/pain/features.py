"""Backbone features, extracted once and cached: the heads then train in seconds.

The cache key covers the backbone, its weights, the input size and every image (path, size,
mtime), so a changed image or weights file can never reuse stale features.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from edge.cache import cache_dir
from edge.preprocess import prepare_dataset
from train.pain.data import pain_preprocess


def cache_key(backbone: str, weights: str | None, size: int, files: list[Path]) -> str:
    h = hashlib.sha256(f"{backbone}|{weights}|{size}".encode())
    if weights and Path(str(weights)).is_file():
        st = Path(weights).stat()
        h.update(f"{st.st_size}|{st.st_mtime_ns}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def read_rgb(path: Path, size: int) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: unreadable image")
    return cv2.cvtColor(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def extract(backbone_name: str, weights: str | None, files: list[Path], size: int = 224, batch: int = 32,
            progress: bool = True, cache: Path | None = None, model=None) -> tuple[np.ndarray, bool]:
    """(features (N, F) float32, from_cache). With `model` given, features come from it, uncached."""
    from tqdm import tqdm

    folder = cache or cache_dir() / "pain-features"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{backbone_name}-{cache_key(backbone_name, weights, size, files)}.npz"
    if model is None and path.is_file():
        return np.load(path)["features"], True
    from train.pain.backbones import build_backbone

    cacheable = model is None and weights not in (None, "random")  # random weights differ per build
    model = model or build_backbone(backbone_name, weights, size)
    out = []
    with tqdm(total=len(files), desc=f"features {backbone_name}", unit="img", disable=not progress) as bar:
        for i in range(0, len(files), batch):
            chunk = prepare_dataset(np.stack([read_rgb(f, size) for f in files[i:i + batch]]), pain_preprocess(size))
            out.append(np.asarray(model(chunk, training=False)))  # predict() would retrace on the last batch
            bar.update(len(chunk))
    features = np.concatenate(out).astype(np.float32)
    if cacheable:
        np.savez_compressed(path, features=features)
    return features, False
