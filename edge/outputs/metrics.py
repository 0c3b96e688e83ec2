"""What /metrics serves, as one table: the Prometheus text, the fleet's alert rules and its Grafana dashboard
are all built from METRICS, so a renamed metric cannot leave a rule or a panel pointing at nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.outputs.base import KioskStats

Samples = list[tuple[dict[str, str], float]]  # (labels, value) per series


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # counter | gauge | summary
    help: str
    samples: Callable[[KioskStats], Samples]
    unit: str = ""  # Grafana's unit id (fps, ms, short, bool ...) for the dashboard


def _one(fn: Callable[[KioskStats], float]) -> Callable[[KioskStats], Samples]:
    return lambda s: [({}, float(fn(s)))]


def _mqtt(fn: Callable[[KioskStats], float]) -> Callable[[KioskStats], Samples]:
    """MQTT series exist only when the kiosk has an MQTT output (absent, not 0, otherwise)."""
    return lambda s: [] if s.mqtt_connected is None else [({}, float(fn(s)))]


METRICS: tuple[Metric, ...] = (
    Metric("edgesight_frames_total", "counter", "Frames processed.", _one(lambda s: s.frames)),
    Metric("edgesight_faces_total", "counter", "Faces classified (per frame).", _one(lambda s: s.faces)),
    Metric("edgesight_people_total", "counter", "People counted once per track, by smoothed verdict.",
           lambda s: [({"verdict": k}, v) for k, v in s.people.items()]),
    Metric("edgesight_alerts_total", "counter", "Monitor alerts (a score sustained above threshold), by label.",
           lambda s: [({"label": k}, v) for k, v in s.alerts.items()]),
    Metric("edgesight_fps", "gauge", "Frames per second over the last 120 frames.", _one(lambda s: s.fps()), "fps"),
    Metric("edgesight_frame_latency_ms", "summary", "Detect+classify time per frame (last 300 frames).",
           lambda s: [({"quantile": q}, v) for q, v in s.latency_quantiles().items()], "ms"),
    Metric("edgesight_stage_latency_ms", "gauge", "Median time per pipeline stage over the last 300 frames.",
           lambda s: [({"stage": k}, v) for k, v in s.stage_medians().items()], "ms"),
    Metric("edgesight_camera_up", "gauge", "1 while the camera delivers frames.",
           _one(lambda s: s.camera_status == "ok"), "bool"),
    Metric("edgesight_camera_reconnects_total", "counter", "Camera reopen attempts that succeeded.",
           _one(lambda s: s.camera_reconnects)),
    Metric("edgesight_event_log_up", "gauge", "1 while event-log writes succeed.",
           _one(lambda s: s.log_status == "ok"), "bool"),
    Metric("edgesight_last_frame_timestamp_seconds", "gauge", "Unix time of the last processed frame (a hung "
           "frame loop shows as a growing age while this endpoint still answers).",
           lambda s: [] if s.last_frame_time is None else [({}, s.last_frame_time)], "dateTimeAsIso"),
    Metric("edgesight_start_time_seconds", "gauge", "Unix time the kiosk process started (changes on every "
           "restart: watchdog, crash, roll-out).", _one(lambda s: s.started), "dateTimeAsIso"),
    Metric("edgesight_mqtt_connected", "gauge", "1 while the MQTT broker connection is up.",
           _mqtt(lambda s: bool(s.mqtt_connected)), "bool"),
    Metric("edgesight_mqtt_backlog", "gauge", "Events in the outbox not yet acknowledged by the broker.",
           _mqtt(lambda s: s.mqtt_backlog)),
    Metric("edgesight_mqtt_sent_total", "counter", "Events acknowledged by the broker (PUBACK).",
           _mqtt(lambda s: s.mqtt_sent)),
    Metric("edgesight_mqtt_dropped_total", "counter", "Events discarded because the outbox exceeded max_backlog.",
           _mqtt(lambda s: s.mqtt_dropped)),
)
METRIC_NAMES = frozenset(m.name for m in METRICS)


def _series(name: str, labels: dict[str, str], value: float) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    text = f"{value:.3f}" if isinstance(value, float) and not value.is_integer() else str(int(value))
    return f"{name}{{{inner}}} {text}" if inner else f"{name} {text}"


def metrics_text(stats: KioskStats) -> str:
    lines = []
    for m in METRICS:
        lines += [f"# HELP {m.name} {m.help}", f"# TYPE {m.name} {m.kind}"]
        lines += [_series(m.name, labels, value) for labels, value in m.samples(stats)]
    return "\n".join(lines) + "\n"


def health(stats: KioskStats, stale_s: float = 5.0) -> tuple[int, dict]:
    """503 when the camera is down or no frame was processed for `stale_s` seconds."""
    age = None if stats.last_frame_time is None else time.time() - stats.last_frame_time
    ok = stats.camera_status == "ok" and age is not None and age < stale_s
    status = ("ok" if stats.log_status == "ok" else "degraded") if ok else "unhealthy"
    body = {"status": status, "camera": stats.camera_status, "event_log": stats.log_status,
            "last_frame_age_s": None if age is None else round(age, 3), "frames": stats.frames,
            "uptime_s": round(time.time() - stats.started, 1)}
    return (200 if ok else 503), body
