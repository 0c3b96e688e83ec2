"""A labelled WithMask/WithoutMask face-crop set from real faces with painted masks.

Layout is the Kaggle "Face Mask 12k" one (`Train|Validation|Test/WithMask|WithoutMask`), so the mask
recipe reads it exactly like the real set. People never cross splits. Each crop comes from the
same geometry the kiosk uses (a square around the detector box) with heavy variation: box scale and
shift, head roll, light, colour, blur, low resolution, noise and JPEG loss. What it is not: real
masks, real occlusions, or a demographic sample; a model trained on it is a demo, and says so.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

from train.synth.faces import FacePhoto
from train.synth.masks import paint_mask, random_style

LABELS = ("WithMask", "WithoutMask")
SPLITS = ("Train", "Validation", "Test")
FIXED_SPLIT = {"biden": "Test", "astronaut": "Validation", "obama": "Train", "megamind": "Train"}
# Crops per photo and class: few portraits and many LFW faces, so portraits get more variations.
PER_PHOTO = {"face-recognition": 60, "skimage/astronaut": 60, "skimage/lfw": 24, "Megamind": 4}
SIZE = 128


def assign_split(person: str, seed: int = 42, held_out: float = 0.15) -> str:
    """Fixed people for the portraits; LFW people hashed by seed into 70/15/15."""
    if person in FIXED_SPLIT:
        return FIXED_SPLIT[person]
    u = np.random.default_rng([seed, sum(map(ord, person)) * 131 + len(person)]).random()
    return "Test" if u < held_out else "Validation" if u < 2 * held_out else "Train"


def _per_photo(source: str, scale: float) -> int:
    base = next(n for prefix, n in PER_PHOTO.items() if source.startswith(prefix))
    return max(1, round(base * scale))


def face_crop(image: np.ndarray, photo: FacePhoto, rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """One square crop around the face with random scale, shift and roll, by a single affine warp."""
    box = photo.face.box
    side = max(box.w, box.h) * rng.uniform(1.0, 1.5)
    cx = box.x + box.w / 2 + rng.uniform(-0.08, 0.08) * side
    cy = box.y + box.h / 2 + rng.uniform(-0.08, 0.08) * side
    m = cv2.getRotationMatrix2D((cx, cy), rng.uniform(-15, 15), size / side)  # keeps (cx, cy) fixed
    m[:, 2] += (size / 2 - cx, size / 2 - cy)
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def photometric(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light, colour, blur, low resolution, noise and JPEG loss, each with its own chance."""
    x = crop.astype(np.float32)
    x = (x - 128) * rng.uniform(0.7, 1.3) + 128 + rng.uniform(-40, 40)
    if rng.random() < 0.5:
        x *= rng.uniform(0.85, 1.15, 3)  # white balance
    x = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        hsv = cv2.cvtColor(x, cv2.COLOR_BGR2HSV).astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + rng.integers(-8, 9)) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.5, 1.3), 0, 255)
        x = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
    if rng.random() < 0.1:
        x = cv2.cvtColor(cv2.cvtColor(x, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if rng.random() < 0.4:
        small = int(rng.integers(28, 96))
        x = cv2.resize(cv2.resize(x, (small, small), interpolation=cv2.INTER_AREA), x.shape[1::-1],
                       interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.5, 1.8))
    if rng.random() < 0.3:
        x = np.clip(x + rng.normal(0, rng.uniform(2, 10), x.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 95))])
        x = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return x


def build_mask_set(photos: Iterable[FacePhoto], out: Path, seed: int = 42, scale: float = 1.0,
                   progress: Callable[[str], None] | None = None) -> dict:
    """Write the folder set and `dataset.json` (people per split, counts, what the set is)."""
    out = Path(out)
    if (out / "dataset.json").is_file():  # a set we wrote before: start clean, so no stale crops stay behind
        import shutil

        for split in SPLITS:
            shutil.rmtree(out / split, ignore_errors=True)
    for split in SPLITS:
        for label in LABELS:
            (out / split / label).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    people: dict[str, set[str]] = {s: set() for s in SPLITS}
    counts: Counter = Counter()
    styles: Counter = Counter()
    for n_photo, photo in enumerate(photos):
        split = assign_split(photo.person, seed)
        people[split].add(photo.person)
        grey = photo.source.startswith("skimage/lfw")
        for k in range(_per_photo(photo.source, scale)):
            style = random_style(rng)
            masked = paint_mask(photo.image, photo.face, style, rng)
            if grey:
                masked = cv2.cvtColor(cv2.cvtColor(masked, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
            styles[style.kind] += 1
            for label, image in (("WithMask", masked), ("WithoutMask", photo.image)):
                crop = photometric(face_crop(image, photo, rng), rng)
                name = f"{photo.person}_{n_photo:04d}_{k:03d}.png"
                cv2.imwrite(str(out / split / label / name), crop)
                counts[(split, label)] += 1
        if progress:
            progress(photo.source)
    summary = {
        "what": "real faces with painted masks (synthetic); not real mask photos",
        "seed": seed, "size": [SIZE, SIZE], "labels": list(LABELS),
        "people": {s: sorted(p) for s, p in people.items()},
        "counts": {s: {lab: counts[(s, lab)] for lab in LABELS} for s in SPLITS},
        "mask_styles": dict(styles),
    }
    overlap = (people["Train"] & people["Test"]) | (people["Train"] & people["Validation"])
    if overlap:
        raise RuntimeError(f"people in more than one split: {sorted(overlap)}")
    (out / "dataset.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
