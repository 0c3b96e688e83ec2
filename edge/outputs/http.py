"""A local HTTP endpoint: /healthz for a watchdog, /metrics in Prometheus text format. Localhost by default."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from edge.mask_pipeline import FrameResult
from edge.outputs.base import KioskStats

log = logging.getLogger(__name__)


def health(stats: KioskStats, stale_s: float = 5.0) -> tuple[int, dict]:
    """503 when the camera is down or no frame was processed for `stale_s` seconds."""
    age = None if stats.last_frame_time is None else time.time() - stats.last_frame_time
    ok = stats.camera_status == "ok" and age is not None and age < stale_s
    status = ("ok" if stats.log_status == "ok" else "degraded") if ok else "unhealthy"
    body = {"status": status, "camera": stats.camera_status, "event_log": stats.log_status,
            "last_frame_age_s": None if age is None else round(age, 3), "frames": stats.frames,
            "uptime_s": round(time.time() - stats.started, 1)}
    return (200 if ok else 503), body


def metrics_text(stats: KioskStats) -> str:
    lines = [
        "# HELP edgesight_frames_total Frames processed.", "# TYPE edgesight_frames_total counter",
        f"edgesight_frames_total {stats.frames}",
        "# HELP edgesight_faces_total Faces classified (per frame).", "# TYPE edgesight_faces_total counter",
        f"edgesight_faces_total {stats.faces}",
        "# HELP edgesight_people_total People counted once per track, by smoothed verdict.",
        "# TYPE edgesight_people_total counter",
        *[f'edgesight_people_total{{verdict="{k}"}} {v}' for k, v in stats.people.items()],
        "# HELP edgesight_alerts_total Monitor alerts (a score sustained above threshold), by label.",
        "# TYPE edgesight_alerts_total counter",
        *[f'edgesight_alerts_total{{label="{k}"}} {v}' for k, v in stats.alerts.items()],
        "# HELP edgesight_fps Frames per second over the last 120 frames.", "# TYPE edgesight_fps gauge",
        f"edgesight_fps {stats.fps():.3f}",
        "# HELP edgesight_frame_latency_ms Detect+classify time per frame (last 300 frames).",
        "# TYPE edgesight_frame_latency_ms summary",
        *[f'edgesight_frame_latency_ms{{quantile="{q}"}} {v:.3f}' for q, v in stats.latency_quantiles().items()],
        "# HELP edgesight_camera_up 1 while the camera delivers frames.", "# TYPE edgesight_camera_up gauge",
        f"edgesight_camera_up {int(stats.camera_status == 'ok')}",
        "# HELP edgesight_camera_reconnects_total Camera reopen attempts that succeeded.",
        "# TYPE edgesight_camera_reconnects_total counter",
        f"edgesight_camera_reconnects_total {stats.camera_reconnects}",
        "# HELP edgesight_event_log_up 1 while event-log writes succeed.", "# TYPE edgesight_event_log_up gauge",
        f"edgesight_event_log_up {int(stats.log_status == 'ok')}",
    ]
    return "\n".join(lines) + "\n"


class HttpOutput:
    name = "http"

    def __init__(self, stats: KioskStats, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.stats = stats

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path == "/healthz":
                    code, body = health(stats)
                    self._send(code, "application/json", json.dumps(body) + "\n")
                elif self.path == "/metrics":
                    self._send(200, "text/plain; version=0.0.4", metrics_text(stats))
                else:
                    self._send(404, "text/plain", "not found: try /healthz or /metrics\n")

            def _send(self, code: int, ctype: str, text: str) -> None:
                data = text.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, fmt: str, *args: object) -> None:
                log.debug("http: " + fmt, *args)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self.address = self._server.server_address
        self._thread = threading.Thread(target=self._server.serve_forever, name="kiosk-http", daemon=True)
        self._thread.start()

    def handle(self, result: FrameResult, frame: np.ndarray) -> None:
        pass  # reads the shared KioskStats

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
