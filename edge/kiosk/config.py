"""The kiosk's YAML config, validated by pydantic with unknown keys rejected; errors name their line.

Every field has a default, so an empty file is a working kiosk: the built-in mask bundle, the
default detector and the built-in sample clip, headless where there is no screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.errors import EdgeSightError

DEFAULT_CONFIG = Path(__file__).parent / "default.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DetectorSettings(_Strict):
    name: str = Field("blazeface", description="blazeface | haar | res10, or a fallback chain like blazeface+haar")
    min_face_px: int = Field(60, ge=12, description="smallest face side in frame pixels (a person at the door)")
    threshold: float = Field(0.6, gt=0, lt=1, description="score threshold for res10 / BlazeFace")
    tile_px: int | None = Field(256, ge=64, description="BlazeFace: also search square tiles of this size, so "
                                "60 px faces are found at 640x480; null: whole frame only")
    detect_every: int = Field(1, ge=1, le=30, description="run the detector every k frames; track in between")


class TrackerSettings(_Strict):
    iou_match: float = Field(0.3, gt=0, lt=1)
    max_missed: int = Field(10, ge=0)
    smooth_frames: int = Field(8, ge=1, le=120)
    settle_frames: int = Field(3, ge=1, le=120)


class DisplaySettings(_Strict):
    mode: Literal["auto", "window", "headless"] = "auto"  # auto: a window when the platform has a screen
    fullscreen: bool = True
    show_fps: bool = True


class JsonlSettings(_Strict):
    enabled: bool = True
    every_frame: bool = False  # False: one line per person counted


class SqliteSettings(_Strict):
    enabled: bool = True
    path: str = "~/.local/share/edgesight/kiosk-events.db"
    save_faces: bool = False  # face crops are personal data: off unless asked for


class GpioSettings(_Strict):
    enabled: bool = False
    green: int | None = 17
    red: int | None = 27
    buzzer: int | None = 22
    relay: int | None = None
    door_open_s: float = Field(3.0, ge=0)
    alert_s: float = Field(5.0, ge=0, description="monitor mode: red on for this long after an alert")
    pin_factory: str = "auto"  # auto | mock | lgpio | rpigpio | pigpio | native


class HttpSettings(_Strict):
    enabled: bool = False
    host: str = "127.0.0.1"  # localhost only unless deliberately opened
    port: int = Field(8080, ge=0, le=65535)


class MonitorSettings(_Strict):
    """Sustained-score alerts (a pain bundle: a face above threshold for sustain_s), sent through every output."""

    enabled: bool = False
    label: str | None = Field(None, description="the label to watch (default: the bundle's last, e.g. pain)")
    threshold: float = Field(0.7, gt=0, lt=1)
    sustain_s: float = Field(2.0, ge=0, description="seconds the smoothed score must stay above threshold")


class OutputSettings(_Strict):
    jsonl: JsonlSettings = JsonlSettings()
    sqlite: SqliteSettings = SqliteSettings()
    gpio: GpioSettings = GpioSettings()
    http: HttpSettings = HttpSettings()


class KioskConfig(_Strict):
    source: str = Field("loop:sample", description="camera[:N], picamera2, loop:VIDEO, loop:sample, VIDEO, "
                                                    "a folder, a stream URL, or null")
    bundle: str = "mask"
    trusted_key: str | None = None  # public ed25519 PEM: refuse unsigned or altered bundles
    format: str | None = None  # default: the bundle's default (tflite-int8)
    threads: int = Field(2, ge=1, le=64)
    realtime: bool = Field(True, description="play video files and loops at their own frame rate, like a camera")
    detector: DetectorSettings = DetectorSettings()
    tracker: TrackerSettings = TrackerSettings()
    monitor: MonitorSettings = MonitorSettings()
    display: DisplaySettings = DisplaySettings()
    outputs: OutputSettings = OutputSettings()


class ConfigError(EdgeSightError):
    pass


def _line_of(root: yaml.Node | None, loc: tuple) -> int | None:
    """The 1-based line of the YAML node at a pydantic error location (or its nearest parent)."""
    node, line = root, None
    for key in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        line = node.start_mark.line + 1
        match = next(((k, v) for k, v in node.value if k.value == str(key)), None)
        if match is None:
            break
        line = match[0].start_mark.line + 1
        node = match[1]
    return line


def load_yaml_model(path: Path, model: type[BaseModel]):
    """Read YAML into a strict pydantic model; every problem as `file:line: field: message`."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping of settings, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            line = _line_of(root, err["loc"])
            field = ".".join(map(str, err["loc"]))
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{path}:{line or '?'}: {field}: {msg}")
        raise ConfigError("; ".join(problems)) from exc


def load_config(path: str | Path | None = None) -> KioskConfig:
    return load_yaml_model(Path(path) if path else DEFAULT_CONFIG, KioskConfig)
