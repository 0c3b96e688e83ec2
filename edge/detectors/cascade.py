"""Detectors combined behind the same interface: `blazeface+haar` runs BlazeFace and asks Haar only
when BlazeFace finds nobody, so the cost is one fast detector on most frames.

Why: each detector misses different faces (Haar misses masked ones, BlazeFace's short-range model
misses small ones); a fallback chain recovers some of each without paying for both every frame.
"""

from __future__ import annotations

import numpy as np

from edge.detectors.base import Detection, FaceDetector, reset_detector


class FallbackDetector:
    def __init__(self, detectors: list[FaceDetector]) -> None:
        if len(detectors) < 2:
            raise ValueError("a fallback chain needs at least two detectors")
        self.detectors = detectors
        self.name = "+".join(d.name for d in detectors)

    def detect(self, frame: np.ndarray) -> list[Detection]:
        for detector in self.detectors:
            found = detector.detect(frame)
            if found:
                return found
        return []

    def reset(self) -> None:
        for detector in self.detectors:
            reset_detector(detector)

    def close(self) -> None:
        for detector in self.detectors:
            detector.close()
