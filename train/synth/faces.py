"""Real face photos available offline, each with its person and BlazeFace keypoints.

Sources (see shared DATA.md): the `face-recognition==1.3.0` sdist test portraits (Obama, Biden),
scikit-image's `astronaut` and `lfw_subset` (100 grey 25x25 faces; each index is taken as its own
person), and the animated faces of OpenCV's `Megamind.avi` (one group: its characters recur).
The person id is what keeps train, validation and test disjoint.
"""

from __future__ import annotations

import logging
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.cache import cache_dir, sample_media
from edge.detectors.base import Detection
from edge.detectors.blazeface import BlazeFaceDetector, BlazeFaceSettings

log = logging.getLogger(__name__)

FACE_RECOGNITION_SDIST = "face-recognition==1.3.0"
# 32bit.png repeats obama2.jpg; the partial faces have no usable keypoints.
PORTRAITS = {"obama.jpg": "obama", "obama2.jpg": "obama", "obama3.jpg": "obama", "biden.jpg": "biden"}
LFW_UPSCALE, LFW_PAD = 100, 40
MEGAMIND_STEP = 3


@dataclass(frozen=True)
class FacePhoto:
    person: str
    source: str
    image: np.ndarray  # BGR
    face: Detection


def portraits_dir() -> Path:
    return cache_dir() / "faces" / "face-recognition"


def fetch_portraits() -> Path:
    """`pip download` the face-recognition sdist (no install) and keep its test portraits."""
    import sys

    from train.datasets.fetch import _run

    out = portraits_dir()
    if all((out / name).is_file() for name in PORTRAITS):
        return out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
              FACE_RECOGNITION_SDIST, "-d", str(tmpdir)], tmpdir)
        with tarfile.open(next(tmpdir.glob("face_recognition-*.tar.gz"))) as tar:
            for member in tar.getmembers():
                if "/tests/test_images/" in member.name and Path(member.name).name in PORTRAITS:
                    (out / Path(member.name).name).write_bytes(tar.extractfile(member).read())
    return out


def _skimage_data():
    try:
        import skimage.data
    except ImportError as exc:
        raise RuntimeError("scikit-image is needed for the astronaut and LFW faces: pip install 'edgesight[train]'") \
            from exc
    return skimage.data


# The keypoints the synthetic sets were built from: the short-range model on the whole photo, hard
# suppression, no shape check (the photos are known faces). Changing these changes every painted mask.
PHOTO_DETECTOR = BlazeFaceSettings(model="short-range", nms="hard", min_face_px=10, face_shape=False)


def _largest(detector: BlazeFaceDetector, image: np.ndarray) -> Detection | None:
    faces = detector.detect(image)
    return faces[0] if faces else None


def iter_face_photos(detector: BlazeFaceDetector | None = None, lfw: bool = True,
                     megamind: bool = True) -> Iterator[FacePhoto]:
    """Every source photo whose face BlazeFace finds; the ones it misses are logged and skipped."""
    detector = detector or BlazeFaceDetector(PHOTO_DETECTOR)
    folder = fetch_portraits()
    for name, person in PORTRAITS.items():
        image = cv2.imread(str(folder / name))
        face = _largest(detector, image) if image is not None else None
        if face is not None:
            yield FacePhoto(person, f"face-recognition/{name}", image, face)
    data = _skimage_data()
    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    face = _largest(detector, astronaut)
    if face is not None:
        yield FacePhoto("astronaut", "skimage/astronaut", astronaut, face)
    if lfw:
        for i, grey in enumerate(data.lfw_subset()[:100]):
            big = cv2.resize((grey * 255).astype(np.uint8), (LFW_UPSCALE, LFW_UPSCALE), interpolation=cv2.INTER_CUBIC)
            image = cv2.copyMakeBorder(cv2.cvtColor(big, cv2.COLOR_GRAY2BGR), *[LFW_PAD] * 4, cv2.BORDER_REPLICATE)
            face = _largest(detector, image)
            if face is None:
                log.info("lfw_subset[%d]: no face found, skipped", i)
                continue
            yield FacePhoto(f"lfw-{i:03d}", f"skimage/lfw_subset[{i}]", image, face)
    if megamind:
        video = sample_media()["video"]
        if not video.is_file():
            raise FileNotFoundError(f"{video} missing: run `edge-train fetch media`")
        cap = cv2.VideoCapture(str(video))
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            face = _largest(detector, frame) if index % MEGAMIND_STEP == 0 else None
            if face is not None and face.score >= 0.7:
                yield FacePhoto("megamind", f"Megamind.avi#{index}", frame, face)
            index += 1
        cap.release()
