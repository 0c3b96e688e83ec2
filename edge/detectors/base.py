"""The FaceDetector protocol: a frame in, face boxes in frame coordinates out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from edge.geometry import BBox


@runtime_checkable
class FaceDetector(Protocol):
    name: str

    def detect(self, frame: np.ndarray) -> list[BBox]:
        """Boxes in the coordinates of `frame` (BGR or gray), largest first."""
        ...


@dataclass(frozen=True)
class ScoredDetectorConfig:
    """For the detectors that score boxes (res10 SSD, BlazeFace)."""

    threshold: float = 0.5
    min_face_px: int = 40
    nms_iou: float = 0.3
