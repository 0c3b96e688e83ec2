"""The FaceDetector protocol: a frame in, face boxes in frame coordinates out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from edge.geometry import BBox


@runtime_checkable
class FaceDetector(Protocol):
    name: str

    def detect(self, frame: np.ndarray) -> list[BBox]:
        """Boxes in the coordinates of `frame` (BGR or gray), largest first."""
        ...
