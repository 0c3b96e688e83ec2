"""The MQTT outbox: every event is a row in SQLite before anything is sent, and is marked sent on the broker's
PUBACK. A broker that is away for an hour, or a kiosk restarted in between, loses nothing: the publisher
sends the unsent rows in their order when it can. Each event carries an id (a consumer de-duplicates QoS 1
redelivery by it) and `seq`, its place in this kiosk's order.

Written by the frame loop (add) and the publisher thread (pending, mark_sent) through one connection and a
lock. synchronous=FULL: an event the kiosk has counted survives a power cut too.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order events happened and are sent in
    id TEXT NOT NULL UNIQUE,                -- the event id consumers de-duplicate by
    time REAL NOT NULL,                     -- unix seconds the event happened
    type TEXT NOT NULL,                     -- person | alert | state
    payload TEXT NOT NULL,                  -- the JSON message, without seq
    sent_at REAL                            -- unix seconds of the broker's PUBACK; NULL until then
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox(seq) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_sent_at ON outbox(sent_at);
"""
MAX_IN_MEMORY = 1000  # events kept in memory while the outbox itself cannot be written


def with_seq(seq: int, payload: str) -> str:
    """The message as sent: `seq` first, then the stored JSON object's fields."""
    return f'{{"seq": {seq}, {payload[1:]}' if payload != "{}" else f'{{"seq": {seq}}}'


class Outbox:
    def __init__(self, path: str | Path, max_backlog: int = 100_000, keep_sent_days: float = 7.0) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=5)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self.max_backlog, self.keep_sent_s = max_backlog, keep_sent_days * 86400
        self.status = "ok"
        self.unwritten: list[tuple] = []  # rows waiting for the outbox to accept writes again
        self.dropped = 0

    def add(self, kind: str, event: dict, now: float | None = None) -> str:
        """Store one event; returns its id. A failing write keeps it in memory and retries with the next."""
        now = time.time() if now is None else now
        event_id = uuid.uuid4().hex
        payload = json.dumps({"id": event_id, "type": kind, "time": round(now, 3), **event})
        with self._lock:
            batch = self.unwritten + [(event_id, now, kind, payload)]
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT INTO outbox (id, time, type, payload) VALUES (?, ?, ?, ?)", batch)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                self.status = f"degraded: {exc}"
                self.unwritten = batch[-MAX_IN_MEMORY:]
                self.dropped += len(batch) - len(self.unwritten)
                return event_id
            self.unwritten, self.status = [], "ok"
        return event_id

    def pending(self, after: int = 0, limit: int = 20) -> list[tuple[int, str]]:
        """Unsent (seq, message) after `after`, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT seq, payload FROM outbox WHERE sent_at IS NULL AND seq > ? ORDER BY seq "
                                    "LIMIT ?", (after, limit)).fetchall()
        return [(seq, with_seq(seq, payload)) for seq, payload in rows]

    def mark_sent(self, seqs: list[int], now: float | None = None) -> None:
        if not seqs:
            return
        now = time.time() if now is None else now
        with self._lock:
            try:
                self._db.executemany("UPDATE outbox SET sent_at = ? WHERE seq = ?", [(now, s) for s in seqs])
            except sqlite3.Error as exc:  # a read-only card: resent later, and consumers drop the duplicate
                log.warning("mqtt outbox: cannot mark %d events sent: %s", len(seqs), exc)

    def backlog(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0] + \
                len(self.unwritten)

    def prune(self, now: float | None = None) -> int:
        """Forget sent events older than keep_sent_days; past max_backlog, the oldest unsent (counted in
        `dropped`, so a full card shows on /metrics instead of filling up). Returns the unsent dropped now."""
        now = time.time() if now is None else now
        with self._lock:
            try:
                self._db.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?",
                                 (now - self.keep_sent_s,))
                unsent = self._db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]
                excess = max(0, unsent - self.max_backlog)
                if excess:
                    self._db.execute("DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE sent_at IS NULL "
                                     "ORDER BY seq LIMIT ?)", (excess,))
                    self.dropped += excess
                    log.warning("mqtt outbox: %d unsent events over max_backlog dropped", excess)
            except sqlite3.Error as exc:
                log.warning("mqtt outbox: prune failed: %s", exc)
                return 0
        return excess

    def rows(self) -> list[tuple[int, str, str, float | None]]:
        """(seq, id, type, sent_at) of every stored event, in order: what a test or an operator compares against."""
        with self._lock:
            return self._db.execute("SELECT seq, id, type, sent_at FROM outbox ORDER BY seq").fetchall()

    def _rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def close(self) -> None:
        with self._lock:
            self._db.close()
