"""The live view: the kiosk's picture as JPEGs, made in a thread of its own and only while somebody watches.

The frame loop only hands over references to its newest frame and result (`handle`, a lock and two
assignments), so a viewer can never slow it; everything costly (privacy, the kiosk's own overlays, the JPEG
encode) happens here, at most `fps` times a second and not at all without a viewer. OpenCV releases the GIL
while it blurs, draws and encodes, and on Linux this thread runs at nice 19: on a busy device the stream
gets only the CPU the frame loop leaves, so it slows down (the viewer sees fewer frames) and the kiosk does not.

Faces: unless `stream_faces` says otherwise, no face pixels leave the device. `dim` (the default) blurs and
darkens the whole frame before the overlays go on, so even a face the detector missed (someone half in the
picture at its edge) is unrecognisable and only boxes, verdicts and the banner stay sharp; `blur` pixelates
just the boxes the detector found, which shows more of the scene and misses what the detector misses.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import cv2
import numpy as np

from edge.kiosk.display import draw
from edge.mask_pipeline import FrameResult
from edge.outputs.base import KioskStats

PRIVACY = ("dim", "blur")
CARD_EVERY_S = 1.0  # while the camera is down, the "camera unavailable" card is refreshed this often
NICE = 19  # the live view's threads yield the CPU to the frame loop


def lower_priority(nice: int = NICE) -> None:
    """Make the calling thread nice (Linux schedules threads one by one; elsewhere this would renice the whole
    process, so it is left alone)."""
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        except OSError:
            pass  # not allowed here: the stream still works, only without the priority hint


def blur_faces(frame: np.ndarray, result: FrameResult | None, margin: float = 0.2, blocks: int = 6) -> np.ndarray:
    """A copy with each face box (grown by `margin`) pixelated to `blocks` cells across: no identity left."""
    out = frame.copy()
    h, w = out.shape[:2]
    for face in result.faces if result else []:
        b = face.box
        dx, dy = round(b.w * margin), round(b.h * margin)
        x0, y0, x1, y1 = max(b.x - dx, 0), max(b.y - dy, 0), min(b.x + b.w + dx, w), min(b.y + b.h + dy, h)
        if x1 <= x0 or y1 <= y0:
            continue
        roi = out[y0:y1, x0:x1]
        small = cv2.resize(roi, (blocks, max(1, round(blocks * roi.shape[0] / roi.shape[1]))),
                           interpolation=cv2.INTER_AREA)
        out[y0:y1, x0:x1] = cv2.resize(small, (roi.shape[1], roi.shape[0]), interpolation=cv2.INTER_NEAREST)
    return out


def dim_frame(frame: np.ndarray) -> np.ndarray:
    """The whole scene blurred past recognition and darkened, so the overlays carry the information."""
    small = cv2.resize(frame, (max(1, frame.shape[1] // 16), max(1, frame.shape[0] // 16)),
                       interpolation=cv2.INTER_AREA)
    small = cv2.convertScaleAbs(small, alpha=0.45)  # darkened at 1/256 of the pixels: the cheap place
    return cv2.resize(small, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)


class LiveView:
    name = "live"

    def __init__(self, stats: KioskStats, fps: float = 10.0, quality: int = 75, width: int = 640,
                 privacy: str = "dim", stream_faces: bool = False) -> None:
        if privacy not in PRIVACY:
            raise ValueError(f"live.privacy: {privacy!r} is not one of {', '.join(PRIVACY)}")
        self.stats, self.period, self.quality, self.width = stats, 1.0 / fps, quality, width
        self.privacy, self.stream_faces = privacy, stream_faces
        self._cond = threading.Condition()
        self._latest: tuple[np.ndarray, FrameResult] | None = None
        self._in_seq = 0  # frames offered
        self._jpeg: tuple[int, float, bytes] | None = None  # (sequence, time made, bytes)
        self._viewers = 0
        self._closed = False
        self.encoded = 0  # JPEGs made: stays 0 while nobody watches
        self.busy_s = 0.0  # time spent making them (privacy, overlays, encode): the live view's whole cost
        self._thread = threading.Thread(target=self._run, name="kiosk-live", daemon=True)
        self._thread.start()

    # --- the frame loop's side: O(1) -------------------------------------------------------------------
    def handle(self, result: FrameResult, frame: np.ndarray) -> None:
        with self._cond:
            self._latest, self._in_seq = (frame, result), self._in_seq + 1
            if self._viewers:
                self._cond.notify_all()

    # --- the viewers' side --------------------------------------------------------------------------------
    @property
    def viewers(self) -> int:
        return self._viewers

    @contextmanager
    def watch(self) -> Iterator[None]:
        with self._cond:
            self._viewers += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._viewers -= 1

    def next_jpeg(self, after: int, timeout: float = 5.0) -> tuple[int, bytes] | None:
        """The first JPEG newer than sequence `after` (call inside `watch()`); None on timeout or close."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._closed and (self._jpeg is None or self._jpeg[0] <= after):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return None if self._closed else (self._jpeg[0], self._jpeg[2])

    def stream(self, timeout: float = 5.0) -> Iterator[bytes]:
        """JPEGs as they are made, newest only (a slow viewer skips frames, it never queues them)."""
        seq = 0
        with self.watch():
            while True:
                got = self.next_jpeg(seq, timeout)
                if got is None:
                    return
                seq, jpeg = got
                yield jpeg

    def snapshot(self, timeout: float = 5.0) -> bytes | None:
        """A JPEG no older than one stream period (making one if needed)."""
        with self._cond:
            if self._jpeg is not None and time.monotonic() - self._jpeg[1] <= self.period:
                return self._jpeg[2]
            seq = self._jpeg[0] if self._jpeg else 0
        with self.watch():
            got = self.next_jpeg(seq, timeout)
        return got[1] if got else None

    # --- the encoder thread ----------------------------------------------------------------------------
    def render(self, frame: np.ndarray | None, result: FrameResult | None) -> np.ndarray:
        camera = self.stats.camera_status
        if frame is None or camera != "ok":
            return draw(None, None, camera if camera != "ok" else "starting")
        if not self.stream_faces:
            frame = dim_frame(frame) if self.privacy == "dim" else blur_faces(frame, result)
        image = draw(frame, result, "ok", self.stats.fps())
        if image.shape[1] > self.width:
            image = cv2.resize(image, (self.width, round(image.shape[0] * self.width / image.shape[1])),
                               interpolation=cv2.INTER_AREA)
        return image

    def _wanted(self, done_seq: int, card_at: float) -> bool:
        if self._closed:
            return True
        if not self._viewers:
            return False
        if self.stats.camera_status != "ok":
            return time.monotonic() - card_at >= CARD_EVERY_S
        return self._in_seq != done_seq

    def _run(self) -> None:
        lower_priority()
        done_seq, card_at, next_due = -1, 0.0, 0.0
        while True:
            with self._cond:
                self._cond.wait_for(lambda seen=done_seq, card=card_at: self._wanted(seen, card), timeout=CARD_EVERY_S)
                if self._closed:
                    return
                if not self._wanted(done_seq, card_at):
                    continue
            delay = next_due - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # the rate cap: at most `fps` encodes a second, whatever the viewers do
            with self._cond:
                latest, done_seq = self._latest, self._in_seq  # the newest, after the wait
            frame, result = latest if latest else (None, None)
            t0 = time.perf_counter()
            ok, buf = cv2.imencode(".jpg", self.render(frame, result), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            self.busy_s += time.perf_counter() - t0
            now = time.monotonic()
            next_due = now + self.period
            if self.stats.camera_status != "ok":
                card_at = now
            if ok:
                with self._cond:
                    self.encoded += 1
                    self._jpeg = ((self._jpeg[0] if self._jpeg else 0) + 1, now, buf.tobytes())
                    self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
