"""Any image folder as a dataset: `class_name/*.png|jpg`, optionally under Train/, Validation/ and Test/."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from train.datasets.base import Dataset, stratified_split

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


def _split_dir(root: Path, *names: str) -> Path | None:
    for child in root.iterdir():
        if child.is_dir() and child.name.lower() in names:
            return child
    return None


def _read_classes(root: Path, labels: list[str] | None, size: tuple[int, int], color: str):
    labels = labels or sorted(p.name for p in root.iterdir() if p.is_dir())
    if len(labels) < 2:
        raise ValueError(f"{root}: need at least two class folders, found {labels}")
    xs, ys = [], []
    for idx, label in enumerate(labels):
        for file in sorted((root / label).glob("*")):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            img = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE if color == "gray" else cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"{file}: unreadable image")
            img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA)
            if color == "rgb":
                img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            xs.append(img.reshape(size[0], size[1], -1))
            ys.append(idx)
    if not xs:
        raise ValueError(f"{root}: no images found under {labels}")
    return labels, np.stack(xs).astype(np.uint8), np.asarray(ys, dtype=np.int64)


def load_image_folder(root: str | Path, size: tuple[int, int], color: str = "rgb",
                      test_fraction: float = 0.2, seed: int = 42, name: str | None = None) -> Dataset:
    """Like keras' image_dataset_from_directory, into memory; Train/Test subfolders are respected."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    train_dir, test_dir = _split_dir(root, "train"), _split_dir(root, "test")
    if train_dir and test_dir:
        labels, xtr, ytr = _read_classes(train_dir, None, size, color)
        _, xte, yte = _read_classes(test_dir, labels, size, color)
        split = f"folders {train_dir.name}/ and {test_dir.name}/"
        val_dir = _split_dir(root, "validation", "val", "valid")
        if val_dir:
            _, xval, yval = _read_classes(val_dir, labels, size, color)
            split = f"folders {train_dir.name}/, {val_dir.name}/ and {test_dir.name}/"
            return Dataset(name or root.name, labels, xtr, ytr, xte, yte, str(root), split, xval, yval)
    else:
        labels, x, y = _read_classes(root, None, size, color)
        tr, te = stratified_split(y, test_fraction, seed)
        xtr, ytr, xte, yte = x[tr], y[tr], x[te], y[te]
        split = f"stratified {1 - test_fraction:.0%}/{test_fraction:.0%} split, seed {seed}"
    return Dataset(name or root.name, labels, xtr, ytr, xte, yte, str(root), split)
