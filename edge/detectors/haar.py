"""OpenCV's Haar frontal-face cascade, the seed paper's detector, made affordable on a Pi.

A full 640x480 frame at scaleFactor 1.1 costs 100-200 ms on a small CPU; detecting on a frame
downscaled to `detect_width` with a sensible minimum face size costs a fraction and the boxes
are mapped back. scaleFactor 1.1 and minNeighbors 4 follow the paper (seed 004). The cascade file is
checked against the detector catalog like every other detector file.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from edge.detectors.base import Detection, DetectorSettings, largest_first
from edge.detectors.catalog import verified_path
from edge.errors import ModelLoadError
from edge.geometry import BBox


class HaarSettings(DetectorSettings):
    type: Literal["haar"] = "haar"
    min_face_px: int = Field(60, ge=8, le=4096, description="smallest face side in frame pixels")
    scale_factor: float = Field(1.1, gt=1.0, le=2.0)
    min_neighbors: int = Field(4, ge=0, le=50)
    detect_width: int | None = Field(320, ge=64, description="downscale wider frames to this before detecting; "
                                     "null: full size")
    cascade: Literal["haar-frontalface"] = "haar-frontalface"


class HaarDetector:
    name = "haar"

    def __init__(self, settings: HaarSettings | None = None) -> None:
        self.settings = settings or HaarSettings()
        path = verified_path(self.settings.cascade)
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ModelLoadError(f"cannot load the Haar cascade {path} (OpenCV 5 wheels ship none; use opencv<5)")

    def detect(self, frame: np.ndarray) -> list[Detection]:
        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        h, w = gray.shape[:2]
        cfg = self.settings
        factor = 1.0
        if cfg.detect_width and w > cfg.detect_width:
            factor = cfg.detect_width / w
            gray = cv2.resize(gray, (cfg.detect_width, max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
        min_side = max(12, round(cfg.min_face_px * factor))
        found = self._cascade.detectMultiScale(gray, scaleFactor=cfg.scale_factor, minNeighbors=cfg.min_neighbors,
                                               minSize=(min_side, min_side))
        return largest_first([Detection(BBox(*map(int, b)).scale(1 / factor).clip(w, h)) for b in found])

    def close(self) -> None:
        self._cascade = None
