"""The kiosk's YAML config, validated by pydantic with unknown keys rejected; errors name their line.

Every field has a default, so an empty file is a working kiosk: the built-in mask bundle, the
default detector and the built-in sample clip, headless where there is no screen. The detector section
is a union keyed on `type`: an option the chosen detector lacks is an error with its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.errors import EdgeSightError
from edge.face_pipeline import FacePipelineSettings

DEFAULT_CONFIG = Path(__file__).parent / "default.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class KioskConfig(FacePipelineSettings):
    """The face pipeline's settings (bundle, detector, schedule, tracker; edge.face_pipeline) plus the kiosk's
    camera, monitor, screen and outputs."""

    source: str = Field("loop:sample", description="camera[:N], picamera2, loop:VIDEO, loop:sample, VIDEO, "
                                                    "a folder, a stream URL, or null")
    realtime: bool = Field(True, description="play video files and loops at their own frame rate, like a camera")
    monitor: MonitorSettings = MonitorSettings()
    display: DisplaySettings = DisplaySettings()
    outputs: OutputSettings = OutputSettings()


class ConfigError(EdgeSightError):
    pass


def _locate(root: yaml.Node | None, loc: tuple) -> tuple[int | None, str]:
    """The 1-based line of the YAML node at a pydantic error location (or its nearest parent), and the field's
    name as the file spells it: a union's tag in the location (detector.blazeface.threshold) is dropped."""
    node, line, names = root, None, []
    for i, key in enumerate(loc):
        match = None
        if isinstance(node, yaml.MappingNode):
            line = line or node.start_mark.line + 1
            match = next(((k, v) for k, v in node.value if k.value == str(key)), None)
        if match is None:  # a union's tag, a list index or a missing key: stay on this node
            if i == len(loc) - 1 or isinstance(key, int):
                names.append(str(key))
            continue
        names.append(str(key))
        line = match[0].start_mark.line + 1
        node = match[1]
    return line, ".".join(names)


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
            line, field = _locate(root, err["loc"])
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{path}:{line or '?'}: {field}: {msg}")
        raise ConfigError("; ".join(problems)) from exc


def load_config(path: str | Path | None = None) -> KioskConfig:
    return load_yaml_model(Path(path) if path else DEFAULT_CONFIG, KioskConfig)
