"""640x480 frames with no face at all, from real images, for counting a detector's phantom faces.

Four kinds, all from the package registries (see shared DATA.md):
  - `photo`: views of scikit-image's sample photos that hold no human face (coffee, a cat, a rocket,
    coins, bricks, grass, a clock, text, retina and microscope images, ...), scaled, cropped, flipped;
  - `pedestrians`: frames of OpenCV's `vtest.avi` (people walking at a distance, heads far below 40 px);
  - `patches`: mosaics of 50 of scikit-image's LFW *non-face* patches at 40-160 px;
  - `clothing`: the face photos (portraits, the astronaut, Megamind frames) with every face found by four
    detectors painted over with the surrounding colour, cropped around the body: suits, sleeves, walls.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

from edge.geometry import BBox
from train.synth.faces import FacePhoto

FRAME = (640, 480)
# The other half of scikit-image's no-face photos and LFW patches teach the second look (train/synth/verifyset.py);
# none of these does.
PHOTOS = ("brick", "chelsea", "clock", "coffee", "coins", "grass", "horse", "hubble_deep_field", "retina", "rocket",
          "text")
LFW_NONFACE_PATCHES = slice(150, 200)
VIEWS_PER_PHOTO = 38
VTEST_STEP = 2
MOSAICS = 100
CLOTHING_VIEWS = 3
# Detectors (spec strings) whose boxes are painted over in the face photos, at low thresholds.
FACE_FINDERS = ("blazeface:threshold=0.3,face_shape=false,min_face_px=8",
                "blazeface:model=short-range,threshold=0.3,face_shape=false,min_face_px=8,tile_px=256",
                "res10:threshold=0.3,min_face_px=8", "haar:min_face_px=20,min_neighbors=2,detect_width=none")


def _bgr(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (np.clip(image.astype(np.float64) / max(float(image.max()), 1e-9), 0, 1) * 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


def random_view(image: np.ndarray, rng: np.random.Generator, zoom: tuple[float, float] = (1.0, 2.5)) -> np.ndarray:
    """A 640x480 view: the image scaled to cover the frame (times a random zoom), cropped, maybe flipped,
    brightness jittered."""
    fw, fh = FRAME
    h, w = image.shape[:2]
    k = max(fw / w, fh / h) * rng.uniform(*zoom)
    big = cv2.resize(image, (max(fw, round(w * k)), max(fh, round(h * k))), interpolation=cv2.INTER_LINEAR)
    y = int(rng.integers(0, big.shape[0] - fh + 1))
    x = int(rng.integers(0, big.shape[1] - fw + 1))
    view = big[y:y + fh, x:x + fw]
    if rng.random() < 0.5:
        view = view[:, ::-1]
    return np.clip(view.astype(np.float32) * rng.uniform(0.7, 1.2), 0, 255).astype(np.uint8)


def photo_frames(rng: np.random.Generator) -> Iterable[tuple[str, np.ndarray]]:
    import skimage.data

    for name in PHOTOS:
        image = _bgr(getattr(skimage.data, name)())
        for _ in range(VIEWS_PER_PHOTO):
            yield f"skimage/{name}", random_view(image, rng)


def pedestrian_frames(video: Path) -> Iterable[tuple[str, np.ndarray]]:
    cap = cv2.VideoCapture(str(video))
    index = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            if index % VTEST_STEP == 0:
                yield f"vtest.avi#{index}", cv2.resize(frame, FRAME, interpolation=cv2.INTER_AREA)
            index += 1
    finally:
        cap.release()


def patch_mosaics(rng: np.random.Generator) -> Iterable[tuple[str, np.ndarray]]:
    import skimage.data

    patches = [_bgr(p) for p in skimage.data.lfw_subset()[LFW_NONFACE_PATCHES]]  # 100:200 are not faces
    fw, fh = FRAME
    for i in range(MOSAICS):
        canvas = cv2.resize(patches[i % len(patches)], FRAME, interpolation=cv2.INTER_CUBIC)
        for _ in range(int(rng.integers(6, 16))):
            side = int(rng.integers(40, 161))
            patch = cv2.resize(patches[int(rng.integers(len(patches)))], (side, side), interpolation=cv2.INTER_CUBIC)
            x, y = int(rng.integers(0, fw - side)), int(rng.integers(0, fh - side))
            canvas[y:y + side, x:x + side] = patch
        yield f"lfw_subset non-faces mosaic {i}", canvas


def paint_over(image: np.ndarray, boxes: list[BBox], rng: np.random.Generator) -> np.ndarray:
    """Each head region (the face box grown to take in hair, ears and chin) filled with the median colour
    of a ring around it plus a little noise, so no face and no hard-edged face-sized patch remains."""
    out = image.copy()
    h, w = image.shape[:2]
    for b in boxes:
        x0, x1 = max(0, round(b.x - 0.6 * b.w)), min(w, round(b.x + 1.6 * b.w))
        y0, y1 = max(0, round(b.y - 0.9 * b.h)), min(h, round(b.y + 1.4 * b.h))
        ring = np.concatenate([image[max(0, y0 - 8):y0, x0:x1].reshape(-1, 3), image[y0:y1, max(0, x0 - 8):x0]
                               .reshape(-1, 3), image[y0:y1, x1:x1 + 8].reshape(-1, 3)])
        colour = np.median(ring, axis=0) if len(ring) else np.array([128, 128, 128])
        noise = rng.normal(0, 6, (y1 - y0, x1 - x0, 3))
        out[y0:y1, x0:x1] = np.clip(colour + noise, 0, 255).astype(np.uint8)
    return out


def clothing_frames(photos: Iterable[FacePhoto], rng: np.random.Generator) -> Iterable[tuple[str, np.ndarray]]:
    from edge.detectors import open_detector

    finders = [open_detector(spec) for spec in FACE_FINDERS]
    for photo in photos:
        boxes = [photo.face.box] + [d.box for f in finders for d in f.detect(photo.image)]
        blank = paint_over(photo.image, boxes, rng)
        for _ in range(CLOTHING_VIEWS):
            yield photo.source, random_view(blank, rng, zoom=(1.0, 2.0))
    for f in finders:
        f.close()


def build_noface_set(photos: Iterable[FacePhoto], vtest: Path, out: Path, seed: int = 42,
                     progress: Callable[[str], None] | None = None) -> dict:
    """Write `<kind>_<n>.jpg` frames and `boxes.json` (no boxes: every detection on them is false)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.jpg"):
        old.unlink()
    rng = np.random.default_rng(seed)
    kinds = {"photo": photo_frames(rng), "pedestrians": pedestrian_frames(vtest), "patches": patch_mosaics(rng),
             "clothing": clothing_frames(photos, rng)}
    frames = {}
    for kind, source in kinds.items():
        for n, (origin, frame) in enumerate(source):
            name = f"{kind}_{n:04d}.jpg"
            cv2.imwrite(str(out / name), np.ascontiguousarray(frame), [cv2.IMWRITE_JPEG_QUALITY, 92])
            frames[name] = {"kind": kind, "source": origin, "boxes": []}
            if progress:
                progress(kind)
    meta = {"what": "real images with no face at all (faces painted over in the clothing frames); every detection "
                    "is a false box", "seed": seed, "frame": list(FRAME), "frames": frames}
    (out / "boxes.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta
