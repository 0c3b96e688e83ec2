"""The second look: every box a detector proposes is looked at again before anyone sees it.

A detector tuned to find masked faces at 40 px also proposes boxes on hands, curtains and textures.
Rather than raise its threshold (and lose the masked faces), each proposal must pass
  1. (with `confirm`) a second, differently trained detector at close range: full-range BlazeFace on crops
     of the box grown by each of `confirm_margins` (0.5: the face fills half its input; 0.75), each also
     mirrored (`confirm_mirror`); its score for a face at the crop's centre, averaged over those views, must
     reach `confirm_threshold`. One view is noisy (a closed eye, a mask's edge); a phantom rarely fools four;
  2. the face judge: a tiny int8 face / not-face CNN bundle (`face-verifier`, trained by `edge-train
     verifier` on detector candidates of LFW people with and without painted masks, some made to look
     drawn, against real no-face images) on the crop the classifier would see (margin `VERIFIER_MARGIN`);
     optionally (`mesh_threshold`) MediaPipe FaceMesh's face-presence score on a crop with margin 0.25 passes
     a box the verifier doubts.
Decisions are remembered per box for a few frames (`remember`), so a person standing at the door costs the
second look once.
"""

from __future__ import annotations

import numpy as np

from edge.crops import face_crop
from edge.detectors.base import Detection, FaceDetector, SecondLookSettings
from edge.geometry import BBox

VERIFIER_LABELS = ("face", "not_face")
VERIFIER_SIZE = 48  # grey pixels per side
VERIFIER_MARGIN = 0.2  # the crop grows the box by this per side: the head's outline is part of the evidence
CONFIRM_CENTRE = 0.35  # the confirming detector's face must be centred within this fraction of the crop's half side
MESH_MARGIN, MESH_SIZE = 0.25, 192  # FaceMesh's own crop: the face plus a quarter of it on each side
SAME_BOX_IOU = 0.5  # a remembered decision holds for a box overlapping its box this much


class SecondLook:
    """Scores detections with the verifier bundle (and the confirming detector); keeps those that pass."""

    def __init__(self, settings: SecondLookSettings | None = None) -> None:
        from edge.classifier import Classifier

        self.settings = settings or SecondLookSettings()
        self.classifier = Classifier(self.settings.bundle, fmt=self.settings.format, threads=self.settings.threads)
        labels = self.classifier.labels
        if "face" not in labels:
            self.classifier.close()
            raise ValueError(f"{self.settings.bundle}: a second-look bundle needs a 'face' label (it has {labels})")
        self._face = labels.index("face")
        self.confirmer = None
        if self.settings.confirm:
            from edge.detectors.blazeface import BlazeFaceDetector, BlazeFaceSettings

            self.confirmer = BlazeFaceDetector(BlazeFaceSettings(model=self.settings.confirm, threshold=0.05,
                                                                 face_shape=False, min_face_px=8))
        self.mesh = None
        if self.settings.mesh_threshold is not None:
            from edge.backends import open_backend
            from edge.detectors.catalog import verified_path

            self.mesh = open_backend("tflite", verified_path("face-landmark"), 1)
            self._flag_at = next(i for i, t in enumerate(self.mesh.outputs) if t.shape[-1] == 1)
            self._mesh_input = np.zeros((1, MESH_SIZE, MESH_SIZE, 3), np.float32)

    def face_probability(self, frame: np.ndarray, detections: list[Detection]) -> np.ndarray:
        crops = [face_crop(frame, d.box, VERIFIER_MARGIN) for d in detections]
        return self.classifier.probabilities(self.classifier.prepare(crops))[:, self._face]

    def confirmation(self, frame: np.ndarray, box: BBox) -> float:
        """The confirming detector's score for a face at the centre of close crops of `box`, averaged over the
        views (each margin, and each mirrored where `confirm_mirror`); a view with no centred face adds 0."""
        views = []
        for margin in self.settings.confirm_margins:
            crop = face_crop(frame, box, margin)
            views += [crop, np.ascontiguousarray(crop[:, ::-1])] if self.settings.confirm_mirror else [crop]
        return float(np.mean([self._centred_score(view) for view in views]))

    def _centred_score(self, crop: np.ndarray) -> float:
        c = crop.shape[0] / 2
        near = [d.score for d in self.confirmer.detect(crop)
                if abs(d.box.x + d.box.w / 2 - c) < c * CONFIRM_CENTRE and abs(d.box.y + d.box.h / 2 - c) <
                c * CONFIRM_CENTRE]
        return max(near, default=0.0)

    def mesh_presence(self, frame: np.ndarray, box: BBox) -> float:
        """FaceMesh's face-presence probability for the face in `box` (its own 192 px crop, RGB in [0, 1])."""
        import cv2

        crop = cv2.resize(face_crop(frame, box, MESH_MARGIN), (MESH_SIZE, MESH_SIZE), interpolation=cv2.INTER_AREA)
        np.divide(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB), np.float32(255), out=self._mesh_input[0])
        logit = float(self.mesh.run({self.mesh.inputs[0].name: self._mesh_input})[self._flag_at].ravel()[0])
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))

    def passes(self, frame: np.ndarray, detections: list[Detection]) -> list[tuple[bool, float]]:
        """(kept, verifier probability) per detection."""
        if not detections:
            return []
        s = self.settings
        out = []
        for det, p in zip(detections, self.face_probability(frame, detections)):
            judged = p >= s.threshold
            if not judged and self.mesh is None:  # the verifier said no and nothing can overrule it: no views
                out.append((False, float(p)))
                continue
            ok = self.confirmer is None or self.confirmation(frame, det.box) >= s.confirm_threshold
            if ok and not judged:
                ok = self.mesh_presence(frame, det.box) >= s.mesh_threshold
            out.append((bool(ok), float(p)))
        return out

    def close(self) -> None:
        self.classifier.close()
        if self.confirmer is not None:
            self.confirmer.close()
        if self.mesh is not None:
            self.mesh.close()


class VerifiedDetector:
    """A detector whose proposals pass the second look before anyone sees them; decisions are remembered for
    `remember` calls per box (IoU >= 0.5), and `reset()` forgets them (a new video or photo)."""

    def __init__(self, detector: FaceDetector, second_look: SecondLook) -> None:
        self.detector, self.second_look = detector, second_look
        self.name = f"{detector.name}+second-look"
        self._memory: list[tuple[BBox, bool, float, int]] = []  # box, kept, probability, call index
        self._calls = 0
        self.looks = 0  # proposals the second look actually examined (not remembered)

    def reset(self) -> None:
        self._memory.clear()

    def _remembered(self, box: BBox) -> tuple[bool, float] | None:
        """The decision about this box (the same box, moved a little since), following it to where it is now."""
        for i, (old, kept, prob, when) in enumerate(self._memory):
            if old.iou(box) >= SAME_BOX_IOU:
                self._memory[i] = (box, kept, prob, when)
                return kept, prob
        return None

    def detect(self, frame: np.ndarray) -> list[Detection]:
        self._calls += 1
        found = self.detector.detect(frame)
        ttl = self.second_look.settings.remember
        self._memory = [m for m in self._memory if self._calls - m[3] < ttl]
        known = [self._remembered(d.box) if ttl else None for d in found]
        fresh = [d for d, k in zip(found, known) if k is None]
        looked = iter(self.second_look.passes(frame, fresh))
        self.looks += len(fresh)
        kept = []
        for det, memory in zip(found, known):
            decision = memory if memory is not None else next(looked)
            if memory is None:
                self._memory.append((det.box, decision[0], decision[1], self._calls))
            if decision[0]:
                kept.append(Detection(det.box, det.score, det.keypoints, decision[1]))
        return kept

    def close(self) -> None:
        self.detector.close()
        self.second_look.close()
