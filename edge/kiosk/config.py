"""The kiosk's YAML config, validated by pydantic with unknown keys rejected; errors name their line.

Every field has a default, so an empty file is a working kiosk: the built-in mask bundle, the
default detector and the built-in sample clip, headless where there is no screen. The detector section
is a union keyed on `type`: an option the chosen detector lacks is an error with its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from edge.errors import EdgeSightError
from edge.face_pipeline import FacePipelineSettings
from edge.strict import StrictModel

DEFAULT_CONFIG = Path(__file__).parent / "default.yaml"


class DisplaySettings(StrictModel):
    mode: Literal["auto", "window", "headless"] = "auto"  # auto: a window when the platform has a screen
    fullscreen: bool = True
    show_fps: bool = True


class JsonlSettings(StrictModel):
    enabled: bool = True
    every_frame: bool = False  # False: one line per person counted


class SqliteSettings(StrictModel):
    enabled: bool = True
    path: str = "~/.local/share/edgesight/kiosk-events.db"
    save_faces: bool = False  # face crops are personal data: off unless asked for


class GpioSettings(StrictModel):
    enabled: bool = False
    green: int | None = 17
    red: int | None = 27
    buzzer: int | None = 22
    relay: int | None = None
    door_open_s: float = Field(3.0, ge=0)
    alert_s: float = Field(5.0, ge=0, description="monitor mode: red on for this long after an alert")
    pin_factory: str = "auto"  # auto | mock | lgpio | rpigpio | pigpio | native


class LiveSettings(StrictModel):
    """The live page at / (camera with the kiosk's overlays, counts, events, health), served by the HTTP output."""

    enabled: bool = False
    fps: float = Field(10.0, gt=0, le=30, description="most JPEGs a second; none at all while nobody watches")
    quality: int = Field(75, ge=20, le=95, description="JPEG quality")
    width: int = Field(640, ge=160, le=1920, description="wider frames are scaled down to this")
    stream_faces: bool = Field(False, description="show faces as they are; off: no face pixels leave the device")
    privacy: Literal["dim", "blur"] = Field("dim", description="dim: blur and darken the whole frame, so no face "
                                            "is recognisable, even one the detector missed; blur: pixelate only "
                                            "the faces the detector found")
    max_viewers: int = Field(4, ge=1, le=64)
    events: int = Field(20, ge=1, le=500, description="latest events listed on the page")


class HttpSettings(StrictModel):
    enabled: bool = False
    host: str = "127.0.0.1"  # localhost only unless deliberately opened (then token_file is required)
    port: int = Field(8080, ge=0, le=65535)
    token_file: str | None = Field(None, description="file (mode 0600) with the access token; required for a "
                                   "non-loopback host; edge-flash generates one per device")
    max_request_bytes: int = Field(8192, ge=512, le=65536, description="request line + headers; bodies refused")
    rate_per_s: float = Field(20.0, gt=0, description="requests per second per network client (loopback: none)")
    rate_burst: int = Field(40, ge=1)
    live: LiveSettings = LiveSettings()

    @model_validator(mode="after")
    def _lan_needs_a_token(self) -> HttpSettings:
        from edge.outputs.access import is_loopback

        if self.enabled and self.token_file is None and not is_loopback(self.host):
            raise ValueError(f"host {self.host} is reachable from the network: set token_file (edge-flash "
                             "generates one per device) or bind to 127.0.0.1")
        return self


class MqttSettings(StrictModel):
    """Events on MQTT: every event goes to an SQLite outbox first and is marked sent on the broker's PUBACK."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    device: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="topic name of this kiosk "
                               "(default: the hostname)")
    topic_prefix: str = Field("edgesight", pattern=r"^[A-Za-z0-9_/-]{1,64}$")
    username: str | None = None
    password_file: str | None = Field(None, description="file with the password (never in the config)")
    tls: bool = False
    ca_file: str | None = Field(None, description="CA bundle for the broker's certificate (default: the system's)")
    cert_file: str | None = None  # client certificate, for brokers that ask for one
    key_file: str | None = None
    keepalive: int = Field(30, ge=5, le=3600, description="seconds; the broker sends the last will after 1.5x")
    outbox_path: str = "~/.local/share/edgesight/mqtt-outbox.db"
    max_backlog: int = Field(100_000, ge=100, description="unsent events kept while the broker is away")
    keep_sent_days: float = Field(7.0, ge=0, description="sent events stay in the outbox this long")
    discovery: bool = Field(True, description="Home Assistant MQTT discovery for the counters")
    discovery_prefix: str = "homeassistant"


class MonitorSettings(StrictModel):
    """Sustained-score alerts (a pain bundle: a face above threshold for sustain_s), sent through every output."""

    enabled: bool = False
    label: str | None = Field(None, description="the label to watch (default: the bundle's last, e.g. pain)")
    threshold: float = Field(0.7, gt=0, lt=1)
    sustain_s: float = Field(2.0, ge=0, description="seconds the smoothed score must stay above threshold")


class OutputSettings(StrictModel):
    jsonl: JsonlSettings = JsonlSettings()
    sqlite: SqliteSettings = SqliteSettings()
    gpio: GpioSettings = GpioSettings()
    http: HttpSettings = HttpSettings()
    mqtt: MqttSettings = MqttSettings()


class KioskConfig(FacePipelineSettings):
    """The face pipeline's settings (bundle, detector, schedule, tracker; edge.face_pipeline) plus the kiosk's
    camera, monitor, screen and outputs."""

    source: str = Field("loop:sample", description="camera[:N], picamera2, loop:VIDEO, loop:sample, VIDEO, "
                                                    "a folder, a stream URL, or null")
    realtime: bool = Field(True, description="play video files and loops at their own frame rate, like a camera")
    rotate: Literal[0, 90, 180, 270] = Field(0, description="turn every camera frame clockwise by this many "
                                             "degrees (a camera mounted sideways or upside down)")
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
