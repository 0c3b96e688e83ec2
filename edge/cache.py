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
    """The real media fetched by `edge-train fetch media` (OpenCV's own sample data): a face clip, a face photo,
    and pedestrians at a distance (for the no-face set)."""
    root = cache_dir() / "opencv-samples"
    return {"video": root / "Megamind.avi", "photo": root / "messi5.jpg", "pedestrians": root / "vtest.avi"}
