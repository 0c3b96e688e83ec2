"""Face detectors by name; one module each. A detector whose weights are not fetched fails with advice.

`open_detector("blazeface+haar")` chains detectors: the next one runs only where the previous found nobody.
"""

from __future__ import annotations

from dataclasses import replace

from edge.detectors.base import FaceDetector, ScoredDetectorConfig
from edge.detectors.blazeface import BlazeFaceConfig, BlazeFaceDetector
from edge.detectors.cascade import FallbackDetector
from edge.detectors.haar import HaarConfig, HaarDetector
from edge.detectors.res10 import Res10Config, Res10Detector
from edge.errors import EdgeSightError

REGISTRY = {"haar": HaarDetector, "res10": Res10Detector, "blazeface": BlazeFaceDetector}
CONFIGS = {"haar": HaarConfig, "res10": Res10Config, "blazeface": BlazeFaceConfig}


def _open_one(name: str, min_face_px: int | None, threshold: float | None, tile_px: int | None,
              config: object | None) -> FaceDetector:
    if name not in REGISTRY:
        raise EdgeSightError(f"unknown face detector {name!r}; choose one of {', '.join(REGISTRY)} "
                             "or chain them with + (e.g. blazeface+haar)")
    cfg = config if config is not None else CONFIGS[name]()
    if min_face_px is not None:
        cfg = replace(cfg, min_face_px=min_face_px)
    if threshold is not None and isinstance(cfg, ScoredDetectorConfig):
        cfg = replace(cfg, threshold=threshold)
    if tile_px is not None and isinstance(cfg, BlazeFaceConfig):
        cfg = replace(cfg, tile_px=tile_px or None)
    return REGISTRY[name](cfg)


def open_detector(name: str = "haar", min_face_px: int | None = None, threshold: float | None = None,
                  tile_px: int | None = None, config: object | None = None) -> FaceDetector:
    """`tile_px` applies to BlazeFace (0 turns tiling off); options a detector lacks are ignored."""
    parts = [p.strip() for p in name.split("+") if p.strip()]
    if len(parts) == 1:
        return _open_one(parts[0], min_face_px, threshold, tile_px, config)
    return FallbackDetector([_open_one(p, min_face_px, threshold, tile_px, None) for p in parts])


__all__ = ["CONFIGS", "REGISTRY", "BlazeFaceConfig", "BlazeFaceDetector", "FaceDetector", "FallbackDetector",
           "HaarConfig", "HaarDetector", "Res10Config", "Res10Detector", "open_detector"]
