"""Frame in, face verdicts out: detect (every k frames), track, crop, classify the faces as one batch, smooth.

`edge-run mask|pain`, the kiosk and `edge-bench` all drive this one class, so the numbers the benchmark
reports are the numbers of the code the kiosk runs. FacePipeline takes any face bundle; MaskPipeline
insists on the mask labels the kiosk's outputs act on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.classifier import Classifier
from edge.detectors.base import FaceDetector
from edge.geometry import BBox
from edge.tracker import IoUTracker, TrackerConfig

MASK_LABEL, NO_MASK_LABEL = "WithMask", "WithoutMask"


@dataclass(frozen=True)
class FaceVerdict:
    box: BBox
    label: str  # this frame's verdict
    score: float
    track_id: int
    smoothed_label: str | None  # None until the track has settled
    smoothed_score: float
    first_settled: bool  # True on the one frame a person is counted

    @property
    def masked(self) -> bool | None:
        """None until settled, and for bundles that are not about masks (pain), so mask outputs stay idle."""
        if self.smoothed_label not in (MASK_LABEL, NO_MASK_LABEL):
            return None
        return self.smoothed_label == MASK_LABEL


@dataclass(frozen=True)
class FrameResult:
    index: int
    faces: list[FaceVerdict]
    detected: bool  # whether the detector ran on this frame (vs. tracked boxes)
    timings_ms: dict[str, float] = field(default_factory=dict)
    alerts: list[dict] = field(default_factory=list)  # sustained-score events (edge.monitor), when monitoring


def face_crop(frame: np.ndarray, box: BBox, margin: float = 0.15) -> np.ndarray:
    """A square around the box, grown by `margin` per side; edges padded so border faces keep their shape."""
    side = max(box.w, box.h) * (1 + 2 * margin)
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    s = max(round(side), 1)
    h, w = frame.shape[:2]
    pad = max(0, -x0, -y0, x0 + s - w, y0 + s - h)
    if pad:
        frame = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    return frame[y0:y0 + s, x0:x0 + s]


class FacePipeline:
    required_labels: frozenset[str] = frozenset()

    def __init__(self, classifier: Classifier, detector: FaceDetector, detect_every: int = 1,
                 margin: float = 0.15, tracker: TrackerConfig | None = None) -> None:
        if detect_every < 1:
            raise ValueError("detect_every must be >= 1")
        missing = self.required_labels - set(classifier.labels)
        if missing:
            raise ValueError(f"{classifier.bundle.manifest.name}: not a mask bundle (labels {classifier.labels}, "
                             f"missing {sorted(missing)})")
        self.classifier, self.detector = classifier, detector
        self.detect_every, self.margin = detect_every, margin
        self.tracker = IoUTracker(tracker)
        self._index = -1

    def process(self, frame: np.ndarray) -> FrameResult:
        self._index += 1
        t0 = time.perf_counter()
        detected = self._index % self.detect_every == 0
        if detected:
            boxes = self.detector.detect(frame)
            owners = self.tracker.update(boxes)
        else:  # between detections, the tracks keep their last boxes
            owners = self.tracker.visible
            boxes = [t.box for t in owners]
        t1 = time.perf_counter()
        crops = [face_crop(frame, b, self.margin) for b in boxes]
        probs = self.classifier.probabilities(self.classifier.prepare(crops)) if crops else np.zeros((0, 2))
        t2 = time.perf_counter()
        faces = []
        for box, track, p in zip(boxes, owners, probs):
            self.tracker.vote(track, p)
            idx = int(p.argmax())
            settled = self.tracker.settled(track)
            smooth = track.smoothed()
            s_idx = int(smooth.argmax())
            first = settled and not track.counted
            if first:
                track.counted = True
            faces.append(FaceVerdict(box, self.classifier.labels[idx], float(p[idx]), track.id,
                                     self.classifier.labels[s_idx] if settled else None, float(smooth[s_idx]), first))
        t3 = time.perf_counter()
        timings = {"detect_ms": (t1 - t0) * 1e3, "classify_ms": (t2 - t1) * 1e3, "total_ms": (t3 - t0) * 1e3}
        return FrameResult(self._index, faces, detected, timings)


class MaskPipeline(FacePipeline):
    required_labels = frozenset({MASK_LABEL, NO_MASK_LABEL})
