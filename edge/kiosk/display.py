"""What the kiosk screen shows, and where: an OpenCV window, or nothing (headless and CI take the same path)."""

from __future__ import annotations

import logging
from typing import Protocol

import cv2
import numpy as np

from edge.mask_pipeline import MASK_LABEL, NO_MASK_LABEL, FrameResult

log = logging.getLogger(__name__)
GREEN, RED, GREY, WHITE = (60, 180, 75), (40, 40, 220), (150, 150, 150), (255, 255, 255)


def banner_text(result: FrameResult | None, camera_status: str) -> tuple[str, tuple[int, int, int]]:
    if camera_status != "ok":
        return "Camera unavailable - reconnecting", GREY
    faces = [f for f in (result.faces if result else []) if f.smoothed_label is not None]
    if result is not None and result.alerts:
        a = result.alerts[0]
        return f"ALERT: {a['label']} for {a['duration_s']:.0f} s (face #{a['track_id']})", RED
    if faces and not any(f.smoothed_label in (MASK_LABEL, NO_MASK_LABEL) for f in faces):
        return "Monitoring " + ", ".join(f"#{f.track_id} {f.smoothed_label}" for f in faces[:3]), GREY
    if not faces:
        return "Step closer to the camera", GREY
    if any(f.smoothed_label != MASK_LABEL for f in faces):
        return "Please wear a mask", RED
    return "Thank you", GREEN


def draw(frame: np.ndarray | None, result: FrameResult | None, camera_status: str = "ok",
         fps: float | None = None, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """Boxes, labels with confidence, and a banner; a grey card when there is no frame."""
    canvas = frame.copy() if frame is not None else np.full((size[1], size[0], 3), 40, np.uint8)
    h, w = canvas.shape[:2]
    scale = max(w / 640, 0.5)
    for face in result.faces if result and frame is not None else []:
        label = face.smoothed_label or face.label
        colour = {MASK_LABEL: GREEN, NO_MASK_LABEL: RED}.get(label, WHITE) if face.smoothed_label else GREY
        b = face.box
        cv2.rectangle(canvas, (b.x, b.y), (b.x + b.w, b.y + b.h), colour, max(2, round(2 * scale)))
        name = {MASK_LABEL: "mask", NO_MASK_LABEL: "no mask"}.get(label, label)
        text = f"#{face.track_id} {name} " \
               f"{(face.smoothed_score if face.smoothed_label else face.score):.0%}"
        cv2.putText(canvas, text, (b.x, max(b.y - 8, 16)), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, colour,
                    max(1, round(2 * scale)), cv2.LINE_AA)
    text, colour = banner_text(result, camera_status)
    bar = max(40, round(h * 0.12))
    cv2.rectangle(canvas, (0, h - bar), (w, h), colour, -1)
    cv2.putText(canvas, text, (16, h - bar // 3), cv2.FONT_HERSHEY_SIMPLEX, 0.9 * scale, WHITE,
                max(2, round(2 * scale)), cv2.LINE_AA)
    if fps is not None:
        cv2.putText(canvas, f"{fps:.1f} FPS", (w - round(130 * scale), round(28 * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.6 * scale, WHITE, max(1, round(scale)), cv2.LINE_AA)
    return canvas


class Preview(Protocol):
    def show(self, image: np.ndarray) -> bool:
        """Display; False when the user asked to quit (q or Esc)."""
        ...

    def close(self) -> None: ...


class NullPreview:
    """Headless: the frame is still drawn (same code path), then dropped."""

    def __init__(self) -> None:
        self.shown = 0

    def show(self, image: np.ndarray) -> bool:
        self.shown += 1
        return True

    def close(self) -> None:
        pass


class WindowPreview:
    def __init__(self, title: str = "EdgeSight kiosk", fullscreen: bool = True) -> None:
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        if fullscreen:
            cv2.setWindowProperty(title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)

    def show(self, image: np.ndarray) -> bool:
        cv2.imshow(self.title, image)
        return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)

    def close(self) -> None:
        cv2.destroyWindow(self.title)


def open_preview(mode: str, fullscreen: bool, has_display: bool) -> Preview:
    if mode == "headless" or (mode == "auto" and not has_display):
        return NullPreview()
    try:
        return WindowPreview(fullscreen=fullscreen)
    except cv2.error as exc:  # headless OpenCV wheels have no GUI backend
        if mode == "window":
            log.warning("no window backend in this OpenCV build (%s); running headless",
                        str(exc).strip().splitlines()[-1])
        return NullPreview()
