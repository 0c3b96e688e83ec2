"""The SQLite event log: one row per person counted. No face pixels unless the config asks for them."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import cv2
import numpy as np

from edge.mask_pipeline import FrameResult, face_crop

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,            -- unix seconds
    track_id INTEGER NOT NULL,
    verdict TEXT NOT NULL,         -- WithMask | WithoutMask
    confidence REAL NOT NULL,      -- smoothed over the track's last frames
    box TEXT NOT NULL,             -- x,y,w,h in the frame
    face_jpeg BLOB                 -- only with save_faces: true
);
CREATE INDEX IF NOT EXISTS events_time ON events(time);
"""


MAX_PENDING = 1000


class SQLiteEventLog:
    """Writes that fail (disk full, read-only card, locked file) mark the log `degraded` and are retried with the
    next rows; the kiosk keeps running and /healthz says so."""

    name = "sqlite"

    def __init__(self, path: str | Path, save_faces: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # WAL: a reader (a dashboard, sqlite3 CLI) never blocks the kiosk's writes.
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self.save_faces = save_faces
        self.status = "ok"
        self.pending: list[tuple] = []
        self.dropped = 0

    def handle(self, result: FrameResult, frame: np.ndarray) -> None:
        rows = []
        for face in result.faces:
            if not face.first_settled:
                continue
            jpeg = None
            if self.save_faces:
                ok, buf = cv2.imencode(".jpg", face_crop(frame, face.box, 0.1))
                jpeg = buf.tobytes() if ok else None
            rows.append((time.time(), face.track_id, face.smoothed_label, face.smoothed_score,
                         ",".join(map(str, face.box.as_list())), jpeg))
        if not rows and not self.pending:
            return
        batch = self.pending + rows
        try:
            self._db.executemany("INSERT INTO events (time, track_id, verdict, confidence, box, face_jpeg) "
                                 "VALUES (?, ?, ?, ?, ?, ?)", batch)
        except sqlite3.Error as exc:
            self.status = f"degraded: {exc}"
            self.pending = batch[-MAX_PENDING:]  # keep the newest; a full disk must not fill memory instead
            self.dropped += len(batch) - len(self.pending)
            return
        self.pending, self.status = [], "ok"

    def counts(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT verdict, COUNT(*) FROM events GROUP BY verdict").fetchall())

    def close(self) -> None:
        self._db.close()
