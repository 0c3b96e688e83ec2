"""Shared fixtures: real datasets (fetched from the registries by `make data`), real bundles."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def mnist():
    from train.datasets import load_dataset

    return load_dataset("mnist")


@pytest.fixture(scope="session")
def fashion():
    from train.datasets import load_dataset

    return load_dataset("fashion")


@pytest.fixture()
def digits_copy(tmp_path: Path) -> Path:
    """A private copy of the built-in digits bundle a test may damage."""
    from edge.bundle import resolve

    dst = tmp_path / "digits"
    shutil.copytree(resolve("digits"), dst)
    return dst


def require_tool(*names: str) -> None:
    """Skip when a system tool is missing, except under CI=true: there `make test` has installed it, so a missing
    tool fails the test instead of turning it into a silent skip."""
    missing = [n for n in names if not (shutil.which(n) or Path("/usr/sbin", n).exists())]
    if not missing:
        return
    message = f"needs {', '.join(missing)} (Debian packages; `make tools` installs them as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " -- missing under CI=true")
    pytest.skip(message)


def run_cli(name: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """A console script as a user runs it: its own process, real exit code, real streams."""
    return subprocess.run([str(BIN / name), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def error_lines(proc: subprocess.CompletedProcess, prog: str) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith(f"{prog}: error:")]


def clip_frames(video, n: int) -> list:
    """The first n frames of a video file, read with OpenCV."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames
