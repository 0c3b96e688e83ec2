"""Haar face detection on real faces, and edge-bench's pipeline mode on OpenCV's real face clip.

The media come from Debian's opencv-doc (`edge-train fetch media`, run by `make data`).
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edge.cache import sample_media
from edge.detectors import HaarDetector, HaarSettings, open_detector
from tests.conftest import clip_frames, run_cli


@pytest.fixture(scope="module")
def media():
    from train.datasets.fetch import fetch_media

    return fetch_media()


def test_haar_finds_messis_face_and_maps_boxes_back(media):
    img = cv2.imread(str(media["photo"]))
    full = HaarDetector(HaarSettings(min_face_px=30, detect_width=None)).detect(img)
    assert len(full) == 1
    face = full[0].box
    assert 200 < face.x < 260 and 70 < face.y < 120 and 30 <= face.w <= 50
    # detecting on an upscaled copy, downscaled internally, maps the box back to the copy's coordinates
    big = cv2.resize(img, None, fx=2, fy=2)
    boxes = HaarDetector(HaarSettings(min_face_px=60, detect_width=548)).detect(big)
    assert len(boxes) == 1 and face.scale(2).iou(boxes[0].box) > 0.6


def test_haar_respects_the_minimum_face_size(media):
    img = cv2.imread(str(media["photo"]))
    assert HaarDetector(HaarSettings(min_face_px=60, detect_width=None)).detect(img) == []
    assert open_detector("haar").detect(np.zeros((480, 640, 3), np.uint8)) == []


def test_unknown_detector_is_a_clear_error():
    from edge.errors import EdgeSightError

    with pytest.raises(EdgeSightError, match="unknown face detector 'yunet'"):
        open_detector("yunet")


def test_pipeline_mode_on_the_real_face_clip(media, tmp_path):
    proc = run_cli("edge-bench", "pipeline", "--source", "megamind", "--detector", "haar", "--max-frames", "60",
                   "--faces", "0", "1", "3", "--runs", "5", "--no-adaptive", "--out", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["frames"] == 60 and r["fps"] > 0 and r["frame_shape"] == [528, 720, 3]
    assert set(r["stages"]) == {"capture", "detect", "preprocess", "classify", "track", "draw"}
    assert r["detector"] == "haar" and r["detector_runs"] == 60 and "schedule_comparison" not in r
    assert sum(r["faces_per_frame"].values()) == 60
    faces_found = sum(int(k) * v for k, v in r["faces_per_frame"].items())
    assert faces_found >= 50  # the clip shows a face in nearly every frame
    assert r["classifier"] == "mask tflite-int8"  # the kiosk's bundle and file
    cost = {c["faces"]: c for c in r["cost_per_faces"]}
    assert set(cost) == {0, 1, 3} and cost[0]["classify_p50_ms"] < cost[3]["classify_p50_ms"]
    assert len({c["detect_p50_ms"] for c in cost.values()}) == 1  # the detector runs once per frame
    assert "| detect |" in (tmp_path / "pipeline.md").read_text()
    for stage in r["stages"].values():  # every stage's p50 says how sure it is (frames in time order)
        lo, hi = stage["p50_ci_ms"]
        assert lo <= stage["p50_ms"] <= hi


def test_pipeline_mode_runs_the_kiosks_config_and_says_what_the_schedule_saves(tmp_path):
    cfg = tmp_path / "kiosk.yaml"
    cfg.write_text("threads: 1\nschedule: {max_skip: 3}\ndetector: {threshold: 0.4}\n")
    proc = run_cli("edge-bench", "pipeline", "--source", "sample", "--config", str(cfg), "--max-frames", "120",
                   "--faces", "1", "--runs", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["schedule"]["max_skip"] == 3 and "threshold=0.4" in r["detector"] and "input_width=320" in r["detector"]
    adaptive, every = r["schedule_comparison"]["adaptive"], r["schedule_comparison"]["every frame"]
    assert every["detector_runs"] == 120 and adaptive["detector_runs"] == r["detector_runs"] < 120
    assert r["detector_ms"]["n"] == r["detector_runs"]
    assert r["machine_speed"]["before_ms"] > 0 and r["machine_speed"]["after_ms"] > 0  # to compare runs by


def test_pipeline_source_errors_are_one_line():
    proc = run_cli("edge-bench", "pipeline", "--source", "/nope/clip.avi")
    assert proc.returncode == 1 and proc.stderr.count("edge-bench: error:") == 1 and "Traceback" not in proc.stderr


def test_sample_media_paths_live_in_the_cache(media):
    assert media == sample_media() and all(p.stat().st_size > 50_000 for p in media.values())


@pytest.fixture(scope="module")
def detector_weights():
    from train.datasets.fetch import fetch_detectors

    return fetch_detectors()


@pytest.mark.parametrize("spec", ["haar", "res10", "blazeface", "default"])
def test_every_detector_finds_the_faces_of_the_real_clip(media, detector_weights, spec):
    detector = open_detector(spec)
    frames = clip_frames(media["video"], 40)
    found = [detector.detect(f) for f in frames]
    assert sum(bool(b) for b in found) >= 36, spec
    h, w = frames[0].shape[:2]
    for faces in found:
        for d in faces:
            b = d.box
            assert 0 <= b.x and 0 <= b.y and b.x + b.w <= w and b.y + b.h <= h and b.w >= 40


def test_detectors_agree_on_where_the_face_is(media, detector_weights):
    frames = clip_frames(media["video"], 30)
    dets = {name: open_detector(name) for name in ("haar", "res10", "blazeface", "default")}
    agree = 0
    for frame in frames:
        boxes = {name: [f.box for f in d.detect(frame)] for name, d in dets.items()}
        if all(boxes.values()):
            centres = [(b[0].x + b[0].w / 2, b[0].y + b[0].h / 2) for b in boxes.values()]
            spread = max(np.hypot(cx - centres[0][0], cy - centres[0][1]) for cx, cy in centres)
            agree += spread < 0.5 * boxes["haar"][0].w
    assert agree >= 25


def test_res10_finds_messi_like_haar(media, detector_weights):
    from edge.detectors import Res10Detector, Res10Settings

    img = cv2.imread(str(media["photo"]))
    found = Res10Detector(Res10Settings(min_face_px=20)).detect(img)
    haar = HaarDetector(HaarSettings(min_face_px=30, detect_width=None)).detect(img)
    assert len(found) == 1 and found[0].box.iou(haar[0].box) > 0.5 and 0.5 < found[0].score <= 1


def test_nms_keeps_the_best_of_overlapping_boxes():
    from edge.detectors.postprocess import nms

    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    assert nms(boxes, np.array([0.6, 0.9, 0.7]), 0.3) == [1, 2]
