"""Face detectors by name; one module each (res10 SSD and BlazeFace arrive with the kiosk)."""

from __future__ import annotations

from edge.detectors.base import FaceDetector
from edge.detectors.haar import HaarConfig, HaarDetector
from edge.errors import EdgeSightError

REGISTRY = {"haar": HaarDetector}


def open_detector(name: str = "haar", **options: object) -> FaceDetector:
    if name not in REGISTRY:
        raise EdgeSightError(f"unknown face detector {name!r}; choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name](**options)


__all__ = ["REGISTRY", "FaceDetector", "HaarConfig", "HaarDetector", "open_detector"]
