"""The in-memory dataset every recipe trains on: uint8 NHWC images and integer labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.cache import cache_dir

__all__ = ["Dataset", "cache_dir", "stratified_sample", "stratified_split"]


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
    """About n indices with classes in proportion; used for the eval sample shipped in bundles."""
    if n >= len(y):
        return np.arange(len(y))
    _, idx = stratified_split(y, n / len(y), seed)
    return idx
