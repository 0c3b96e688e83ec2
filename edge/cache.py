"""Where fetched data, media and third-party weights live: never the repo, never a package folder."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$EDGESIGHT_CACHE or ~/.cache/edgesight, created on first use."""
    root = Path(os.environ.get("EDGESIGHT_CACHE") or Path.home() / ".cache" / "edgesight")
    root.mkdir(parents=True, exist_ok=True)
    return root


def sample_media() -> dict[str, Path]:
    """The real face media fetched by `edge-train fetch media` (OpenCV's own sample data)."""
    root = cache_dir() / "opencv-samples"
    return {"video": root / "Megamind.avi", "photo": root / "messi5.jpg"}


def detector_files() -> dict[str, Path]:
    """Third-party face detector weights fetched by `edge-train fetch detectors` (never committed)."""
    root = cache_dir() / "detectors"
    return {"res10_model": root / "res10_300x300_ssd_iter_140000.caffemodel",
            "res10_prototxt": root / "deploy.prototxt",
            "blazeface": root / "face_detection_short_range.tflite"}
