"""A camera mounted sideways or upside down: its frames turned upright before anything else sees them."""

from __future__ import annotations

import cv2
import numpy as np

from edge.sources.base import FrameSource

TURNS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


class RotatedSource:
    """Every frame of `inner` turned clockwise by `degrees` (90, 180 or 270). The detector, the tracker, the
    screen and the live page all see the upright frame; the source's health (status, reconnects) passes through."""

    def __init__(self, inner: FrameSource, degrees: int) -> None:
        if degrees not in TURNS:
            raise ValueError(f"rotate: {degrees}: choose 0, 90, 180 or 270")
        self.inner, self.degrees = inner, degrees
        self.name = f"{inner.name} rotated {degrees}"

    def open(self) -> None:
        self.inner.open()

    def read(self) -> np.ndarray | None:
        frame = self.inner.read()
        return None if frame is None else cv2.rotate(frame, TURNS[self.degrees])

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str):  # status, reconnects, finished ... of the camera underneath
        return getattr(self.inner, name)


def rotated(source: FrameSource, degrees: int) -> FrameSource:
    """`source` itself at 0 degrees, else turned."""
    return source if not degrees else RotatedSource(source, degrees)
