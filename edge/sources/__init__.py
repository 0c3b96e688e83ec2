"""Frame sources by name. `open_source("camera:0" | "picamera2" | "loop:clip.avi" | "null" | PATH | URL)`."""

from __future__ import annotations

from pathlib import Path

from edge.errors import SourceError
from edge.media import VIDEO_SUFFIXES
from edge.sources.base import FrameSource, to_bgr
from edge.sources.opencv import LoopSource, OpenCVSource
from edge.sources.picamera2 import Picamera2Source
from edge.sources.resilient import LatestFrame, ReconnectingSource
from edge.sources.simple import ImagesSource, NullSource

LIVE = (OpenCVSource, Picamera2Source)
SAMPLE_CLIP = Path(__file__).resolve().parent.parent / "samples" / "kiosk_clip.mp4"


def resolve_sample(spec: str) -> str:
    """The built-in names: `sample` (the kiosk clip shipped in edge/samples, 640x480; `loop:sample` loops it) and
    `megamind` (OpenCV's face clip, `edge-train fetch media`); any other spec is returned as it is."""
    loop, name = ("loop:", spec[5:]) if spec.startswith("loop:") else ("", spec)
    if name == "sample":
        if not SAMPLE_CLIP.is_file():
            raise SourceError(f"{SAMPLE_CLIP} missing: run `edge-train kiosk-clip`")
        return loop + str(SAMPLE_CLIP)
    if name == "megamind":
        from edge.cache import sample_media

        video = sample_media()["video"]
        if not video.is_file():
            raise SourceError("the Megamind clip is not fetched yet: run `edge-train fetch media`")
        return loop + str(video)
    return spec


def parse_source(spec: str) -> FrameSource:
    """What a user types after --source, as the source it means."""
    if spec == "null":
        return NullSource()
    if spec in ("picamera2", "picamera2:swap-rb"):
        return Picamera2Source(swap_rb=spec.endswith("swap-rb"))
    if spec.startswith("loop:"):
        return LoopSource(spec[5:])
    if spec.startswith("camera"):
        index = spec.split(":", 1)[1] if ":" in spec else "0"
        if not index.isdigit():
            raise SourceError(f"{spec}: expected camera or camera:N")
        return OpenCVSource(int(index))
    if spec.isdigit():
        return OpenCVSource(int(spec))
    if "://" in spec:
        return OpenCVSource(spec)
    path = Path(spec)
    if path.is_dir():
        return ImagesSource(path)
    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        return OpenCVSource(str(path))
    if not path.exists():
        raise SourceError(f"{spec}: no such file or folder (sources: camera[:N], picamera2[:swap-rb], loop:VIDEO, "
                          "null, a video, a folder of images, or a stream URL)")
    raise SourceError(f"{spec}: not a video or a folder of images")


def open_source(spec: str, reconnect: bool | None = None) -> FrameSource:
    """Parsed, wrapped in reconnect-with-back-off when it is a live device or stream, and opened."""
    source = parse_source(spec)
    live = isinstance(source, LIVE) and not (isinstance(source, OpenCVSource) and Path(str(source.target)).is_file())
    if reconnect if reconnect is not None else live:
        source = ReconnectingSource(source)
    source.open()
    return source


__all__ = ["LIVE", "SAMPLE_CLIP", "FrameSource", "ImagesSource", "LatestFrame", "LoopSource", "NullSource",
           "OpenCVSource", "Picamera2Source", "ReconnectingSource", "open_source", "parse_source", "resolve_sample",
           "to_bgr"]
