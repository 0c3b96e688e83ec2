"""The kiosk loop: newest camera frame -> mask pipeline -> outputs and screen, until stopped.

It must run for weeks: the capture thread keeps only the newest frame, a dropped camera is
reopened with back-off while the screen says so, and SIGTERM (systemd stop) ends the loop cleanly
so the event log is closed and the LEDs are switched off.
"""

from __future__ import annotations

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
    labels = pipeline.classifier.labels
    monitor = SustainedMonitor(cfg.monitor.threshold, cfg.monitor.sustain_s) if cfg.monitor.enabled else None
    given = source is not None  # a caller's source is opened by the capture thread's start
    source = source or resolve_source(cfg.source, cfg.realtime)
    outs = outputs if outputs is not None else build_outputs(cfg.outputs, stats)
    info = detect_platform()
    preview = open_preview(cfg.display.mode, cfg.display.fullscreen, info.has_display)
    capture = LatestFrame(source)
    capture.start(open_source=given)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    started, result = time.monotonic(), None
    last_frame_at = started
    notifier = SystemdNotifier()
    notifier.ready(f"kiosk: {pipeline.detector.name} + {cfg.bundle}")
    try:
        while not stop.is_set():
            notifier.tick(f"{stats.frames} frames, camera {stats.camera_status}")
            if max_frames is not None and stats.frames >= max_frames:
                break
            if duration_s is not None and time.monotonic() - started >= duration_s:
                break
            got = capture.get(timeout=0.5)
            status = getattr(source, "status", "ok")
            if got is not None:
                last_frame_at = time.monotonic()
            elif status == "ok" and time.monotonic() - last_frame_at > STALL_S:  # a driver that blocks, not fails
                status = f"stalled: no frame for {time.monotonic() - last_frame_at:.0f} s"
            stats.camera_status = status if got is None else "ok"
            stats.camera_reconnects = getattr(source, "reconnects", 0)
            if got is None:
                if capture.finished:
                    break
                if not preview.show(draw(None, None, stats.camera_status)):
                    break
                continue
            _, frame = got
            result = pipeline.process(frame)
            if monitor is not None:
                alerts = face_alerts(monitor, result.faces, labels, cfg.monitor.label, time.monotonic())
                result = dataclasses.replace(result, alerts=alerts)
            stats.record(result)
            for out in outs:
                out.handle(result, frame)
            stats.log_status = next((o.status for o in outs if getattr(o, "status", "ok") != "ok"), "ok")
            fps = stats.fps() if cfg.display.show_fps else None
            if not preview.show(draw(frame, result, "ok", fps)):
                break
    finally:
        notifier.stopping()
        capture.stop()
        for out in outs:
            out.close()
        preview.close()
        close_pipeline(pipeline)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    elapsed = time.monotonic() - started
    return {"frames": stats.frames, "faces": stats.faces, "people": dict(stats.people), "alerts": dict(stats.alerts),
            "seconds": round(elapsed, 2), "fps": round(stats.frames / elapsed, 2) if elapsed else 0.0,
            "latency_ms": {k: round(v, 3) for k, v in stats.latency_quantiles().items()},
            "dropped_frames": capture.dropped, "camera_reconnects": stats.camera_reconnects,
            "detector": pipeline.detector.name, "model": pipeline.classifier.format,
            "platform": info.board}
