"""The FrameSource protocol: open once, read the next BGR frame (None when none is ready), close."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class FrameSource(Protocol):
    """Frames are BGR uint8 (H, W, 3): every source normalises to this one documented order."""

    name: str

    def open(self) -> None: ...

    def read(self) -> np.ndarray | None:
        """The next frame; None at the end of a finite source or on a dropped read (the caller decides)."""
        ...

    def close(self) -> None: ...


def to_bgr(frame: np.ndarray) -> np.ndarray:
    """Gray, BGRX/BGRA (e.g. picamera2's XRGB8888) -> BGR; BGR passes through untouched."""
    if frame.ndim == 2:
        return np.repeat(frame[:, :, None], 3, axis=2)
    if frame.shape[2] == 4:
        return np.ascontiguousarray(frame[:, :, :3])
    return frame


class Pacer:
    """Hands out frames at a fixed rate, like a camera; a late consumer catches up by at most one period."""

    def __init__(self, period: float = 0.0) -> None:
        self.period = period
        self._next = 0.0

    def start(self) -> None:
        self._next = time.monotonic()

    def wait(self) -> None:
        if not self.period:
            return
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next = max(self._next + self.period, time.monotonic() - self.period)
