"""Frames to results: whole-image classification, or per-digit for bundles that ask for it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from edge.classifier import Classifier
from edge.digits_photo import find_digits
from edge.geometry import BBox


@dataclass(frozen=True)
class Result:
    source: str
    frame: int
    box: BBox | None
    label: str
    score: float
    latency_ms: float

    def to_dict(self) -> dict:
        return {"source": self.source, "frame": self.frame, "box": self.box.as_list() if self.box else None,
                "label": self.label, "score": round(self.score, 6), "latency_ms": round(self.latency_ms, 3)}


def recognize(clf: Classifier, source: str, frame: int, image: np.ndarray,
              whole_image: bool = False) -> Iterator[Result]:
    """Yields nothing when a digit bundle finds no digit in the frame."""
    if clf.bundle.manifest.pipeline_kind == "digits" and not whole_image:
        started = time.perf_counter()
        found = find_digits(image)
        find_ms = (time.perf_counter() - started) * 1000 / max(len(found), 1)
        for box, crop in found:
            t0 = time.perf_counter()
            pred = clf.classify([crop])[0]
            yield Result(source, frame, box, pred.label, pred.score, find_ms + (time.perf_counter() - t0) * 1000)
        return
    t0 = time.perf_counter()
    pred = clf.classify([image])[0]
    yield Result(source, frame, None, pred.label, pred.score, (time.perf_counter() - t0) * 1000)


def face_verdicts(pipeline) -> Callable[[str, int, np.ndarray], list[Result]]:
    """Per-frame face verdicts from a FacePipeline (edge.face_pipeline.build_face_pipeline); the frames of one
    video share its tracker, a new source starts it afresh.

    `last_faces` on the returned function holds the latest FaceVerdicts (track ids, smoothed scores).
    """
    state: dict = {}

    def run(source: str, frame: int, image: np.ndarray) -> list[Result]:
        if state.get("source") != source:
            state["source"] = source
            pipeline.reset()
        out = pipeline.process(image)
        run.last_faces = out.faces
        ms = out.timings_ms["total_ms"]
        return [Result(source, frame, f.box, f.label, f.score, ms) for f in out.faces]

    run.last_faces = []
    return run
