"""OpenCV capture: a USB camera index, a video file, or an RTSP/HTTP stream URL."""

from __future__ import annotations

import cv2
import numpy as np

from edge.errors import SourceError
from edge.sources.base import Pacer, to_bgr


class OpenCVSource:
    def __init__(self, target: int | str, width: int | None = None, height: int | None = None) -> None:
        self.target, self.width, self.height = target, width, height
        self.name = f"opencv:{target}"
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        cap = cv2.VideoCapture(self.target)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{self.name}: cannot open (unplugged, wrong index or URL, or unsupported file)")
        if self.width and self.height:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        self._cap = cap

    def read(self) -> np.ndarray | None:
        if self._cap is None:
            raise SourceError(f"{self.name}: read before open")
        ok, frame = self._cap.read()
        return to_bgr(frame) if ok and frame is not None else None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class LoopSource(OpenCVSource):
    """A video file played forever: the demo and soak source.

    With `realtime`, frames come at the file's own frame rate, like a camera: the kiosk's
    newest-frame capture then drops frames exactly as it would on a live feed.
    """

    def __init__(self, path: str, realtime: bool = False) -> None:
        super().__init__(path)
        self.name = f"loop:{path}"
        self.loops = 0
        self.realtime = realtime
        self._pacer = Pacer()

    def open(self) -> None:
        super().open()
        fps = self._cap.get(cv2.CAP_PROP_FPS) if self._cap is not None else 0
        self._pacer.period = 1.0 / fps if self.realtime and 1 <= fps <= 240 else 0.0
        self._pacer.start()

    def read(self) -> np.ndarray | None:
        self._pacer.wait()
        frame = super().read()
        if frame is None and self._cap is not None:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self.loops += 1
            frame = super().read()
        return frame
