"""Image data on disk as arrays: labelled image folders, npz files and reproducible splits.

numpy and OpenCV only, so training, the converter and the benchmarks read data the same way (and a device
can check a bundle on a folder of its own photos). Images come out uint8 NHWC at the size and in the colour
order the model takes; `edge.preprocess.prepare_dataset` turns them into the model's input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class Dataset:
    name: str
    labels: list[str]
    x_train: np.ndarray  # uint8, (N, H, W, C)
    y_train: np.ndarray  # int64, (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # where the pixels came from
    split: str  # how train/test were formed, said in every report
    x_val: np.ndarray | None = None  # a fixed validation split (e.g. Kaggle's Validation/ folder), if any
    y_val: np.ndarray | None = None

    def subset(self, n_train: int | None = None, n_test: int | None = None, seed: int = 0) -> Dataset:
        """A stratified-enough random subset, for tests and quick runs."""
        rng = np.random.default_rng(seed)
        tr = np.arange(len(self.y_train)) if n_train is None else rng.permutation(len(self.y_train))[:n_train]
        te = np.arange(len(self.y_test)) if n_test is None else rng.permutation(len(self.y_test))[:n_test]
        val = {}
        if self.y_val is not None:
            vi = np.arange(len(self.y_val)) if n_test is None else rng.permutation(len(self.y_val))[:n_test]
            val = {"x_val": self.x_val[vi], "y_val": self.y_val[vi]}
        return Dataset(
            self.name, self.labels, self.x_train[tr], self.y_train[tr], self.x_test[te], self.y_test[te],
            self.source, f"{self.split}; subset {len(tr)}/{len(te)} seed {seed}", **val,
        )


def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) with each class split in the same proportion, reproducible by seed."""
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        n_test = int(round(len(idx) * test_fraction))
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))


def stratified_sample(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """About n indices with classes in proportion; used for the samples shipped in bundles."""
    if n >= len(y):
        return np.arange(len(y))
    _, idx = stratified_split(y, n / len(y), seed)
    return idx


def read_image(path: Path, size: tuple[int, int], color: str, sizes: dict | None = None) -> np.ndarray:
    """One image file at (height, width) in `color` (gray | rgb | bgr), uint8 (H, W, C); `sizes` counts the
    original sizes seen, so a caller can say when images of mixed sizes were resized."""
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if color == "gray" else cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: unreadable image")
    if sizes is not None:
        sizes[img.shape[:2]] = sizes.get(img.shape[:2], 0) + 1
    if img.shape[:2] != tuple(size):
        img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    if color == "rgb":
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return img.reshape(size[0], size[1], -1)


def image_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)


def split_dir(root: Path, *names: str) -> Path | None:
    for child in root.iterdir():
        if child.is_dir() and child.name.lower() in names:
            return child
    return None


def read_classes(root: Path, labels: list[str] | None, size: tuple[int, int], color: str,
                 sizes: dict | None = None):
    """(labels, x, y) from `label/*.png` folders (labels: sorted folder names unless given)."""
    labels = labels or sorted(p.name for p in root.iterdir() if p.is_dir())
    if len(labels) < 2:
        raise ValueError(f"{root}: need at least two class folders, found {labels}")
    xs, ys = [], []
    for idx, label in enumerate(labels):
        folder = root / label
        if not folder.is_dir():
            raise ValueError(f"{root}: no folder for class {label!r}")
        for file in image_files(folder):
            xs.append(read_image(file, size, color, sizes))
            ys.append(idx)
    if not xs:
        raise ValueError(f"{root}: no images found under {labels}")
    return labels, np.stack(xs).astype(np.uint8), np.asarray(ys, dtype=np.int64)


def load_image_folder(root: str | Path, size: tuple[int, int], color: str = "rgb", test_fraction: float = 0.2,
                      seed: int = 42, name: str | None = None) -> Dataset:
    """Like keras' image_dataset_from_directory, into memory; Train/ (Validation/) Test/ subfolders are respected,
    else a seeded stratified split that the dataset's `split` states."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    train_dir, test_dir = split_dir(root, "train"), split_dir(root, "test")
    sizes: dict = {}
    xval = yval = None
    if train_dir and test_dir:
        labels, xtr, ytr = read_classes(train_dir, None, size, color, sizes)
        _, xte, yte = read_classes(test_dir, labels, size, color, sizes)
        split = f"folders {train_dir.name}/ and {test_dir.name}/"
        val_dir = split_dir(root, "validation", "val", "valid")
        if val_dir:
            _, xval, yval = read_classes(val_dir, labels, size, color, sizes)
            split = f"folders {train_dir.name}/, {val_dir.name}/ and {test_dir.name}/"
    else:
        labels, x, y = read_classes(root, None, size, color, sizes)
        tr, te = stratified_split(y, test_fraction, seed)
        xtr, ytr, xte, yte = x[tr], y[tr], x[te], y[te]
        split = f"stratified {1 - test_fraction:.0%}/{test_fraction:.0%} split, seed {seed}"
    resized = sum(n for hw, n in sizes.items() if hw != tuple(size))
    if len(sizes) > 1 or resized:
        split += f"; {resized} of {sum(sizes.values())} images ({len(sizes)} sizes) resized to {size[1]}x{size[0]}"
    return Dataset(name or root.name, labels, xtr, ytr, xte, yte, str(root), split, xval, yval)
