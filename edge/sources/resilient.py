"""Keeping a kiosk's camera alive: reopen with back-off, and a capture thread that keeps only the newest frame."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from edge.errors import EdgeSightError
from edge.sources.base import FrameSource

log = logging.getLogger(__name__)


class ReconnectingSource:
    """Wraps a live source: a failed open or read closes it and retries after 0.5, 1, 2 ... max_backoff s.

    `status` is "ok" or "unavailable: <why>", so the screen can say "camera unavailable" instead of dying.
    A finite source (a file) should not be wrapped: its end would look like a drop.
    """

    def __init__(self, source: FrameSource, max_backoff: float = 8.0, first_backoff: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.source, self.name = source, source.name
        self.max_backoff, self.first_backoff, self._sleep = max_backoff, first_backoff, sleep
        self._backoff = first_backoff
        self._open = False
        self.status = "closed"
        self.reconnects = 0

    def open(self) -> None:
        self._try_open()

    def _try_open(self) -> bool:
        try:
            self.source.open()
        except EdgeSightError as exc:
            self._unavailable(str(exc))
            return False
        self._open, self.status, self._backoff = True, "ok", self.first_backoff
        return True

    def _unavailable(self, why: str) -> None:
        self.status = f"unavailable: {why}"
        where = "" if why.startswith(self.name) else f"{self.name}: "
        log.warning("%s%s; retrying in %.1f s", where, why, self._backoff)
        self._sleep(self._backoff)
        self._backoff = min(self._backoff * 2, self.max_backoff)

    def read(self) -> np.ndarray | None:
        if not self._open:
            if not self._try_open():
                return None
            self.reconnects += 1
        try:
            frame = self.source.read()
        except Exception as exc:  # noqa: BLE001 - any driver failure is a drop, never a crash of the kiosk
            frame, why = None, f"{type(exc).__name__}: {exc}"
        else:
            why = "no frame (dropped or unplugged)"
        if frame is None:
            self.source.close()
            self._open = False
            self._unavailable(why)
        return frame

    def close(self) -> None:
        self.source.close()
        self._open = False
        self.status = "closed"


class LatestFrame:
    """Capture in its own thread; only the newest frame is kept, so a slow consumer never builds a queue."""

    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self._lock = threading.Condition()
        self._frame: np.ndarray | None = None
        self._seq = 0
        self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture-{source.name}", daemon=True)
        self.finished = False

    def start(self, open_source: bool = True) -> LatestFrame:
        """Start capturing; `open_source=False` when the caller already opened it."""
        if open_source:
            self.source.open()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            frame = self.source.read()
            if frame is None and not isinstance(self.source, ReconnectingSource):
                break  # a finite source ended
            with self._lock:
                if frame is not None:
                    if self._frame is not None:
                        self.dropped += 1
                    self._frame, self._seq = frame, self._seq + 1
                self._lock.notify_all()
        with self._lock:
            self.finished = True
            self._lock.notify_all()

    def get(self, timeout: float = 1.0) -> tuple[int, np.ndarray] | None:
        """(sequence number, frame) of the newest unseen frame; None on timeout or when the source ended."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._frame is None and not self.finished:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._lock.wait(remaining):
                    return None
            if self._frame is None:
                return None
            frame, self._frame = self._frame, None
            return self._seq, frame

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.source.close()
