"""The live view, kiosk side: the newest frame in, JPEGs out to the viewers, only while somebody watches.

The frame loop's whole cost is `handle`, one attribute store: it never takes a lock, never waits. A feeder
thread of ordinary priority, asleep while nobody watches, takes the newest frame at most `fps` times a
second, ships it over a pipe to the encoder process (edge.outputs.live_worker: privacy, the kiosk's own
overlays, JPEG, at nice 19 with a GIL and an OpenCV pool of its own) and hands the JPEG it gets back to
the viewers; while the camera is down it asks for the "camera unavailable" card once a second instead.
The worker starts with the first viewer, stops a minute after the last one left, and is started again if
it dies (backing off 2, 4 ... 60 s).
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from edge.mask_pipeline import FrameResult
from edge.outputs.base import KioskStats
from edge.outputs.live_worker import PRIVACY, RenderSettings, blur_faces, dim_frame, render

log = logging.getLogger(__name__)
CARD_EVERY_S = 1.0  # while the camera is down, the "camera unavailable" card is refreshed this often
IDLE_STOP_S = 60.0  # the encoder process (about 30 MB of its own) stops this long after the last viewer left
FIRST_JOB_S, JOB_S = 60.0, 10.0  # a worker that has not answered by then is taken for dead (the first job
# includes the worker's start-up: importing OpenCV on a Pi Zero takes seconds)
__all__ = ["LiveView", "blur_faces", "dim_frame"]


class LiveView:
    name = "live"

    def __init__(self, stats: KioskStats, fps: float = 10.0, quality: int = 75, width: int = 640,
                 privacy: str = "dim", stream_faces: bool = False) -> None:
        if privacy not in PRIVACY:
            raise ValueError(f"live.privacy: {privacy!r} is not one of {', '.join(PRIVACY)}")
        self.stats, self.period = stats, 1.0 / fps
        self.settings = RenderSettings(quality, width, privacy, stream_faces)
        self.privacy, self.stream_faces = privacy, stream_faces
        self._latest: tuple[np.ndarray, FrameResult] | None = None
        self._cond = threading.Condition()  # viewers and the feeder only; never the frame loop
        self._jpeg: tuple[int, float, bytes] | None = None  # (sequence, time made, bytes)
        self._viewers = 0
        self._closed = False
        self.encoded = 0  # JPEGs made: stays 0 while nobody watches
        self.busy_s = 0.0  # the worker's time making them (privacy, overlays, encode)
        self.restarts = 0
        self._proc = self._conn = self._answers = None
        self._thread = threading.Thread(target=self._feed, name="kiosk-live", daemon=True)
        self._thread.start()

    # --- the frame loop's side ------------------------------------------------------------------------------
    def handle(self, result: FrameResult, frame: np.ndarray) -> None:
        self._latest = (frame, result)  # one store (atomic); frames are never written to after capture

    # --- the viewers' side ------------------------------------------------------------------------------------
    @property
    def viewers(self) -> int:
        return self._viewers

    @contextmanager
    def watch(self) -> Iterator[None]:
        with self._cond:
            self._viewers += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._viewers -= 1

    def next_jpeg(self, after: int, timeout: float = 5.0) -> tuple[int, bytes] | None:
        """The first JPEG newer than sequence `after` (call inside `watch()`); None on timeout or close."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._closed and (self._jpeg is None or self._jpeg[0] <= after):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return None if self._closed else (self._jpeg[0], self._jpeg[2])

    def stream(self, timeout: float = 5.0) -> Iterator[bytes]:
        """JPEGs as they are made, newest only (a slow viewer skips frames, it never queues them)."""
        seq = 0
        with self.watch():
            while True:
                got = self.next_jpeg(seq, timeout)
                if got is None:
                    return
                seq, jpeg = got
                yield jpeg

    def snapshot(self, timeout: float = 5.0) -> bytes | None:
        """A JPEG no older than one stream period (making one if needed)."""
        with self._cond:
            if self._jpeg is not None and time.monotonic() - self._jpeg[1] <= self.period:
                return self._jpeg[2]
            seq = self._jpeg[0] if self._jpeg else 0
        with self.watch():
            got = self.next_jpeg(seq, timeout if self.encoded else FIRST_JOB_S)
        return got[1] if got else None

    def render(self, frame: np.ndarray | None, result: FrameResult | None) -> np.ndarray:
        """What the worker would make of this frame, here in this process (tests, debugging)."""
        return render(frame, result, self.stats.camera_status, self.stats.fps(), self.settings)

    # --- the feeder thread --------------------------------------------------------------------------------
    def _feed(self) -> None:
        sent, card_at, next_due, failures = None, 0.0, 0.0, 0
        while True:
            with self._cond:
                watched = self._cond.wait_for(lambda: self._closed or self._viewers > 0, timeout=IDLE_STOP_S)
                if self._closed:
                    break
            if not watched:
                self._stop_worker()  # nobody for a minute: give the encoder's memory back
                continue
            delay = next_due - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # the rate cap: at most `fps` JPEGs a second, whatever the viewers do
            latest, camera = self._latest, self.stats.camera_status
            if camera == "ok" and (latest is None or latest is sent):
                time.sleep(min(self.period, 0.02))  # no new frame yet
                continue
            if camera != "ok" and time.monotonic() - card_at < CARD_EVERY_S:
                time.sleep(0.05)
                continue
            try:
                ms, jpeg = self._job(latest if camera == "ok" else None, camera)
            except (EOFError, OSError, TimeoutError) as exc:
                self.restarts += 1
                wait = min(2.0 ** (failures := failures + 1), 60.0)
                log.warning("live view: encoder process failed (%s); starting another in %.0f s", exc, wait)
                self._stop_worker()
                time.sleep(wait)
                continue
            failures = 0
            now = time.monotonic()
            next_due, sent = now + self.period, latest
            if camera != "ok":
                card_at = now
            if not jpeg:
                continue  # OpenCV could not encode this one
            with self._cond:
                self.encoded += 1
                self.busy_s += ms / 1000
                self._jpeg = ((self._jpeg[0] if self._jpeg else 0) + 1, now, jpeg)
                self._cond.notify_all()
        self._stop_worker()

    def _job(self, latest: tuple[np.ndarray, FrameResult] | None, camera: str) -> tuple[float, bytes]:
        first = self._proc is None
        if first:
            self._start_worker()
        if latest is None:
            self._conn.send((None, None, camera, None))
        else:
            frame = np.ascontiguousarray(latest[0])
            self._conn.send((frame.shape, latest[1], camera, self.stats.fps()))
            self._conn.send_bytes(frame.reshape(-1))  # flat bytes through the pipe: no shared memory to clean up
        if not self._answers.poll(FIRST_JOB_S if first else JOB_S):
            raise TimeoutError("no answer")
        return self._answers.recv()

    def _start_worker(self) -> None:
        """A plain child process on the pipes (no fork of a process running TFLite threads, and unlike
        multiprocessing's spawn it never imports the kiosk's __main__ again)."""
        import dataclasses
        import json
        import sys
        from multiprocessing.connection import Connection

        jobs_r, jobs_w = os.pipe()
        answers_r, answers_w = os.pipe()
        root = str(Path(__file__).resolve().parents[2])  # where `edge` was imported from, for the child too
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "edge.outputs.live_worker", str(jobs_r), str(answers_w),
                 json.dumps(dataclasses.asdict(self.settings))], pass_fds=(jobs_r, answers_w), env=env,
                stdin=subprocess.DEVNULL)
        finally:
            os.close(jobs_r)
            os.close(answers_w)
        self._conn = Connection(jobs_w, readable=False)
        self._answers = Connection(answers_r, writable=False)

    def _stop_worker(self) -> None:
        if self._proc is None:
            return
        try:
            self._conn.send(None)
        except OSError:
            pass
        try:
            self._proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._conn.close()
        self._answers.close()
        self._proc = self._conn = self._answers = None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=10)
