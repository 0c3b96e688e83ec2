"""The live page's content: the files it is made of (served from the package, no CDN) and its JSON APIs."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

from edge.outputs.base import KioskStats
from edge.outputs.eventlog import read_counts_since, read_recent
from edge.outputs.live import LiveView
from edge.outputs.metrics import health

ASSETS_DIR = Path(__file__).parent / "web"
ASSET_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


def load_assets(root: Path = ASSETS_DIR) -> dict[str, tuple[str, bytes]]:
    """URL path -> (content type, bytes), read once at start-up: a request never names a file on disk, so there
    is no path to traverse."""
    assets = {}
    for p in sorted(root.iterdir()):
        if p.is_file() and p.suffix in ASSET_TYPES:
            assets["/" if p.name == "index.html" else f"/static/{p.name}"] = (ASSET_TYPES[p.suffix], p.read_bytes())
    return assets


@dataclass
class LiveSite:
    live: LiveView
    events_db: Path | None = None  # the SQLite event log, read-only: today's counts and the latest events
    page_events: int = 20
    max_viewers: int = 4
    assets: dict[str, tuple[str, bytes]] = field(default_factory=load_assets)

    def status(self, stats: KioskStats) -> dict:
        _, h = health(stats)
        age = h["last_frame_age_s"]
        camera_ok = stats.camera_status == "ok"
        detector = "running" if age is not None and age < 5 else ("waiting for the camera" if not camera_ok
                                                                   else "stalled")
        today = read_counts_since(self.events_db, local_midnight()) if self.events_db else None
        with stats.lock:
            people, alerts = dict(stats.people), dict(stats.alerts)
        return {"health": h, "pipeline": stats.pipeline, "fps": round(stats.fps(), 2),
                "stages_ms": {k: round(v, 2) for k, v in stats.stage_medians().items()},
                "latency_ms": {k: round(v, 2) for k, v in stats.latency_quantiles().items()},
                "camera": stats.camera_status, "detector": detector, "event_log": stats.log_status,
                "since_start": {"people": people, "alerts": alerts}, "today": today,
                "mqtt": None if stats.mqtt_connected is None else {
                    "connected": stats.mqtt_connected, "backlog": stats.mqtt_backlog, "sent": stats.mqtt_sent},
                "stream": {"viewers": self.live.viewers, "max_fps": round(1 / self.live.period, 1),
                           "faces": "shown" if self.live.stream_faces else self.live.privacy},
                "time": round(time.time(), 3)}

    def events(self) -> list[dict]:
        return read_recent(self.events_db, self.page_events) if self.events_db else []


def local_midnight(now: float | None = None) -> float:
    t = dt.datetime.fromtimestamp(time.time() if now is None else now)
    return t.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
