"""Frame in, face verdicts out: detect (when the schedule says), track, crop, classify the faces as one batch, smooth.

`edge-run mask|pain`, the kiosk and `edge-bench` all drive this one class, so the numbers the benchmark
reports are the numbers of the code the kiosk runs. FacePipeline takes any face bundle; MaskPipeline
insists on the mask labels the kiosk's outputs act on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from pydantic import Field

from edge.classifier import Classifier
from edge.crops import face_crop
from edge.detectors.base import FaceDetector, reset_detector
from edge.geometry import BBox
from edge.strict import FrozenModel
from edge.tracker import IoUTracker, TrackerConfig, at_edge

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


class DetectSchedule(FrozenModel):
    """When the detector runs. Between detections the tracks keep their boxes and are classified there.

    `adaptive`: once every visible track has settled and stood still (its centre moved less than `still`
    box sides between its last two detections), the detector may rest, but never more than `max_skip`
    frames in a row, so a person who walks in is found at most `max_skip` frames later; with no track,
    or any track new or moving, it runs on every frame.
    """

    every: int = Field(1, ge=1, le=30, description="run the detector on every k-th frame at most")
    adaptive: bool = Field(True, description="rest while every face is settled and still (see max_skip)")
    max_skip: int = Field(2, ge=0, le=30, description="adaptive: frames in a row the detector may rest")
    still: float = Field(0.05, ge=0, le=1, description="adaptive: a track moving less than this (box sides "
                         "between detections) is still")


class FacePipeline:
    required_labels: frozenset[str] = frozenset()

    def __init__(self, classifier: Classifier, detector: FaceDetector, schedule: DetectSchedule | None = None,
                 margin: float = 0.15, tracker: TrackerConfig | None = None) -> None:
        missing = self.required_labels - set(classifier.labels)
        if missing:
            raise ValueError(f"{classifier.bundle.manifest.name}: not a mask bundle (labels {classifier.labels}, "
                             f"missing {sorted(missing)})")
        self.classifier, self.detector = classifier, detector
        self.schedule, self.margin = schedule or DetectSchedule(), margin
        self.tracker = IoUTracker(tracker)
        self._index = -1
        self._rested = 0  # frames in a row without a detection
        self.detections = 0  # frames the detector ran on

    def reset(self) -> None:
        """Forget every track (a new video or photo): the next frame is detected."""
        self.tracker = IoUTracker(self.tracker.config)
        self._index, self._rested = -1, 0
        reset_detector(self.detector)

    def _should_detect(self) -> bool:
        s = self.schedule
        if self._index % s.every:
            return False
        if not s.adaptive or self._rested >= s.max_skip:
            return True
        tracks = self.tracker.visible
        return not tracks or any(not self.tracker.settled(t) or t.moved > s.still for t in tracks)

    def _locate(self, frame: np.ndarray) -> tuple[list[BBox], list, bool]:
        """(boxes, their tracks, whether the detector ran)."""
        if self._should_detect():
            self._rested = 0
            self.detections += 1
            boxes = [d.box for d in self.detector.detect(frame)]
            return boxes, self.tracker.update(boxes, (frame.shape[1], frame.shape[0])), True
        self._rested += 1
        owners = self.tracker.visible  # between detections, the tracks keep their last boxes
        return [t.box for t in owners], owners, False

    def process(self, frame: np.ndarray) -> FrameResult:
        self._index += 1
        t0 = time.perf_counter()
        boxes, owners, detected = self._locate(frame)
        t1 = time.perf_counter()
        x = self.classifier.prepare([face_crop(frame, b, self.margin) for b in boxes]) if boxes else None
        t2 = time.perf_counter()
        probs = self.classifier.probabilities(x) if x is not None else np.zeros((0, len(self.classifier.labels)))
        t3 = time.perf_counter()
        size = (frame.shape[1], frame.shape[0])
        faces = [self._verdict(box, track, p, at_edge(box, *size)) for box, track, p in zip(boxes, owners, probs)]
        t4 = time.perf_counter()
        timings = {"detect_ms": (t1 - t0) * 1e3, "preprocess_ms": (t2 - t1) * 1e3, "classify_ms": (t3 - t2) * 1e3,
                   "track_ms": (t4 - t3) * 1e3, "total_ms": (t4 - t0) * 1e3}
        return FrameResult(self._index, faces, detected, timings)

    def _verdict(self, box: BBox, track, p: np.ndarray, cut_off: bool = False) -> FaceVerdict:
        """The face's own label and its track's smoothed one. A face cut off by the frame's edge (someone walking
        in) does not vote: half a face hides its mask, and a person is counted once, when fully in view."""
        if not cut_off:
            self.tracker.vote(track, p)
        idx = int(p.argmax())
        settled = self.tracker.settled(track)
        smooth = track.smoothed() if track.history else p
        s_idx = int(smooth.argmax())
        first = settled and not track.counted
        if first:
            track.counted = True
        labels = self.classifier.labels
        return FaceVerdict(box, labels[idx], float(p[idx]), track.id, labels[s_idx] if settled else None,
                           float(smooth[s_idx]), first)


class MaskPipeline(FacePipeline):
    required_labels = frozenset({MASK_LABEL, NO_MASK_LABEL})
