"""edge-bench pipeline: the whole loop a kiosk runs, timed per stage, and its cost per number of faces.

capture -> detect (Haar on a downscaled frame) -> crop + preprocess -> classify (the faces of a frame
as one batch) -> draw. FPS is frames over wall time, headless. The cost table runs the detector once
and the classifier on 0, 1 and N face crops, so a kiosk owner can size the device for a queue.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from edge.cache import sample_media
from edge.classifier import Classifier
from edge.detectors import FaceDetector
from edge.errors import SourceError
from edge.geometry import BBox
from edge.sources import open_source

STAGES = ("capture", "detect", "preprocess", "classify", "draw")
FACE_TASKS = ("mask", "pain")


def resolve_source(source: str) -> str:
    """`sample`: the kiosk clip shipped in edge/samples (640x480, one face); `megamind`: OpenCV's face clip."""
    if source == "sample":
        from edge.kiosk.app import SAMPLE_CLIP

        if SAMPLE_CLIP.is_file():
            return str(SAMPLE_CLIP)
        source = "megamind"
    if source == "megamind":
        video = sample_media()["video"]
        if not video.is_file():
            raise SourceError("the sample clip is not fetched yet: run `edge-train fetch media`")
        return str(video)
    return source


def _frames(source: str, max_frames: int) -> Iterator[tuple[np.ndarray, float]]:
    """(frame, capture ms) from the same FrameSource the kiosk uses; stops at the first missing frame."""
    src = open_source(source, reconnect=False)
    try:
        for _ in range(max_frames):
            t0 = time.perf_counter()
            frame = src.read()
            if frame is None:
                return
            yield frame, (time.perf_counter() - t0) * 1000
    finally:
        src.close()


def crops(frame: np.ndarray, boxes: list[BBox]) -> list[np.ndarray]:
    return [frame[b.y:b.y + b.h, b.x:b.x + b.w] for b in boxes if b.w > 0 and b.h > 0]


def draw(frame: np.ndarray, boxes: list[BBox], labels: list[str]) -> None:
    for box, label in zip(boxes, labels):
        cv2.rectangle(frame, (box.x, box.y), (box.x + box.w, box.y + box.h), (0, 200, 0), 2)
        cv2.putText(frame, label, (box.x, max(12, box.y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 200, 0), 1)


def _stats(values: list[float]) -> dict:
    a = np.asarray(values) if values else np.zeros(1)
    return {"mean_ms": float(a.mean()), "p50_ms": float(np.percentile(a, 50)), "p90_ms": float(np.percentile(a, 90)),
            "max_ms": float(a.max())}


def run_pipeline(source: str, clf: Classifier, detector: FaceDetector, max_frames: int = 300) -> dict:
    times: dict[str, list[float]] = {s: [] for s in STAGES}
    faces_per_frame: list[int] = []
    frame_shape = None
    started = time.perf_counter()
    for frame, capture_ms in _frames(resolve_source(source), max_frames):
        frame_shape = frame.shape
        times["capture"].append(capture_ms)
        t0 = time.perf_counter()
        boxes = detector.detect(frame)
        t1 = time.perf_counter()
        x = clf.prepare(crops(frame, boxes)) if boxes else None
        t2 = time.perf_counter()
        labels = [p.label for p in clf.decode(clf.probabilities(x))] if x is not None else []
        t3 = time.perf_counter()
        draw(frame, boxes, labels)
        t4 = time.perf_counter()
        for stage, dt in zip(STAGES[1:], (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[stage].append(dt * 1000)
        faces_per_frame.append(len(boxes))
    wall = time.perf_counter() - started
    if not faces_per_frame:
        raise SourceError(f"{source}: no frames")
    per_face = [c / n for c, n in zip(times["classify"], faces_per_frame) if n]
    return {
        "source": str(source), "frames": len(faces_per_frame), "frame_shape": list(frame_shape),
        "fps": len(faces_per_frame) / wall, "wall_s": wall, "stages": {s: _stats(v) for s, v in times.items()},
        "classify_per_face_ms": _stats(per_face) if per_face else None,
        "faces_per_frame": {str(k): int(v) for k, v in zip(*np.unique(faces_per_frame, return_counts=True))},
    }


def cost_per_faces(face: np.ndarray, clf: Classifier, detect_p50_ms: float,
                   counts: tuple[int, ...] = (0, 1, 4, 8), runs: int = 30) -> list[dict]:
    """The detector runs once per frame (its p50 over the pipeline run); the classifier on n face crops."""
    rows = []
    for n in counts:
        per_run = []
        for _ in range(runs):
            t0 = time.perf_counter()
            if n:
                clf.decode(clf.probabilities(clf.prepare([face] * n)))
            per_run.append((time.perf_counter() - t0) * 1000)
        cls = float(np.median(per_run))
        rows.append({"faces": n, "detect_p50_ms": detect_p50_ms, "classify_p50_ms": cls,
                     "total_p50_ms": detect_p50_ms + cls, "max_fps": 1000.0 / (detect_p50_ms + cls)})
    return rows


def first_face(source: str, detector: FaceDetector, scan: int = 100) -> np.ndarray:
    """The first detected face crop of the source (or the centre of its first frame when none is found)."""
    first = None
    for frame, _ in _frames(resolve_source(source), scan):
        first = frame if first is None else first
        boxes = detector.detect(frame)
        if boxes:
            return crops(frame, boxes[:1])[0]
    if first is None:
        raise SourceError(f"{source}: no frames")
    h, w = first.shape[:2]
    return first[h // 4: 3 * h // 4, w // 4: 3 * w // 4]


def default_bundle() -> str:
    from edge.bundle import builtin_names

    names = builtin_names()
    for name in ("mask", "fashion", "digits"):
        if name in names:
            return name
    raise SourceError("no built-in bundle installed")


def describe_classifier(clf: Classifier) -> str:
    task = clf.bundle.manifest.task
    note = "" if task in FACE_TASKS else " (timing only: not a face model; the mask bundle replaces it)"
    return f"{clf.bundle.name} {clf.format}{note}"


def to_markdown(r: dict) -> str:
    lines = [f"# Pipeline: {r['source']}", "",
             f"- {r['frames']} frames of {r['frame_shape'][1]}x{r['frame_shape'][0]}, headless: **{r['fps']:.1f} FPS**",
             f"- detector: {r['detector']}; classifier: {r['classifier']}",
             f"- faces per frame: {r['faces_per_frame']}", "",
             "| stage | mean ms | p50 ms | p90 ms | max ms |", "|---|---:|---:|---:|---:|"]
    for stage, s in r["stages"].items():
        lines.append(f"| {stage} | {s['mean_ms']:.3f} | {s['p50_ms']:.3f} | {s['p90_ms']:.3f} | {s['max_ms']:.3f} |")
    if r.get("classify_per_face_ms"):
        lines += ["", f"Classification per face: p50 {r['classify_per_face_ms']['p50_ms']:.3f} ms."]
    lines += ["", "Cost per number of faces (detector once per frame at its p50 above; classifier on n crops):", "",
              "| faces | detect p50 ms | classify p50 ms | total ms | max FPS |", "|---:|---:|---:|---:|---:|"]
    for c in r.get("cost_per_faces", []):
        lines.append(f"| {c['faces']} | {c['detect_p50_ms']:.3f} | {c['classify_p50_ms']:.3f} | "
                     f"{c['total_p50_ms']:.3f} | {c['max_fps']:.0f} |")
    return "\n".join(lines) + "\n"


__all__ = ["Path", "cost_per_faces", "default_bundle", "describe_classifier", "first_face", "run_pipeline",
           "to_markdown"]
