"""The face / not-face set the second-look verifier learns from: detector candidates, cropped as at run time.

The verifier's job is to look again at each box the face detector proposes and say whether it holds a
face, masked or not. So it learns from exactly those boxes: the first-stage detector runs (at a low
threshold) over
  - 640x480 frames of LFW people with and without painted masks (the recall set's frame builder): a
    candidate on the known face is `face`, every other candidate is `not_face`;
  - real images with no face: OpenCV's sample photos (aerials, buildings, fruit, boards...), part of
    scikit-image's photos, mosaics of Fashion-MNIST clothes and of half of scikit-image's LFW non-face
    patches: every candidate is `not_face`, plus random boxes;
and each box is cut with `edge.crops.face_crop` and the verifier margin, as the runtime cuts it.

Kept apart from what measures the detector: the recall set's people (portraits, the astronaut, Megamind)
and the no-face set's images (its photos, the other LFW patches, vtest.avi, the portraits' clothing) are
never used here. LFW people are split train / validation / test by person.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from edge.crops import face_crop
from edge.detectors.base import Detection
from edge.detectors.secondlook import VERIFIER_LABELS, VERIFIER_MARGIN, VERIFIER_SIZE
from edge.geometry import BBox
from train.synth.detection_frames import frame_pair
from train.synth.faces import FacePhoto
from train.synth.maskset import assign_split, photometric
from train.synth.noface import random_view

SPLITS = ("Train", "Validation", "Test")
TRAIN_PHOTOS = ("binary_blobs", "cell", "checkerboard", "colorwheel", "gravel", "immunohistochemistry", "logo",
                "moon", "page", "shepp_logan_phantom")
LFW_NONFACE_PATCHES = slice(100, 150)  # the no-face set uses 150:200
FACE_SIZES = (30, 40, 50, 60, 80, 110, 150)
FRAMES_PER_FACE = 16
VIEWS_PER_IMAGE = 20
AUGMENT = 2  # photometric copies per face crop
LFW_CORE = slice(40, 140)  # train.synth.faces pads each upscaled 100 px LFW face by 40 px of replicated border


def candidate_label(box: BBox, gt: BBox | None) -> str | None:
    """`face` on the known face (IoU >= 0.3, the recall set's hit), `not_face` clear of it; None for the boxes
    in between (around the face with too much context, or half on it), which teach nothing certain."""
    if gt is None:
        return "not_face"
    iou = box.iou(gt)
    if iou >= 0.3:
        return "face"
    cx, cy = gt.x + gt.w / 2, gt.y + gt.h / 2
    holds_centre = box.x <= cx <= box.x + box.w and box.y <= cy <= box.y + box.h
    return "not_face" if iou < 0.05 and not holds_centre else None


def candidate_crops(detector, frame: np.ndarray, gt: BBox | None) -> Iterator[tuple[str, np.ndarray]]:
    """(label, crop) for each first-stage candidate that `candidate_label` can name."""
    for det in detector.detect(frame):
        label = candidate_label(det.box, gt)
        if label is not None:
            yield label, face_crop(frame, det.box, VERIFIER_MARGIN)


def random_boxes(frame: np.ndarray, rng: np.random.Generator, n: int) -> Iterator[np.ndarray]:
    h, w = frame.shape[:2]
    for _ in range(n):
        side = int(rng.integers(24, min(h, w) // 2))
        x, y = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
        yield face_crop(frame, BBox(x, y, side, side), VERIFIER_MARGIN)


def augment(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The mask set's photometric changes, plus (a third of the time) edge-preserving smoothing and (a quarter
    of the time) a rendered look: rendered and beauty-filtered faces are smooth, flat-shaded and sharp-edged,
    and LFW's are not. Non-face candidates get the same changes (half of them: `negative_samples`), so the look
    alone does not say face."""
    crop = photometric(crop, rng)
    pick = rng.random()
    if pick < 0.33:
        crop = cv2.bilateralFilter(crop, 7, float(rng.uniform(30, 90)), float(rng.uniform(3, 9)))
    elif pick < 0.58:
        crop = rendered_look(crop, rng)
    return crop


def rendered_look(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A photo made to look drawn: OpenCV's edge-preserving stylization (flat regions, kept edges), then
    posterized shading."""
    styled = cv2.stylization(crop, sigma_s=float(rng.uniform(20, 80)), sigma_r=float(rng.uniform(0.2, 0.6)))
    step = int(rng.integers(12, 40))
    levels = styled.astype(np.int16) // step * step + step // 2  # int16: a highlight must not wrap to black
    return levels.clip(0, 255).astype(np.uint8)


def to_sample(crop: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return cv2.resize(gray, (VERIFIER_SIZE, VERIFIER_SIZE), interpolation=cv2.INTER_AREA)


def in_context(photo: FacePhoto, background: np.ndarray, rng: np.random.Generator) -> FacePhoto:
    """The LFW face without its replicated border, feathered into a real no-face image three times its size,
    so the crop around it shows real surroundings (a streaky border would be a cue no real face has)."""
    core = photo.image[LFW_CORE, LFW_CORE]
    side = core.shape[0]
    canvas = cv2.resize(np.ascontiguousarray(random_view(background, rng)), (3 * side, 3 * side))
    alpha = np.zeros((side, side), np.float32)
    alpha[side // 10:-side // 10, side // 10:-side // 10] = 1
    alpha = cv2.GaussianBlur(alpha, (0, 0), side / 15)[..., None]
    region = canvas[side:2 * side, side:2 * side]
    canvas[side:2 * side, side:2 * side] = (alpha * core + (1 - alpha) * region).astype(np.uint8)
    shift = side - LFW_CORE.start
    b = photo.face.box
    face = Detection(BBox(b.x + shift, b.y + shift, b.w, b.h), photo.face.score,
                     photo.face.keypoints + np.float32(shift))
    return FacePhoto(photo.person, photo.source, canvas, face)


def face_samples(photos: Iterable[FacePhoto], backgrounds: list[np.ndarray], detector, rng: np.random.Generator,
                 seed: int) -> Iterator[tuple[str, str, str, np.ndarray]]:
    """(split, label, person, sample) from frames of LFW people in real surroundings, masked and unmasked."""
    for photo in photos:
        split = assign_split(photo.person, seed)
        for _ in range(FRAMES_PER_FACE):
            placed = in_context(photo, backgrounds[int(rng.integers(len(backgrounds)))], rng)
            plain, masked, gt, _ = frame_pair(placed, int(rng.choice(FACE_SIZES)), rng)
            for frame in (plain, masked):
                for label, crop in candidate_crops(detector, frame, gt):
                    copies = AUGMENT if label == "face" else 1
                    for _ in range(copies):
                        yield split, label, photo.person, to_sample(augment(crop, rng))


def negative_images(opencv_images: list[Path], fashion_x: np.ndarray, rng: np.random.Generator) \
        -> Iterator[tuple[str, np.ndarray]]:
    """(image name, BGR image) of the training side's no-face images."""
    import skimage.data

    from train.synth.noface import _bgr

    for name in TRAIN_PHOTOS:
        yield f"skimage/{name}", _bgr(getattr(skimage.data, name)())
    for path in opencv_images:
        image = cv2.imread(str(path))
        if image is not None:
            yield f"opencv/{path.name}", image
    patches = [_bgr(p) for p in skimage.data.lfw_subset()[LFW_NONFACE_PATCHES]]
    for i in range(20):
        yield f"lfw-nonface-mosaic-{i}", _mosaic(patches, rng)
    clothes = [cv2.cvtColor(x, cv2.COLOR_GRAY2BGR) for x in fashion_x]
    for i in range(40):
        yield f"fashion-mosaic-{i}", _mosaic(clothes, rng)


def _mosaic(tiles: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    canvas = cv2.resize(tiles[int(rng.integers(len(tiles)))], (640, 480), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(6, 16))):
        side = int(rng.integers(40, 200))
        tile = cv2.resize(tiles[int(rng.integers(len(tiles)))], (side, side), interpolation=cv2.INTER_CUBIC)
        x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side))
        canvas[y:y + side, x:x + side] = tile
    return canvas


def negative_samples(images: Iterable[tuple[str, np.ndarray]], detector, rng: np.random.Generator,
                     seed: int) -> Iterator[tuple[str, str, str, np.ndarray]]:
    for name, image in images:
        split = assign_split(name, seed)
        for _ in range(VIEWS_PER_IMAGE):
            view = np.ascontiguousarray(random_view(image, rng, zoom=(1.0, 3.0)))
            for _, crop in candidate_crops(detector, view, None):
                yield split, "not_face", name, to_sample(augment(crop, rng) if rng.random() < 0.5 else crop)
            for crop in random_boxes(view, rng, 2):
                yield split, "not_face", name, to_sample(crop)


def build_verifier_set(photos: Iterable[FacePhoto], negatives: Iterable[tuple[str, np.ndarray]], detector,
                       out: Path, seed: int = 42, progress: Callable[[str], None] | None = None) -> dict:
    """Write `Train|Validation|Test/face|not_face/*.png` (48x48 grey) and `dataset.json`."""
    import shutil

    out = Path(out)
    for split in SPLITS:
        shutil.rmtree(out / split, ignore_errors=True)
        for label in VERIFIER_LABELS:
            (out / split / label).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    counts: Counter = Counter()
    sources: dict[str, set[str]] = {s: set() for s in SPLITS}
    negatives = list(negatives)
    backgrounds = [image for _, image in negatives]
    streams = (face_samples(photos, backgrounds, detector, rng, seed), negative_samples(negatives, detector, rng, seed))
    for stream in streams:
        for split, label, source, sample in stream:
            n = counts[(split, label)]
            cv2.imwrite(str(out / split / label / f"{n:06d}.png"), sample)
            counts[(split, label)] += 1
            if source not in sources[split]:
                sources[split].add(source)
                if progress:
                    progress(source)
    summary = {"what": "first-stage face-detector candidates cut as the second look cuts them: LFW people with and "
                       "without painted masks (face) and real no-face images (not_face)",
               "seed": seed, "size": [VERIFIER_SIZE, VERIFIER_SIZE], "margin": VERIFIER_MARGIN,
               "labels": list(VERIFIER_LABELS), "detector": getattr(detector, "spec", detector.name),
               "counts": {s: {lab: counts[(s, lab)] for lab in VERIFIER_LABELS} for s in SPLITS},
               "sources": {s: sorted(v) for s, v in sources.items()}}
    (out / "dataset.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
