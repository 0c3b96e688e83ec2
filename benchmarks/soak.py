"""Soak: the kiosk loop on a looped clip for minutes, with a source that drops every N frames.

Why: a kiosk runs for weeks; a leak of a few kB per frame or a camera drop that kills the loop
only shows after thousands of frames. Memory is sampled from /proc (RSS) after a warm-up, and
growth is the difference between the median of the first and of the last few samples.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from edge.kiosk.app import run_kiosk
from edge.kiosk.config import KioskConfig
from edge.outputs.base import KioskStats
from edge.sources import SAMPLE_CLIP, LoopSource, ReconnectingSource


def open_fds() -> int | None:
    try:
        return len(list(Path("/proc/self/fd").iterdir()))
    except OSError:
        return None


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class DroppingSource:
    """Fault injection: every `drop_every` frames the read fails, like an unplugged USB camera."""

    def __init__(self, inner, drop_every: int = 500) -> None:
        self.inner, self.drop_every, self.name = inner, drop_every, f"dropping:{inner.name}"
        self.reads = 0
        self.drops = 0

    def open(self) -> None:
        self.inner.open()

    def read(self):
        self.reads += 1
        if self.drop_every and self.reads % self.drop_every == 0:
            self.drops += 1
            return None
        return self.inner.read()

    def close(self) -> None:
        self.inner.close()


def run_soak(seconds: float = 600, drop_every: int = 500, clip: Path = SAMPLE_CLIP, warmup_s: float = 30,
             sample_every_s: float = 5, config: KioskConfig | None = None, realtime: bool = True) -> dict:
    """`realtime`: the clip at its own frame rate, like a camera; False: as fast as the loop goes."""
    cfg = config or KioskConfig()
    with tempfile.TemporaryDirectory() as tmp:
        outputs = cfg.outputs.model_copy(update={
            "jsonl": cfg.outputs.jsonl.model_copy(update={"enabled": False}),
            "sqlite": cfg.outputs.sqlite.model_copy(update={"path": str(Path(tmp) / "events.db")}),
            "http": cfg.outputs.http.model_copy(update={"enabled": True, "port": 0}),
        })
        # Real time, like a camera: the tracker sees consecutive frames, the drop cadence is a camera's.
        cfg = cfg.model_copy(update={"outputs": outputs, "realtime": realtime,
                                     "display": cfg.display.model_copy(update={"mode": "headless"})})
        dropping = DroppingSource(LoopSource(str(clip), realtime=realtime), drop_every)
        source = ReconnectingSource(dropping, first_backoff=0.2, max_backoff=1.0)
        samples: list[tuple[float, float, int | None, int]] = []  # (t, RSS MB, open fds, frames so far)
        done = threading.Event()
        started = time.monotonic()

        stats = KioskStats()

        def sample() -> None:
            while not done.wait(sample_every_s):
                samples.append((time.monotonic() - started, rss_mb(), open_fds(), stats.frames))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        summary = run_kiosk(cfg, duration_s=seconds, source=source, stats=stats)
        done.set()
        sampler.join()
    warm = [row for row in samples if row[0] >= min(warmup_s, seconds / 3)]
    after = [row[1] for row in warm]
    k = max(1, min(3, len(after) // 3))
    growth = float(np.median(after[-k:]) - np.median(after[:k])) if len(after) >= 2 else None
    fps_first = fps_last = None
    if len(warm) >= 4:
        q = max(1, len(warm) // 4)
        fps_first = (warm[q][3] - warm[0][3]) / max(warm[q][0] - warm[0][0], 1e-9)
        fps_last = (warm[-1][3] - warm[-1 - q][3]) / max(warm[-1][0] - warm[-1 - q][0], 1e-9)
    return {"seconds": round(seconds, 1), "frames": summary["frames"], "fps": summary["fps"],
            "fps_first_quarter": None if fps_first is None else round(fps_first, 2),
            "fps_last_quarter": None if fps_last is None else round(fps_last, 2),
            "fds_first": warm[0][2] if warm else None, "fds_last": warm[-1][2] if warm else None,
            "drops_injected": dropping.drops, "camera_reconnects": source.reconnects,
            "rss_mb_first": round(after[0], 2) if after else None,
            "rss_mb_last": round(after[-1], 2) if after else None,
            "rss_growth_mb": None if growth is None else round(growth, 2), "rss_samples": len(samples),
            "people": summary["people"], "detector": summary["detector"], "model": summary["model"],
            "survived": summary["frames"] > 0 and source.reconnects >= max(dropping.drops - 1, 0)}
