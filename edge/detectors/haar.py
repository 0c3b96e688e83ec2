"""OpenCV's Haar frontal-face cascade, the paper's detector, made affordable on a Pi.

A full 640x480 frame at scaleFactor 1.1 costs 100-200 ms on a small CPU; detecting on a frame
downscaled to `detect_width` with a sensible minimum face size costs a fraction and the boxes
are mapped back. scaleFactor 1.1 and minNeighbors 4 follow the paper (seed 004).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.errors import ModelLoadError
from edge.geometry import BBox

CASCADE = "haarcascade_frontalface_default.xml"


@dataclass(frozen=True)
class HaarConfig:
    scale_factor: float = 1.1
    min_neighbors: int = 4
    min_face_px: int = 60  # in the original frame: a person standing at the kiosk
    detect_width: int | None = 320  # downscale wider frames to this before detecting; None = full size
    cascade: str = CASCADE


class HaarDetector:
    name = "haar"

    def __init__(self, config: HaarConfig | None = None) -> None:
        self.config = config or HaarConfig()
        path = cv2.data.haarcascades + self.config.cascade
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise ModelLoadError(f"cannot load the Haar cascade {path} (OpenCV 5 wheels ship none; use opencv<5)")

    def detect(self, frame: np.ndarray) -> list[BBox]:
        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        h, w = gray.shape[:2]
        cfg = self.config
        factor = 1.0
        if cfg.detect_width and w > cfg.detect_width:
            factor = cfg.detect_width / w
            gray = cv2.resize(gray, (cfg.detect_width, max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
        min_side = max(12, round(cfg.min_face_px * factor))
        found = self._cascade.detectMultiScale(gray, scaleFactor=cfg.scale_factor, minNeighbors=cfg.min_neighbors,
                                               minSize=(min_side, min_side))
        boxes = [BBox(*map(int, b)).scale(1 / factor).clip(w, h) for b in found]
        return sorted(boxes, key=lambda b: b.area, reverse=True)
