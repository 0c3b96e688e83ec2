"""What board this is and whether it has a screen: detected once, here, for the whole runtime."""

from __future__ import annotations

import functools
import os
import platform as _platform
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PlatformInfo:
    board: str  # "raspberry-pi", "jetson" or "generic"
    model: str  # e.g. "Raspberry Pi 5 Model B Rev 1.0"
    machine: str  # uname machine, e.g. aarch64
    has_display: bool


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace").strip("\x00\n ")
    except OSError:
        return ""


@functools.lru_cache(maxsize=1)
def detect() -> PlatformInfo:
    model = _read("/proc/device-tree/model")
    if "raspberry pi" in model.lower():
        board = "raspberry-pi"
    elif Path("/etc/nv_tegra_release").exists() or "jetson" in model.lower():
        board = "jetson"
    else:
        board = "generic"
    display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return PlatformInfo(board, model or _platform.processor() or "unknown", _platform.machine(), display)
