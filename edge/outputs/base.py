"""The Output protocol: every kiosk side effect (LEDs, log, stdout, HTTP) sees the same frame results."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from edge.mask_pipeline import FrameResult


@dataclass
class KioskStats:
    """Live counters the outputs share; written by the kiosk loop, read by the HTTP thread."""

    started: float = field(default_factory=time.time)
    frames: int = 0
    faces: int = 0
    people: dict[str, int] = field(default_factory=lambda: {"WithMask": 0, "WithoutMask": 0})
    alerts: dict[str, int] = field(default_factory=dict)  # monitor mode: sustained-score alerts by label
    camera_status: str = "starting"
    camera_reconnects: int = 0
    log_status: str = "ok"  # the event log's state, "degraded: ..." when writes fail
    last_frame_time: float | None = None
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=300))
    frame_times: deque = field(default_factory=lambda: deque(maxlen=120))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, result: FrameResult) -> None:
        now = time.time()
        with self.lock:
            self.frames += 1
            self.faces += len(result.faces)
            self.last_frame_time = now
            self.frame_times.append(now)
            self.latencies_ms.append(result.timings_ms.get("total_ms", 0.0))
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


@runtime_checkable
class Output(Protocol):
    name: str

    def handle(self, result: FrameResult, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...
