"""The kiosk demo clip: real people (some with painted masks) walk up to the camera and leave.

Built from the same real faces as the mask set (test-split people first), so the demo shows the
kiosk on faces the built-in model never trained on. Written with OpenCV's mp4v codec, which every
OpenCV build (and a Pi) can decode.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from train.synth.faces import FacePhoto
from train.synth.masks import paint_mask, random_style

SIZE = (640, 480)
FPS = 15


def cutout(image: np.ndarray, photo: FacePhoto, face_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Head and shoulders scaled so the face is `face_px` wide, with a soft alpha (h, w, 1)."""
    b = photo.face.box
    k = face_px / b.w
    x0, y0 = b.x - 0.9 * b.w, b.y - 0.6 * b.h
    w, h = 2.8 * b.w, 3.0 * b.h
    m = np.array([[k, 0, -x0 * k], [0, k, -y0 * k]], np.float32)
    size = (round(w * k), round(h * k))
    person = cv2.warpAffine(image, m, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    alpha = np.zeros(size[::-1], np.float32)
    cx, head_cy = size[0] / 2, (0.6 * b.h + b.h / 2) * k
    cv2.ellipse(alpha, (round(cx), round(head_cy)), (round(0.62 * b.w * k), round(0.8 * b.h * k)), 0, 0, 360, 1, -1)
    cv2.rectangle(alpha, (0, round(head_cy + 0.75 * b.h * k)), (size[0], size[1]), 1, -1)
    cv2.ellipse(alpha, (round(cx), size[1]), (size[0] // 2, round(1.2 * b.h * k)), 0, 180, 360, 1, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, face_px / 25))[..., None]
    return person, alpha


def backdrop(rng: np.random.Generator) -> np.ndarray:
    w, h = SIZE
    wall = np.linspace(175, 140, h)[:, None, None] * np.array([0.95, 1.0, 1.05])
    img = np.broadcast_to(wall, (h, w, 3)).copy()
    cv2.rectangle(img, (200, 40), (440, h), (95, 110, 130), -1)  # a door
    cv2.rectangle(img, (200, 40), (440, h), (60, 70, 85), 6)
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def paste(frame: np.ndarray, person: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    h, w = person.shape[:2]
    fh, fw = frame.shape[:2]
    sx0, sy0, sx1, sy1 = max(x, 0), max(y, 0), min(x + w, fw), min(y + h, fh)
    if sx1 <= sx0 or sy1 <= sy0:
        return
    crop = (slice(sy0 - y, sy1 - y), slice(sx0 - x, sx1 - x))
    region = frame[sy0:sy1, sx0:sx1].astype(np.float32)
    a = alpha[crop]
    frame[sy0:sy1, sx0:sx1] = (region * (1 - a) + person[crop].astype(np.float32) * a).astype(np.uint8)


def write_clip(visits: Sequence[tuple[FacePhoto, bool]], out: Path, seed: int = 42,
               seconds_per_visit: float = 3.6) -> dict:
    """Each visit: walk in from one side, stop and come closer, walk out; masked visits get a painted mask."""
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write mp4v video to {out}")
    wall = backdrop(rng)
    n = round(seconds_per_visit * FPS)
    script = []
    for i, (photo, masked) in enumerate(visits):
        image = paint_mask(photo.image, photo.face, random_style(rng), rng) if masked else photo.image
        direction = 1 if i % 2 == 0 else -1
        for t in range(n):
            u = t / (n - 1)
            face_px = round(110 + 50 * np.sin(np.pi * min(max((u - 0.25) / 0.5, 0), 1)))
            person, alpha = cutout(image, photo, face_px)
            pw, ph = person.shape[1], person.shape[0]
            centre = SIZE[0] / 2 - pw / 2
            walk = (u / 0.25 - 1) if u < 0.25 else ((u - 0.75) / 0.25 if u > 0.75 else 0.0)
            x = round(centre + direction * walk * (SIZE[0] / 2 + pw / 2))
            y = round(SIZE[1] - ph + 0.05 * ph + 4 * np.sin(t / 3))
            frame = wall.copy()
            paste(frame, person, alpha, x, y)
            writer.write(frame)
        script.append({"person": photo.person, "source": photo.source, "masked": masked, "frames": n})
    writer.release()
    return {"path": str(out), "fps": FPS, "size": list(SIZE), "frames": n * len(visits), "visits": script,
            "bytes": out.stat().st_size}
