"""The SQLite event log: one row per person counted, one per monitor alert. No face pixels unless asked for."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import cv2
import numpy as np

from edge.crops import face_crop
from edge.mask_pipeline import FrameResult

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
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,            -- unix seconds when the score had been sustained long enough
    track_id INTEGER NOT NULL,
    label TEXT NOT NULL,           -- the watched label, e.g. pain
    score REAL NOT NULL,           -- smoothed score at the alert
    threshold REAL NOT NULL,
    duration_s REAL NOT NULL,      -- how long it had stayed above threshold
    box TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(time);
"""
INSERT = {
    "events": "INSERT INTO events (time, track_id, verdict, confidence, box, face_jpeg) VALUES (?, ?, ?, ?, ?, ?)",
    "alerts": "INSERT INTO alerts (time, track_id, label, score, threshold, duration_s, box) "
              "VALUES (?, ?, ?, ?, ?, ?, ?)",
}


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
        self.pending: list[tuple[str, tuple]] = []  # (table, row) not yet written
        self.dropped = 0

    def handle(self, result: FrameResult, frame: np.ndarray) -> None:
        rows = []
        now = time.time()
        for face in result.faces:
            if not face.first_settled:
                continue
            jpeg = None
            if self.save_faces:
                ok, buf = cv2.imencode(".jpg", face_crop(frame, face.box, 0.1))
                jpeg = buf.tobytes() if ok else None
            rows.append(("events", (now, face.track_id, face.smoothed_label, face.smoothed_score,
                                    ",".join(map(str, face.box.as_list())), jpeg)))
        for a in result.alerts:
            rows.append(("alerts", (now, a["track_id"], a["label"], a["score"], a["threshold"], a["duration_s"],
                                    ",".join(map(str, a["box"])))))
        if not rows and not self.pending:
            return
        batch = self.pending + rows
        try:  # one transaction: a failure writes none of the batch, so a retry never duplicates rows
            self._db.execute("BEGIN")
            for table, sql in INSERT.items():
                self._db.executemany(sql, [row for t, row in batch if t == table])
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            self.status = f"degraded: {exc}"
            self.pending = batch[-MAX_PENDING:]  # keep the newest; a full disk must not fill memory instead
            self.dropped += len(batch) - len(self.pending)
            return
        self.pending, self.status = [], "ok"

    def _rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the next BEGIN reports it, and the log stays degraded

    def counts(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT verdict, COUNT(*) FROM events GROUP BY verdict").fetchall())

    def alert_counts(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT label, COUNT(*) FROM alerts GROUP BY label").fetchall())

    def close(self) -> None:
        self._db.close()


def _read_only(path: str | Path) -> sqlite3.Connection | None:
    """A read-only connection (WAL: a reader never blocks the kiosk's writes); None while there is no log yet."""
    p = Path(path).expanduser()
    if not p.is_file():
        return None
    return sqlite3.connect(p.resolve().as_uri() + "?mode=ro", uri=True, timeout=1.0)


def read_recent(path: str | Path, limit: int = 20) -> list[dict]:
    """The newest people and alerts, newest first, for the live page."""
    db = _read_only(path)
    if db is None:
        return []
    try:
        rows = db.execute(
            "SELECT time, 'person', track_id, verdict, confidence FROM events UNION ALL "
            "SELECT time, 'alert', track_id, label, score FROM alerts ORDER BY time DESC LIMIT ?", (limit,)).fetchall()
    finally:
        db.close()
    return [{"time": t, "type": kind, "track_id": track, "label": label, "score": round(score, 4)}
            for t, kind, track, label, score in rows]


def read_counts_since(path: str | Path, since: float) -> dict[str, dict[str, int]]:
    """People by verdict and alerts by label since `since` (unix seconds), e.g. local midnight."""
    db = _read_only(path)
    if db is None:
        return {"people": {}, "alerts": {}}
    try:
        people = db.execute("SELECT verdict, COUNT(*) FROM events WHERE time >= ? GROUP BY verdict", (since,))
        people = dict(people.fetchall())
        alerts = dict(db.execute("SELECT label, COUNT(*) FROM alerts WHERE time >= ? GROUP BY label",
                                 (since,)).fetchall())
    finally:
        db.close()
    return {"people": people, "alerts": alerts}
