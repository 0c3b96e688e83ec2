"""640x480 test frames with one known face, masked and unmasked, for measuring detector recall.

Each real photo is scaled so its face has a chosen size and cut into a 640x480 frame at a random
place; the masked twin is the same frame with a painted mask, so masked and unmasked recall differ
only by the mask. Ground truth is the BlazeFace box found on the full-resolution, unmasked photo.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from edge.detectors.base import Detection
from edge.geometry import BBox
from train.synth.faces import FacePhoto
from train.synth.masks import paint_mask, random_style

FRAME = (640, 480)
KIOSK_SIZES = (60, 80, 110, 150, 200)  # a person at the door
SMALL_SIZES = (30, 35, 40, 45, 50, 55)  # further away, or a group photo: faces of 40-60 px are held to a bar too


def _scaled_face(face: Detection, k: float, dx: float, dy: float) -> Detection:
    b = face.box
    box = BBox(round(b.x * k + dx), round(b.y * k + dy), round(b.w * k), round(b.h * k))
    return Detection(box, face.score, face.keypoints * k + np.array([dx, dy], np.float32))


def frame_pair(photo: FacePhoto, size: int, rng: np.random.Generator,
               others: list[BBox] = ()) -> tuple[np.ndarray, np.ndarray, BBox, list[BBox]]:
    """(unmasked, masked, ground-truth box, the `others` faces of the photo where they land in the frame) with
    the face `size` px wide somewhere in a 640x480 frame."""
    fw, fh = FRAME
    masked_full = paint_mask(photo.image, photo.face, random_style(rng), rng)
    k = size / max(photo.face.box.w, 1)
    out = []
    h, w = photo.image.shape[:2]
    sw, sh = max(1, round(w * k)), max(1, round(h * k))
    box = photo.face.box.scale(k)
    # The frame's top-left in the scaled image: keep the whole face inside the frame.
    x_lo, x_hi = box.x + box.w - fw, box.x
    y_lo, y_hi = box.y + box.h - fh, box.y
    x0 = int(rng.integers(min(x_lo, x_hi), max(x_lo, x_hi) + 1))
    y0 = int(rng.integers(min(y_lo, y_hi), max(y_lo, y_hi) + 1))
    # Outside the photo: a plain wall in the photo's mean colour (a mirrored or blurred copy of the photo
    # would put a second, ghost face in the frame).
    wall = photo.image.reshape(-1, 3).mean(axis=0) * np.linspace(0.8, 1.1, fh)[:, None, None]
    backdrop = np.clip(np.broadcast_to(wall, (fh, fw, 3)) + rng.normal(0, 4, (fh, fw, 3)), 0, 255).astype(np.uint8)
    for image in (photo.image, masked_full):
        scaled = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
        canvas = backdrop.copy()
        sx0, sy0 = max(x0, 0), max(y0, 0)
        sx1, sy1 = min(x0 + fw, sw), min(y0 + fh, sh)
        canvas[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = scaled[sy0:sy1, sx0:sx1]
        out.append(canvas)
    gt = BBox(box.x - x0, box.y - y0, box.w, box.h)
    moved = [BBox(b.x - x0, b.y - y0, b.w, b.h) for b in (o.scale(k) for o in others)]
    return out[0], out[1], gt, [b.clip(fw, fh) for b in moved if b.clip(fw, fh).area > 0]


# High-recall detectors for the *other* faces of a photo (a character in the background): they are marked
# `ignore` in the set, so a detection on them is neither a hit nor a false box.
OTHER_FACE_FINDERS = ("blazeface:threshold=0.5,face_shape=false,min_face_px=12",
                      "blazeface:model=short-range,tile_px=256,threshold=0.5,face_shape=false,min_face_px=12",
                      "res10:threshold=0.6,min_face_px=12")


def other_faces(photo: FacePhoto, finders: list) -> list[BBox]:
    """Faces in the full-resolution photo besides the measured one (IoU < 0.3 with it), merged across finders."""
    found: list[BBox] = []
    for finder in finders:
        for det in finder.detect(photo.image):
            if det.box.iou(photo.face.box) < 0.3 and all(det.box.iou(b) < 0.3 for b in found):
                found.append(det.box)
    return found


def build_detection_set(photos: Iterable[FacePhoto], out: Path, seed: int = 42, repeats: int = 2,
                        sizes: tuple[int, ...] = KIOSK_SIZES + SMALL_SIZES) -> dict:
    """Write `unmasked/*.jpg`, `masked/*.jpg` (same names) and `boxes.json` (the face, and `ignore`: the other
    faces in the frame)."""
    from edge.detectors import open_detector

    finders = [open_detector(spec) for spec in OTHER_FACE_FINDERS]
    out = Path(out)
    for sub in ("unmasked", "masked"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    boxes = {}
    for n, photo in enumerate(photos):
        others = other_faces(photo, finders)
        for size in sizes:
            for r in range(repeats):
                plain, masked, gt, ignore = frame_pair(photo, size, rng, others)
                name = f"{n:04d}_{size:03d}_{r}.jpg"
                cv2.imwrite(str(out / "unmasked" / name), plain, [cv2.IMWRITE_JPEG_QUALITY, 92])
                cv2.imwrite(str(out / "masked" / name), masked, [cv2.IMWRITE_JPEG_QUALITY, 92])
                boxes[name] = {"box": gt.as_list(), "size_px": size, "person": photo.person, "source": photo.source,
                               "ignore": [b.as_list() for b in ignore]}
    for finder in finders:
        finder.close()
    meta = {"what": "faces of real photos (and of the animated Megamind clip), painted masks, one measured face "
                    "per 640x480 frame; ground truth = BlazeFace box on the full-resolution unmasked photo; `ignore`: "
                    "other faces of the photo (detections on them are neither hits nor false boxes)", "seed": seed,
            "frame": list(FRAME), "frames": boxes}
    (out / "boxes.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta
