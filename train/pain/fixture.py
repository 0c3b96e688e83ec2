"""A PIPELINE-CHECK set for the pain tools: real faces, and the same faces with a synthetic grimace.

No pain data can be fetched here (UNBC-McMaster is by request). To exercise features, heads, splits,
fusion and conversion on real face pixels, `pain/` holds real faces warped into a grimace (narrowed
eyes, lowered brows, a stretched mouth, fitted to BlazeFace keypoints) and `no_pain/` the faces as
they are. A model trained on it detects this warp, **not pain**; nothing trained on it ships as a pain model.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from train.synth.faces import FacePhoto
from train.synth.maskset import face_crop, photometric

NOTE = "PIPELINE CHECK: real faces with a synthetic grimace warp; not pain data, not a pain model"


def grimace(image: np.ndarray, photo: FacePhoto, strength: float = 1.0) -> np.ndarray:
    """Narrow the eyes, lower the brows and stretch the mouth with one smooth remap."""
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    f = photo.face
    d = float(np.linalg.norm(f.point("left_eye") - f.point("right_eye"))) or 1.0
    src_x, src_y = xs.copy(), ys.copy()
    for eye in (f.point("right_eye"), f.point("left_eye")):
        wgt = np.exp(-((xs - eye[0]) ** 2 / (2 * (0.35 * d) ** 2) + (ys - eye[1]) ** 2 / (2 * (0.22 * d) ** 2)))
        src_y += strength * wgt * ((ys - eye[1]) * 0.9 - 0.12 * d)  # squash around the eye, pull the brow down
    mouth = f.point("mouth")
    wgt = np.exp(-((xs - mouth[0]) ** 2 / (2 * (0.45 * d) ** 2) + (ys - mouth[1]) ** 2 / (2 * (0.25 * d) ** 2)))
    src_x -= strength * wgt * (xs - mouth[0]) * 0.35
    src_y += strength * wgt * (ys - mouth[1]) * 0.5
    return cv2.remap(image, src_x, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def build_pain_fixture(photos: Iterable[FacePhoto], out: Path, per_photo: int = 4, size: int = 96,
                       seed: int = 42) -> dict:
    out = Path(out)
    for label in ("pain", "no_pain"):
        (out / label).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows, people = [], set()
    for n, photo in enumerate(photos):
        people.add(photo.person)
        for k in range(per_photo):
            for label, image in (("no_pain", photo.image), ("pain", grimace(photo.image, photo,
                                                                                rng.uniform(0.8, 1.2)))):
                crop = photometric(face_crop(image, photo, rng, size), rng)
                name = f"{photo.person}_{n:04d}_{k}.png"
                cv2.imwrite(str(out / label / name), crop)
                rows.append({"file": f"{label}/{name}", "subject": photo.person})
    with open(out / "subjects.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "subject"])
        w.writeheader()
        w.writerows(rows)
    (out / "README.txt").write_text(NOTE + "\n")
    return {"what": NOTE, "images": len(rows), "people": len(people), "path": str(out)}
