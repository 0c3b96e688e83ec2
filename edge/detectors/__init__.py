"""Face detectors as plugins: each has a `type`, its own typed settings and one module.

The settings are a union keyed on `type` (as Frigate's detector config is), so an option a detector
lacks is an error naming it. On the command line a detector is `TYPE[:key=value,...]`, and `A+B`
chains detectors (B runs only where A found nobody), e.g.
    default                                    the kiosk's default (DEFAULT_DETECTOR below, chosen by measurement)
    blazeface                                  full-range BlazeFace at its defaults
    blazeface:model=short-range,tile_px=256    the short-range model with 256 px tiles
    haar:min_neighbors=5                       the seed paper's cascade
Adding a detector is one module with a settings class and a detector class, and one line in PLUGINS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from edge.detectors.base import Detection, DetectorSettings, FaceDetector, SecondLookSettings
from edge.detectors.blazeface import BlazeFaceDetector, BlazeFaceSettings
from edge.detectors.cascade import FallbackDetector
from edge.detectors.haar import HaarDetector, HaarSettings
from edge.detectors.res10 import Res10Detector, Res10Settings
from edge.detectors.secondlook import SecondLook, VerifiedDetector
from edge.errors import EdgeSightError
from edge.strict import FrozenModel

PLUGINS: dict[str, tuple[type[DetectorSettings], Callable[..., FaceDetector]]] = {
    "blazeface": (BlazeFaceSettings, BlazeFaceDetector),
    "haar": (HaarSettings, HaarDetector),
    "res10": (Res10Settings, Res10Detector),
}

# The default detector, chosen by measurement (README, "Face detection"): the short-range BlazeFace graph run
# fully convolutionally on the frame at 320 px wide (40 px faces at 640x480 in one pass), a threshold low
# enough for masked faces, and the second look to remove what is not a face. `parse_spec("default")` is it.
DEFAULT_DETECTOR = BlazeFaceSettings(model="short-range", input_width=320, threshold=0.35, threads=2,
                                     second_look=SecondLookSettings())

SingleDetector = Annotated[Union[BlazeFaceSettings, HaarSettings, Res10Settings], Field(discriminator="type")]


class FallbackSettings(FrozenModel):
    """Detectors tried in order on each frame until one finds a face."""
    type: Literal["fallback"] = "fallback"
    detectors: list[SingleDetector] = Field(min_length=2)


DetectorConfig = Annotated[Union[BlazeFaceSettings, HaarSettings, Res10Settings, FallbackSettings],
                           Field(discriminator="type")]
_ADAPTER: TypeAdapter = TypeAdapter(DetectorConfig)


def validate_settings(data: dict | BaseModel) -> BaseModel:
    """A settings dict (from YAML or a spec) -> the detector's typed settings; one-line errors naming the option."""
    if isinstance(data, BaseModel):
        return data
    kind = data.get("type")
    if kind not in (*PLUGINS, "fallback"):
        raise EdgeSightError(f"unknown face detector {kind!r}; choose one of {', '.join(PLUGINS)} (or chain them "
                             "with +, e.g. blazeface+haar)")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise EdgeSightError(f"detector {kind}: {describe_errors(exc, kind)}") from None


def describe_errors(exc: ValidationError, kind: str) -> str:
    """Pydantic's errors as `option: problem`, with the options a detector does have when one is unknown."""
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if str(p) != kind]
        name = ".".join(loc) or "(settings)"
        if err["type"] == "extra_forbidden":
            known = ", ".join(PLUGINS[kind][0].model_fields) if kind in PLUGINS else ""
            problems.append(f"{name}: no such option for {kind} (its options: {known})")
        else:
            problems.append(f"{name}: {err['msg']}")
    return "; ".join(problems)


def parse_spec(spec: str, **overrides: object) -> BaseModel:
    """`TYPE[:key=value,...]` (chained with +) -> validated settings; `overrides` apply to every part
    whose detector has that option (e.g. min_face_px from --min-face)."""
    parts = [p.strip() for p in spec.split("+") if p.strip()]
    if not parts:
        raise EdgeSightError("empty detector spec; e.g. blazeface or blazeface:model=short-range,tile_px=256")
    settings = [_parse_one(p, overrides) for p in parts]
    if len(settings) == 1:
        return settings[0]
    return validate_settings({"type": "fallback", "detectors": [s.model_dump() for s in settings]})


def _parse_one(part: str, overrides: dict) -> BaseModel:
    kind, _, rest = part.partition(":")
    kind = kind.strip()
    data: dict = {"type": kind}
    if kind == "default":
        data = DEFAULT_DETECTOR.model_dump()
        kind = data["type"]
    fields = PLUGINS[kind][0].model_fields if kind in PLUGINS else {}
    data.update({k: v for k, v in overrides.items() if k in fields and v is not None})
    for item in filter(None, (i.strip() for i in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise EdgeSightError(f"detector {kind}: {item!r} is not key=value (e.g. {kind}:threshold=0.6)")
        _set_option(data, key.strip(), value.strip())
    return validate_settings(data)


def _set_option(data: dict, key: str, value: str) -> None:
    """`threshold=0.6`; `second_look=on|off|BUNDLE`; nested options with dots: `second_look.threshold=0.7`."""
    off = value.lower() in ("none", "null", "off", "false")
    if key == "second_look":
        data[key] = None if off else {} if value.lower() in ("on", "true") else {"bundle": value}
    elif "." in key:  # `false` stays a value here: a nested yes/no option (confirm_mirror) reads it as False
        head, _, rest = key.partition(".")
        nested = data.get(head) or {}
        unset = value.lower() in ("none", "null", "off")
        data[head] = {**(nested if isinstance(nested, dict) else nested.model_dump()), rest: None if unset else value}
    else:
        data[key] = None if off and key not in ("face_shape",) else value


def open_detector(settings: str | dict | BaseModel = "blazeface") -> FaceDetector:
    """A ready detector from settings, a settings dict or a spec string; its weights are hash-checked."""
    if isinstance(settings, str):
        settings = parse_spec(settings)
    settings = validate_settings(settings)
    if isinstance(settings, FallbackSettings):
        return FallbackDetector([open_detector(s) for s in settings.detectors])
    detector = PLUGINS[settings.type][1](settings)
    if settings.second_look is None:
        return detector
    try:
        return VerifiedDetector(detector, SecondLook(settings.second_look))
    except BaseException:
        detector.close()
        raise


def _spec_value(value) -> str:
    if value is None:
        return "off"
    if isinstance(value, bool):
        return str(value).lower()
    return "/".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


def describe(settings: BaseModel) -> str:
    """A one-line spec that `parse_spec` reads back: what reports and logs print."""
    if isinstance(settings, FallbackSettings):
        return "+".join(describe(s) for s in settings.detectors)
    defaults = type(settings)()
    options = []
    for key in type(settings).model_fields:
        value, default = getattr(settings, key), getattr(defaults, key)
        if key == "type" or value == default:
            continue
        if isinstance(value, BaseModel):
            inner = type(value)()
            options.append(f"{key}=on")
            options += [f"{key}.{k}={_spec_value(getattr(value, k))}" for k in type(value).model_fields
                        if getattr(value, k) != getattr(inner, k)]
        else:
            options.append(f"{key}={'off' if value is None else value}")
    return settings.type + (":" + ",".join(options) if options else "")


__all__ = ["DEFAULT_DETECTOR", "PLUGINS", "BlazeFaceDetector", "BlazeFaceSettings", "Detection", "DetectorConfig",
           "FaceDetector", "FallbackDetector", "FallbackSettings", "HaarDetector", "HaarSettings", "Res10Detector",
           "Res10Settings", "describe", "open_detector", "parse_spec", "validate_settings"]
