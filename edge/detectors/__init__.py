"""Face detectors by name; one module each. A detector whose weights are not fetched fails with advice."""

from __future__ import annotations

from edge.detectors.base import FaceDetector
from edge.detectors.blazeface import BlazeFaceConfig, BlazeFaceDetector
from edge.detectors.haar import HaarConfig, HaarDetector
from edge.detectors.res10 import Res10Config, Res10Detector
from edge.errors import EdgeSightError

REGISTRY = {"haar": HaarDetector, "res10": Res10Detector, "blazeface": BlazeFaceDetector}


def open_detector(name: str = "haar", **options: object) -> FaceDetector:
    if name not in REGISTRY:
        raise EdgeSightError(f"unknown face detector {name!r}; choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name](**options)


__all__ = ["REGISTRY", "BlazeFaceConfig", "BlazeFaceDetector", "FaceDetector", "HaarConfig", "HaarDetector",
           "Res10Config", "Res10Detector", "open_detector"]
