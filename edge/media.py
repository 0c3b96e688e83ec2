"""Frames from what a user points `--source` at: an image, a folder of images, or a video file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from edge.errors import SourceError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}
VIDEO_SUFFIXES = {".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg"}
MAX_PIXELS = 100_000_000  # a decode bomb guard: 100 MP is far past any camera a kiosk uses


def header_size(data: np.ndarray) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header without decoding, so a decode bomb is refused before it allocates."""
    b = data[:65536].tobytes()
    if b[:8] == b"\x89PNG\r\n\x1a\n" and len(b) >= 24 and b[12:16] == b"IHDR":
        return int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")
    if b[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(b):
            if b[i] != 0xFF:
                return None
            marker, length = b[i + 1], int.from_bytes(b[i + 2:i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
                return int.from_bytes(b[i + 7:i + 9], "big"), int.from_bytes(b[i + 5:i + 7], "big")
            i += 2 + length
    return None


def read_image(path: Path) -> np.ndarray:
    """Decode with OpenCV (BGR, or gray / BGRA kept as is); unreadable files are a SourceError."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror})") from None
    if data.size == 0:
        raise SourceError(f"{path}: empty file, not an image")
    size = header_size(data)
    if size and size[0] * size[1] > MAX_PIXELS:
        raise SourceError(f"{path}: {size[0]}x{size[1]} is larger than the {MAX_PIXELS} pixel limit")
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:  # OpenCV's own size guard and codec assertions
        raise SourceError(f"{path}: not a readable image ({str(exc).strip().splitlines()[-1][:120]})") from None
    if image is None or image.size == 0:
        raise SourceError(f"{path}: not a readable image (corrupt or unsupported format)")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise SourceError(f"{path}: {image.shape[1]}x{image.shape[0]} is larger than the {MAX_PIXELS} pixel limit")
    return image


def iter_frames(source: str | Path, errors: list[str] | None = None) -> Iterator[tuple[str, int, np.ndarray]]:
    """(source name, frame index, image). Bad files inside a folder are recorded, not fatal."""
    path = Path(source)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SourceError(f"{path}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
        for file in files:
            try:
                yield str(file), 0, read_image(file)
            except SourceError as exc:
                if errors is None:
                    raise
                errors.append(str(exc))
        return
    if path.suffix.lower() in VIDEO_SUFFIXES:
        from edge.sources.opencv import OpenCVSource  # edge.sources imports this module

        video = OpenCVSource(str(path))
        video.open()
        index = 0
        try:
            while (frame := video.read()) is not None:
                yield str(path), index, frame
                index += 1
        finally:
            video.close()
        if index == 0:
            raise SourceError(f"{path}: the video has no readable frames")
        return
    yield str(path), 0, read_image(path)
