"""The live view's encoder: a process of its own (nice 19) that turns a frame and its result into a JPEG.

Why a process and not a thread: a thread would share the kiosk's GIL, its OpenCV thread pool and its
locks, and a low-priority thread that holds any of them when the scheduler parks it stalls the frame loop
(priority inversion). Here the kiosk only ships the frame over a pipe; the privacy step, the kiosk's own
overlays (edge.kiosk.display.draw) and the encode run at nice 19 with one OpenCV thread, so on a busy
device the stream slows down and the kiosk does not.

Faces: unless `stream_faces`, no face pixels leave the device. `dim` (the default) blurs and darkens the
whole frame before the overlays go on, so even a face the detector missed (someone half in the picture at
its edge) is unrecognisable and only boxes, verdicts and the banner stay sharp; `blur` pixelates just the
boxes the detector found, which shows more of the scene and misses what the detector misses.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import cv2
import numpy as np

from edge.kiosk.display import draw
from edge.mask_pipeline import FrameResult

PRIVACY = ("dim", "blur")


@dataclass(frozen=True)
class RenderSettings:
    quality: int = 75
    width: int = 640
    privacy: str = "dim"
    stream_faces: bool = False


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


def render(frame: np.ndarray | None, result: FrameResult | None, camera_status: str, fps: float | None,
           settings: RenderSettings) -> np.ndarray:
    """What a viewer sees: privacy first, then the kiosk's overlays; a grey card while the camera is down."""
    if frame is None or camera_status != "ok":
        return draw(None, None, camera_status if camera_status != "ok" else "starting")
    if not settings.stream_faces:
        frame = dim_frame(frame) if settings.privacy == "dim" else blur_faces(frame, result)
    image = draw(frame, result, "ok", fps)
    if image.shape[1] > settings.width:
        image = cv2.resize(image, (settings.width, round(image.shape[0] * settings.width / image.shape[1])),
                           interpolation=cv2.INTER_AREA)
    return image


def encode(image: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else b""


def serve(jobs, answers, settings: RenderSettings) -> None:
    """The worker's loop. Jobs: (shape, result, camera_status, fps) followed by the frame's bytes (shape None:
    no frame); each is answered with (milliseconds spent, JPEG bytes). None, or the kiosk gone, ends it."""
    try:
        os.nice(19)
    except OSError:
        pass
    cv2.setNumThreads(1)
    while True:
        try:
            job = jobs.recv()
            if job is None:
                return
            shape, result, camera_status, fps = job
            frame = np.frombuffer(jobs.recv_bytes(), np.uint8).reshape(shape) if shape is not None else None
        except (EOFError, OSError):
            return  # the kiosk went away
        t0 = time.perf_counter()
        jpeg = encode(render(frame, result, camera_status, fps, settings), settings.quality)
        answers.send(((time.perf_counter() - t0) * 1000, jpeg))


def main(argv: list[str]) -> None:
    """`python -m edge.outputs.live_worker JOBS_FD ANSWERS_FD SETTINGS_JSON`, started by LiveView: a plain
    child process, so nothing of the kiosk's own __main__ is imported again (spawn would)."""
    import json
    from multiprocessing.connection import Connection

    jobs, answers = Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False)
    serve(jobs, answers, RenderSettings(**json.loads(argv[2])))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
