"""The Pi CSI camera through picamera2 (Raspberry Pi OS's python3-picamera2; needs a venv made with
--system-site-packages). Imported only when chosen, so every other machine runs without it.

picamera2 delivers XRGB8888 as 4-channel BGRX and the order of RGB888 has differed between OS releases
(picamera2 #843, #191, #1325): frames are normalised here to BGR, with `swap_rb` for images that arrive
as RGB.
"""

from __future__ import annotations

import importlib

import numpy as np

from edge.errors import BackendUnavailable, SourceError
from edge.sources.base import to_bgr


class Picamera2Source:
    name = "picamera2"

    def __init__(self, width: int = 640, height: int = 480, pixel_format: str = "XRGB8888", swap_rb: bool = False,
                 camera: int = 0) -> None:
        self.width, self.height, self.pixel_format, self.swap_rb, self.camera = width, height, pixel_format, swap_rb, \
            camera
        self._cam = None

    def open(self) -> None:
        try:
            module = importlib.import_module("picamera2")
        except ImportError:
            raise BackendUnavailable("picamera2 is not importable: on Raspberry Pi OS install python3-picamera2 and "
                                     "create the venv with --system-site-packages") from None
        try:
            cam = module.Picamera2(self.camera)
            cam.configure(cam.create_video_configuration(
                main={"size": (self.width, self.height), "format": self.pixel_format}))
            cam.start()
        except Exception as exc:  # noqa: BLE001 - libcamera raises many kinds when the camera is absent or busy
            raise SourceError(f"picamera2: cannot start camera {self.camera}: {exc}") from None
        self._cam = cam

    def read(self) -> np.ndarray | None:
        if self._cam is None:
            raise SourceError("picamera2: read before open")
        try:
            frame = self._cam.capture_array("main")
        except Exception:  # noqa: BLE001 - a dropped frame or a camera that went away: the caller reconnects
            return None
        frame = to_bgr(frame)
        return np.ascontiguousarray(frame[:, :, ::-1]) if self.swap_rb else frame

    def close(self) -> None:
        if self._cam is not None:
            try:
                self._cam.stop()
                self._cam.close()
            finally:
                self._cam = None
