"""The kiosk loop: newest camera frame -> mask pipeline -> outputs and screen, until stopped.

It must run for weeks: the capture thread keeps only the newest frame, a dropped camera is
reopened with back-off while the screen says so, and SIGTERM (systemd stop) ends the loop cleanly
so the event log is closed and the LEDs are switched off.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import threading
import time

from edge.face_pipeline import build_face_pipeline, close_pipeline
from edge.kiosk.config import KioskConfig
from edge.kiosk.display import draw, open_preview
from edge.kiosk.sdnotify import SystemdNotifier
from edge.mask_pipeline import FacePipeline, MaskPipeline
from edge.monitor import SustainedMonitor, face_alerts
from edge.outputs import build_outputs
from edge.outputs.base import KioskStats, Output
from edge.platform import detect as detect_platform
from edge.sources import FrameSource, LatestFrame, LoopSource, open_source, parse_source, resolve_sample
from edge.sources.rotated import rotated

log = logging.getLogger(__name__)
STALL_S = 2.0  # no frame for this long from a source that says it is fine: report it stalled


def resolve_source(spec: str, realtime: bool = True) -> FrameSource:
    """`loop:sample` is the built-in clip; loops and files play at their own frame rate when `realtime`."""
    spec = resolve_sample("loop:sample" if spec == "sample" else spec)
    if spec.startswith("loop:"):
        source = LoopSource(spec[5:], realtime=realtime)
        source.open()
        return source
    parse_source(spec)  # fail early with a clear message on a typo
    return open_source(spec)


def build_pipeline(cfg: KioskConfig) -> FacePipeline:
    """A mask bundle gets the mask kiosk; another face bundle (pain) needs `monitor.enabled` to mean anything."""
    pipeline = build_face_pipeline(cfg)
    labels = pipeline.classifier.labels
    problem = None
    if not isinstance(pipeline, MaskPipeline) and not cfg.monitor.enabled:
        problem = (f"{cfg.bundle}: labels {labels} are not a mask bundle's; for a pain bundle set "
                   "monitor.enabled: true so sustained scores raise alerts")
    elif cfg.monitor.label is not None and cfg.monitor.label not in labels:
        problem = f"monitor.label: {cfg.monitor.label!r} is not one of the bundle's labels {labels}"
    if problem:
        close_pipeline(pipeline)
        raise ValueError(problem)
    return pipeline


def run_kiosk(cfg: KioskConfig, max_frames: int | None = None, duration_s: float | None = None,
              source: FrameSource | None = None, outputs: list[Output] | None = None,
              stop: threading.Event | None = None, stats: KioskStats | None = None) -> dict:
    """Run until q/Esc, SIGTERM/SIGINT, `stop`, max_frames or duration_s; return a summary."""
    stop = stop or threading.Event()
    stats = stats or KioskStats()
    pipeline = build_pipeline(cfg)
    stats.pipeline = f"{pipeline.detector.name} + {pipeline.classifier.format}"  # for the live page and MQTT
    given = source is not None  # a caller's source is opened by the capture thread's start
    source = rotated(source or resolve_source(cfg.source, cfg.realtime), cfg.rotate)
    info = detect_platform()
    loop = _Loop(cfg, pipeline, source, LatestFrame(source),
                 outputs if outputs is not None else build_outputs(cfg.outputs, stats),
                 open_preview(cfg.display.mode, cfg.display.fullscreen, info.has_display), stats)
    loop.capture.start(open_source=given)
    loop.notifier.ready(f"kiosk: {pipeline.detector.name} + {cfg.bundle}")
    try:
        with _stop_on_signals(stop):
            while not stop.is_set() and not loop.done(max_frames, duration_s) and loop.step():
                pass
    finally:
        loop.close()
    return loop.summary(info.board)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event):
    """SIGTERM (systemd stop) and SIGINT end the loop cleanly; the previous handlers come back after."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclasses.dataclass
class _Loop:
    """One kiosk run's parts and state; `step` is one turn of the loop: a frame (or its absence) handled."""

    cfg: KioskConfig
    pipeline: FacePipeline
    source: FrameSource
    capture: LatestFrame
    outs: list[Output]
    preview: object
    stats: KioskStats
    notifier: SystemdNotifier = dataclasses.field(default_factory=SystemdNotifier)
    started: float = dataclasses.field(default_factory=time.monotonic)
    last_frame_at: float = dataclasses.field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        m = self.cfg.monitor
        self.monitor = SustainedMonitor(m.threshold, m.sustain_s) if m.enabled else None

    def done(self, max_frames: int | None, duration_s: float | None) -> bool:
        self.notifier.tick(f"{self.stats.frames} frames, camera {self.stats.camera_status}")
        if max_frames is not None and self.stats.frames >= max_frames:
            return True
        return duration_s is not None and time.monotonic() - self.started >= duration_s

    def step(self) -> bool:
        """Handle the newest frame, or show why there is none; False when the run should end."""
        got = self.capture.get(timeout=0.5)
        self._camera_health(got is not None)
        if got is None:
            return not self.capture.finished and self.preview.show(draw(None, None, self.stats.camera_status))
        frame = got[1]
        result = self.pipeline.process(frame)
        if self.monitor is not None:
            alerts = face_alerts(self.monitor, result.faces, self.pipeline.classifier.labels, self.cfg.monitor.label,
                                 time.monotonic())
            result = dataclasses.replace(result, alerts=alerts)
        self.stats.record(result)
        for out in self.outs:
            out.handle(result, frame)
        self.stats.log_status = next((o.status for o in self.outs if getattr(o, "status", "ok") != "ok"), "ok")
        fps = self.stats.fps() if self.cfg.display.show_fps else None
        return self.preview.show(draw(frame, result, "ok", fps))

    def _camera_health(self, got_frame: bool) -> None:
        """The camera's status as the outputs see it: the source's own word, or "stalled" for a driver that
        blocks instead of failing."""
        status = getattr(self.source, "status", "ok")
        now = time.monotonic()
        if got_frame:
            self.last_frame_at = now
        elif status == "ok" and now - self.last_frame_at > STALL_S:
            status = f"stalled: no frame for {now - self.last_frame_at:.0f} s"
        self.stats.camera_status = "ok" if got_frame else status
        self.stats.camera_reconnects = getattr(self.source, "reconnects", 0)

    def close(self) -> None:
        self.notifier.stopping()
        self.capture.stop()
        for out in self.outs:
            out.close()
        self.preview.close()
        close_pipeline(self.pipeline)

    def summary(self, board: str) -> dict:
        stats, elapsed = self.stats, time.monotonic() - self.started
        return {"frames": stats.frames, "faces": stats.faces, "people": dict(stats.people),
                "alerts": dict(stats.alerts), "seconds": round(elapsed, 2),
                "fps": round(stats.frames / elapsed, 2) if elapsed else 0.0,
                "latency_ms": {k: round(v, 3) for k, v in stats.latency_quantiles().items()},
                "dropped_frames": self.capture.dropped, "camera_reconnects": stats.camera_reconnects,
                "detector": self.pipeline.detector.name, "model": self.pipeline.classifier.format,
                "platform": board}
