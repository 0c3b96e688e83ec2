"""What a conversion measures on: calibration images, a selection split, evaluation images (with labels or not).

Two sources and no dataset code of the training side:
  - the bundle itself: `calibration.sample_file` (training images, written at training time or by
    `edge-train calibration-sample`), optionally `calibration.selection_file` (validation images), and the
    evaluation sample; or
  - `--data PATH`: an image folder (`class/*.jpg`, with Train/ Validation/ Test/ if present, else a seeded
    stratified split the report states), a folder of unlabelled images (calibration only: parity is then
    agreement, SQNR and max abs diff against the float model, no accuracy is invented), or an `.npz`
    (x_train/y_train/x_test/y_test[/x_val/y_val], or x[/y] split like a folder).
Images come out at the bundle's input size and colour, uint8, for `edge.preprocess.prepare_dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.bundle import Bundle
from edge.datasets import image_files, load_image_folder, read_image, stratified_split
from edge.errors import EdgeSightError


@dataclass(frozen=True)
class ConvertData:
    x_calibration: np.ndarray  # uint8 NHWC, training images
    x_eval: np.ndarray  # uint8 NHWC, held out
    y_eval: np.ndarray | None  # None: unlabelled, agreement only
    x_selection: np.ndarray | None  # validation images for mixed precision, if any
    labels: list[str] | None
    source: str
    split: str


def _npz(path: Path, key: str) -> np.ndarray:
    with np.load(path) as data:
        return data[key]


def from_bundle(bundle: Bundle) -> ConvertData:
    m = bundle.manifest
    cal, ev = m.calibration, m.evaluation
    if m.pipeline_kind == "tensors" and ev is None:
        raise EdgeSightError(f"{bundle.name}: a tensors bundle ships no evaluation images; give --data (the image "
                             "folder or .npz to measure each output on)")
    if cal is None or ev is None or ev.sample_file is None:
        raise EdgeSightError(f"{bundle.name}: the bundle carries no calibration sample (manifest `calibration`); "
                             "give --data (an image folder or .npz), or write one with `edge-train "
                             "calibration-sample`")
    with np.load(bundle.root / ev.sample_file) as data:
        x_eval, y_eval = data["x"], data["y"]
    selection = _npz(bundle.root / cal.selection_file, "x") if cal.selection_file else None
    return ConvertData(_npz(bundle.root / cal.sample_file, "x"), x_eval, y_eval, selection, m.labels,
                       f"the bundle's samples ({cal.sample_file}, {ev.sample_file})",
                       f"calibration: {cal.split}; evaluation: {ev.split} ({len(y_eval)} of {ev.n_samples} "
                       "held-out images shipped in the bundle)")


def from_path(path: str | Path, size: tuple[int, int], color: str, labels: list[str] | None,
              seed: int = 42) -> ConvertData:
    path = Path(path)
    if path.suffix == ".npz":
        return _from_npz(path, seed)
    if not path.is_dir():
        raise EdgeSightError(f"--data {path}: not an image folder or .npz")
    files = image_files(path)
    if files:  # images directly in the folder: unlabelled, for calibration and agreement only
        x = np.stack([read_image(f, size, color) for f in files])
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(x))
        half = max(1, len(x) // 2)
        return ConvertData(x[order[:half]], x[order[half:]] if len(x) > 1 else x, None, None, labels, str(path),
                           f"{len(x)} unlabelled images split in half at random (seed {seed}): calibration / "
                           "agreement")
    data = load_image_folder(path, size, color, seed=seed)
    if labels is not None and list(data.labels) != list(labels):
        raise EdgeSightError(f"--data {path}: its classes {data.labels} are not the bundle's labels {labels}")
    return ConvertData(data.x_train, data.x_test, data.y_test, data.x_val, data.labels, str(path), data.split)


def _from_npz(path: Path, seed: int) -> ConvertData:
    with np.load(path) as d:
        keys = set(d.files)
        if {"x_train", "x_test"} <= keys:
            labels = [str(v) for v in d["labels"]] if "labels" in keys else None
            return ConvertData(d["x_train"], d["x_test"], d["y_test"] if "y_test" in keys else None,
                               d["x_val"] if "x_val" in keys else None, labels, str(path),
                               f"the npz's own splits ({len(d['x_test'])} test images)")
        if "x" not in keys:
            raise EdgeSightError(f"{path}: expected x_train/x_test or x (and y) arrays, found {sorted(keys)}")
        x = d["x"]
        y = d["y"] if "y" in keys else None
    if y is None:
        order = np.random.default_rng(seed).permutation(len(x))
        half = max(1, len(x) // 2)
        return ConvertData(x[order[:half]], x[order[half:]], None, None, None, str(path),
                           f"unlabelled, split in half at random (seed {seed})")
    tr, te = stratified_split(y, 0.2, seed)
    return ConvertData(x[tr], x[te], y[te], None, None, str(path), f"stratified 80/20 split, seed {seed}")


def conversion_data(bundle: Bundle, data_path: str | Path | None, seed: int = 42) -> ConvertData:
    """--data when given, else the bundle's own samples."""
    m = bundle.manifest
    if data_path is None:
        return from_bundle(bundle)
    return from_path(data_path, tuple(m.preprocess.resize), m.preprocess.color, m.labels or None, seed)
