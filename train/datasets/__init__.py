"""Datasets by name: `load_dataset("mnist" | "fashion" | PATH_TO_IMAGE_FOLDER)`."""

from __future__ import annotations

from pathlib import Path

from train.datasets.base import Dataset, cache_dir, stratified_sample, stratified_split
from train.datasets.folders import load_image_folder
from train.datasets.masks import load_mask
from train.datasets.mnist import load_fashion, load_mnist


def load_pain(**kwargs) -> Dataset:
    from train.pain.data import load_pain_dataset  # train.pain imports this package: import late

    return load_pain_dataset(**kwargs)


def load_face_verifier(source: str = "auto", path: str | Path | None = None, seed: int = 42) -> Dataset:
    """The second look's face / not-face crops (`edge-train verifier-set`), 48x48 grey."""
    from train.synth.verifyset import VERIFIER_SIZE

    root = Path(path) if path else cache_dir() / "face-verifier-set"
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no verifier set; build it with `edge-train verifier-set`")
    return load_image_folder(root, (VERIFIER_SIZE, VERIFIER_SIZE), "gray", seed=seed, name="face-verifier-set")


LOADERS = {"mnist": load_mnist, "digits": load_mnist, "fashion": load_fashion, "fashion-mnist": load_fashion,
           "mask": load_mask, "pain": load_pain, "face-verifier": load_face_verifier}
SIZED = {"pain"}  # loaders that resize to the bundle's input size


def load_dataset(name: str, source: str = "auto", path: str | Path | None = None, seed: int = 42,
                 size: tuple[int, int] | None = None) -> Dataset:
    if name in LOADERS:
        extra = {"size": size} if name in SIZED and size else {}
        return LOADERS[name](source=source, path=path, seed=seed, **extra)
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(LOADERS)} or give an image folder")


__all__ = ["Dataset", "cache_dir", "load_dataset", "load_image_folder", "stratified_sample", "stratified_split"]
