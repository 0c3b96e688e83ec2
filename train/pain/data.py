"""Pain data: `pain/` and `no_pain/` image folders, optionally a CSV of subject ids; random or subject-wise splits.

A random 50:50 split (the paper's) puts frames of one person in both halves and inflates accuracy;
the subject-wise split keeps every person on one side. Every report says which was used.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.bundle import Preprocess
from edge.preprocess import preset_preprocess
from train.datasets.folders import IMAGE_SUFFIXES

LABELS = ("no_pain", "pain")  # y = 1 means pain


@dataclass(frozen=True)
class PainSet:
    files: list[Path]
    y: np.ndarray  # 0 no_pain, 1 pain
    subjects: list[str]
    root: Path


def load_pain_folder(root: str | Path, subjects_csv: str | Path | None = None) -> PainSet:
    """Subjects: the CSV (`file,subject`), else the file-name prefix before the first `_`."""
    root = Path(root)
    files, ys = [], []
    for label, y in (("no_pain", 0), ("pain", 1)):
        folder = root / label
        if not folder.is_dir():
            raise FileNotFoundError(f"{root}: needs pain/ and no_pain/ folders (missing {label}/)")
        found = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        files += found
        ys += [y] * len(found)
    if not files or len(set(ys)) < 2:
        raise ValueError(f"{root}: both pain/ and no_pain/ need images")
    csv_path = Path(subjects_csv) if subjects_csv else root / "subjects.csv"
    mapping = {}
    if csv_path.is_file():
        with open(csv_path, newline="") as f:
            mapping = {row["file"]: row["subject"] for row in csv.DictReader(f)}
    subjects = [mapping.get(p.name, mapping.get(f"{p.parent.name}/{p.name}", p.stem.split("_")[0])) for p in files]
    return PainSet(files, np.asarray(ys, np.int64), subjects, root)


def split(data: PainSet, how: str = "subject", test_fraction: float = 0.5, seed: int = 42):
    """(train idx, test idx, description). `random`: stratified 50:50; `subject`: no person on both sides."""
    rng = np.random.default_rng(seed)
    if how == "random":
        test = []
        for cls in (0, 1):
            idx = rng.permutation(np.flatnonzero(data.y == cls))
            test += list(idx[:round(len(idx) * test_fraction)])
        test = np.sort(np.asarray(test))
        train = np.setdiff1d(np.arange(len(data.y)), test)
        return train, test, f"random stratified {1 - test_fraction:.0%}/{test_fraction:.0%}, seed {seed}"
    if how != "subject":
        raise ValueError(f"split {how!r}: choose random or subject")
    people = sorted(set(data.subjects))
    if len(people) < 2:
        raise ValueError("a subject-wise split needs at least two subjects")
    order = rng.permutation(len(people))
    n_test = max(1, round(len(people) * test_fraction))
    test_people = {people[i] for i in order[:n_test]}
    is_test = np.array([s in test_people for s in data.subjects])
    desc = f"subject-wise {len(people) - n_test}/{n_test} people, seed {seed} (no person on both sides)"
    return np.flatnonzero(~is_test), np.flatnonzero(is_test), desc


def load_pain_dataset(source: str = "auto", path: str | Path | None = None, seed: int = 42,
                      size: tuple[int, int] = (224, 224), how: str = "subject"):
    """The folder as an in-memory Dataset (uint8 RGB), split like the recipe: what edge-convert calibrates on."""
    import cv2

    from train.datasets.base import Dataset

    if path is None:
        raise ValueError("pain: give the image folder with --data (pain/ and no_pain/)")
    data = load_pain_folder(path)
    train, test, desc = split(data, how, 0.5, seed)

    def read(idx):
        return np.stack([cv2.cvtColor(cv2.resize(cv2.imread(str(data.files[i])), (size[1], size[0]),
                                                 interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB) for i in idx])

    return Dataset("pain", list(LABELS), read(train), data.y[train], read(test), data.y[test], str(path), desc)


def pain_preprocess(size: int) -> Preprocess:
    """RGB pixels as they are: each backbone's own ImageNet normalisation is a layer inside the model."""
    return preset_preprocess("raw", [size, size])
