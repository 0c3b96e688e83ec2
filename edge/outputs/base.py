"""The Output protocol: every kiosk side effect (LEDs, log, stdout, HTTP) sees the same frame results."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from edge.mask_pipeline import MASK_LABEL, NO_MASK_LABEL, FrameResult

WATCHED = ("camera_status", "log_status")  # state changes outputs may subscribe to (MQTT events)
Listener = Callable[[str, str, str], None]  # (field, old value, new value)


@dataclass
class KioskStats:
    """Live counters the outputs share; written by the kiosk loop, read by the HTTP thread.

    Assigning a new value to one of WATCHED calls the listeners (in the assigning thread), so an output
    hears "camera lost" when the loop notices it, without a hook in the loop and without polling.
    """

    started: float = field(default_factory=time.time)
    frames: int = 0
    faces: int = 0
    people: dict[str, int] = field(default_factory=lambda: {MASK_LABEL: 0, NO_MASK_LABEL: 0})
    alerts: dict[str, int] = field(default_factory=dict)  # monitor mode: sustained-score alerts by label
    camera_status: str = "starting"
    camera_reconnects: int = 0
    log_status: str = "ok"  # the event log's state, "degraded: ..." when writes fail
    last_frame_time: float | None = None
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=300))
    frame_times: deque = field(default_factory=lambda: deque(maxlen=120))
    stage_ms: dict[str, deque] = field(default_factory=dict)  # per timings_ms key (detect_ms ...), last 300
    pipeline: str = ""  # "detector + model format", for the live page and MQTT discovery
    mqtt_connected: bool | None = None  # None: no MQTT output
    mqtt_backlog: int = 0  # events in the outbox not yet acknowledged by the broker
    mqtt_sent: int = 0
    mqtt_dropped: int = 0  # events the outbox had to discard (only past its max_backlog)
    lock: threading.Lock = field(default_factory=threading.Lock)
    listeners: list[Listener] = field(default_factory=list)

    def __setattr__(self, name: str, value: object) -> None:
        old = self.__dict__.get(name, value)
        object.__setattr__(self, name, value)
        if name in WATCHED and old != value:
            for listener in self.__dict__.get("listeners", ()):
                listener(name, old, value)

    def record(self, result: FrameResult) -> None:
        now = time.time()
        with self.lock:
            self.frames += 1
            self.faces += len(result.faces)
            self.last_frame_time = now
            self.frame_times.append(now)
            self.latencies_ms.append(result.timings_ms.get("total_ms", 0.0))
            for stage, ms in result.timings_ms.items():
                self.stage_ms.setdefault(stage, deque(maxlen=300)).append(ms)
            for face in result.faces:
                if face.first_settled and face.smoothed_label is not None:
                    self.people[face.smoothed_label] = self.people.get(face.smoothed_label, 0) + 1
            for alert in result.alerts:
                self.alerts[alert["label"]] = self.alerts.get(alert["label"], 0) + 1

    def fps(self) -> float:
        with self.lock:
            times = list(self.frame_times)
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0

    def latency_quantiles(self) -> dict[str, float]:
        with self.lock:
            lat = np.asarray(self.latencies_ms, dtype=np.float64)
        if not lat.size:
            return {}
        return {q: float(np.percentile(lat, float(q) * 100)) for q in ("0.5", "0.9", "0.99")}

    def stage_medians(self) -> dict[str, float]:
        """Median ms per pipeline stage over the last 300 frames: {"detect": 16.1, "classify": 1.3, ...}."""
        with self.lock:
            stages = {k.removesuffix("_ms"): list(v) for k, v in self.stage_ms.items()}
        return {k: float(np.median(v)) for k, v in stages.items() if v}


@runtime_checkable
class Output(Protocol):
    name: str

    def handle(self, result: FrameResult, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...
