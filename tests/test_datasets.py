"""Dataset loaders on the real registry copies and on files the tests write."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from train.datasets import load_dataset, load_image_folder
from train.datasets.idx import read_idx, write_idx


def test_mnist_offline_split_is_stratified_and_reproducible(mnist):
    assert mnist.x_train.shape == (8000, 28, 28, 1) and mnist.x_test.shape == (2000, 28, 28, 1)
    assert mnist.x_train.dtype == np.uint8 and mnist.x_train.max() == 255
    counts = np.bincount(mnist.y_test, minlength=10)
    assert counts.min() > 150 and counts.sum() == 2000
    assert "not the official test set" in mnist.split
    again = load_dataset("mnist")
    assert np.array_equal(again.y_test, mnist.y_test) and np.array_equal(again.x_test[:5], mnist.x_test[:5])


def test_fashion_is_the_official_split(fashion):
    assert fashion.x_train.shape == (60000, 28, 28, 1) and fashion.x_test.shape == (10000, 28, 28, 1)
    assert np.bincount(fashion.y_test).tolist() == [1000] * 10
    assert fashion.labels[9] == "Ankle boot"


def test_idx_round_trip_and_errors(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.idx.gz", arr)
    assert np.array_equal(read_idx(tmp_path / "a.idx.gz"), arr)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="bad magic"):
        read_idx(tmp_path / "bad")
    raw = (tmp_path / "short")
    raw.write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="expected 10 bytes"):
        read_idx(raw)


def test_idx_folder_and_npz_paths(tmp_path, mnist):
    for stem, arr in [("train-images-idx3-ubyte", mnist.x_train[:20, :, :, 0]), ("train-labels-idx1-ubyte",
                      mnist.y_train[:20]), ("t10k-images-idx3-ubyte", mnist.x_test[:10, :, :, 0]),
                      ("t10k-labels-idx1-ubyte", mnist.y_test[:10])]:
        write_idx(tmp_path / f"{stem}.gz", arr)
    data = load_dataset("mnist", path=tmp_path)
    assert data.x_train.shape == (20, 28, 28, 1) and np.array_equal(data.y_test, mnist.y_test[:10])
    np.savez(tmp_path / "d.npz", x=mnist.x_test[:100, :, :, 0], y=mnist.y_test[:100])
    data = load_dataset("mnist", path=tmp_path / "d.npz")
    assert len(data.y_train) + len(data.y_test) == 100


def test_image_folder_flat_and_train_test(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("", "Train/", "Test/"):
        for label in ("WithMask", "WithoutMask"):
            folder = tmp_path / "flat" / label if not split else tmp_path / "kaggle" / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(5):
                cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
    flat = load_image_folder(tmp_path / "flat", (32, 32), color="rgb", test_fraction=0.4)
    assert flat.labels == ["WithMask", "WithoutMask"] and flat.x_train.shape[1:] == (32, 32, 3)
    assert len(flat.y_test) == 4
    kaggle = load_image_folder(tmp_path / "kaggle", (16, 16), color="gray")
    assert kaggle.x_test.shape == (10, 16, 16, 1) and "Train/" in kaggle.split
