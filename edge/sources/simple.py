"""Sources that need no device: a folder of images, and the do-nothing null camera for headless runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.errors import SourceError
from edge.media import IMAGE_SUFFIXES, read_image
from edge.sources.base import Pacer, to_bgr


class ImagesSource:
    """Each image of a folder once, in name order; unreadable files are skipped and counted."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.name = f"images:{self.folder}"
        self.skipped = 0
        self._files: list[Path] = []

    def open(self) -> None:
        if not self.folder.is_dir():
            raise SourceError(f"{self.folder}: not a folder")
        self._files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise SourceError(f"{self.folder}: no images in this folder")

    def read(self) -> np.ndarray | None:
        while self._files:
            try:
                return to_bgr(read_image(self._files.pop(0)))
            except SourceError:
                self.skipped += 1
        return None

    def close(self) -> None:
        self._files = []


class NullSource:
    """Black frames at a fixed rate, forever: CI and headless runs take the kiosk's own code path."""

    name = "null"

    def __init__(self, width: int = 640, height: int = 480, fps: float | None = None) -> None:
        self._frame = np.zeros((height, width, 3), np.uint8)
        self._pacer = Pacer(1.0 / fps if fps else 0.0)

    def open(self) -> None:
        self._pacer.start()

    def read(self) -> np.ndarray | None:
        self._pacer.wait()
        return self._frame.copy()

    def close(self) -> None:
        pass
