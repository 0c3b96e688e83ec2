"""Interleaved rounds: every configuration's worker processes kept alive and asked for timed batches in turn.

Each configuration gets `replicas` worker processes (three by default) that take its rounds in turn. For
the interval, its rounds are handed to benchmarks.stats replica by replica (each replica's in time order),
so the batches whose medians widen the interval are each one process's: one process's luck (memory layout,
the core it landed on, a neighbour's burst while it ran) then widens the interval, instead of passing for
a difference between configurations or between two edge-bench runs.
"""

from __future__ import annotations

import gc
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.configs import BenchConfig
from benchmarks.settings import Settings
from benchmarks.stats import stop_reason, summarize


class Worker:
    """One configuration's live worker process, spoken to in JSON lines (benchmarks.worker)."""

    def __init__(self, cfg: BenchConfig, settings: Settings) -> None:
        self.cfg, self.settings = cfg, settings
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.worker", json.dumps(cfg.to_dict()),
                                      json.dumps(settings.to_dict())], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_worker_env())
        self._stderr: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self._stderr = (self._stderr + [line.rstrip()])[-20:]

    def ask(self, request: dict | None) -> dict:
        """Send one request (None: only read) and wait for its one-line answer."""
        try:
            if request is not None:
                self.proc.stdin.write(json.dumps(request) + "\n")
                self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], self.settings.timeout_s)
            line = self.proc.stdout.readline() if ready else None
        except (BrokenPipeError, OSError):
            line = ""
        if line is None:
            self.close()
            return {"status": "failed", "reason": f"timed out after {self.settings.timeout_s:.0f} s"}
        if not line:
            code = self.proc.wait(timeout=30)
            tail = next((x for x in reversed(self._stderr) if x.strip()), f"exit code {code}")
            return {"status": "failed", "reason": f"worker exited {code}: {tail[:200]}"}
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Slot:
    """One configuration in the rounds: its replica workers and everything they timed."""

    def __init__(self, cfg: BenchConfig, settings: Settings, meter=None) -> None:
        self.cfg, self.settings, self.meter = cfg, settings, meter
        self.joules = 0.0
        self.workers: list[Worker] = []
        self.ms: list[float] = []
        self.rounds: list[list[float]] = []  # in time order
        self.by_replica: list[list[list[float]]] = []  # the same rounds, per replica
        self.elapsed_s = 0.0
        self.windows: list[tuple[float, float]] = []  # wall-clock spans of its timed batches

    def start(self) -> dict | None:
        """Load every replica (one at a time: load times are their own); the failure row, else None."""
        for _ in range(max(1, self.settings.replicas)):
            worker = Worker(self.cfg, self.settings)
            hello = worker.ask(None)
            self.workers.append(worker)
            if not hello.get("ready"):
                self.close()
                return hello
            if len(self.workers) == 1:
                self.load_ms = hello.get("load_ms")
        return None

    def timed_round(self) -> dict | None:
        """One batch from the replica whose turn it is; the failure row when it failed, else None."""
        left = self.settings.runs - len(self.ms) if self.settings.runs else 100_000
        turn = len(self.rounds) % len(self.workers)
        worker = self.workers[turn]
        t0 = time.time()
        token = self.meter.start() if self.meter else None
        reply = worker.ask({"op": "time", "runs": 1, "seconds": self.settings.round_s, "max_runs": left})
        if "ms" not in reply:
            return reply
        if self.meter:
            self.joules += self.meter.stop(token)
        self.windows.append((t0, time.time()))
        self.ms.extend(reply["ms"])
        self.rounds.append(reply["ms"])
        self.by_replica += [[] for _ in range(turn + 1 - len(self.by_replica))]
        self.by_replica[turn].append(reply["ms"])
        self.elapsed_s += reply["wall_s"]
        return None

    def replica_ordered(self) -> list[list[float]]:
        """The rounds replica after replica, each replica's in time order: consecutive batches of this are
        (all but where one replica's rounds end) one process's."""
        return [r for rounds in self.by_replica for r in rounds]

    @property
    def span_s(self) -> float:
        """Wall-clock seconds from its first timed round's start to its last one's end."""
        return self.windows[-1][1] - self.windows[0][0] if self.windows else 0.0

    def stop(self) -> str | None:
        s = self.settings
        return stop_reason(self.ms, self.elapsed_s, runs=s.runs, target_pct=s.target_ci_pct, budget_s=s.budget_s,
                           min_runs=s.min_runs, min_seconds=s.min_seconds, rounds=self.replica_ordered(),
                           span_s=self.span_s, min_span_s=s.min_span_s, time_rounds=self.rounds)

    def finish(self, stopped_by: str) -> dict:
        """The first replica measures the untimed rest (accuracy, coverage, RSS); the others just end."""
        for extra in self.workers[1:]:
            extra.close()
        rest = self.workers[0].ask({"op": "finish"})
        self.close()
        if rest.get("status") != "ok":
            return rest
        row = {**rest, **summarize(self.ms, self.replica_ordered(), self.rounds), "stopped_by": stopped_by,
               "replicas": len(self.workers),
               "timed_s": round(self.elapsed_s, 3),
               "span_s": round(self.span_s, 3),
               "samples_ms": [round(float(v), 4) for v in self.ms[:: max(1, len(self.ms) // 200)]],
               "timed_span": [round(self.windows[0][0], 3), round(self.windows[-1][1], 3)]}
        if self.settings.scenario == "offline" and self.settings.batch > 1:  # p50 is a whole batch's time
            b, (lo, hi) = self.settings.batch, row["p50_ci_ms"]
            row.update(scenario="offline", batch=b, throughput_ips=b * 1000.0 / row["p50_ms"],
                       throughput_ci_ips=[b * 1000.0 / hi if hi else None, b * 1000.0 / lo if lo else None])
        row.setdefault("throughput_ips", 1000.0 / row["p50_ms"])
        row["energy"] = self._energy()
        return row

    def _energy(self) -> dict:
        if self.meter is None:
            return {"sensor": None, "note": "no sensor (no RAPL, INA3221 or Pi 5 PMIC readable here)"}
        return {"sensor": self.meter.name, "kind": self.meter.kind, "joules": round(self.joules, 6),
                "mj_per_inference": round(self.joules * 1000 / len(self.ms), 6),
                "note": "the whole package or board while this configuration's rounds ran, everything else on "
                        "the machine included"}

    def close(self) -> None:
        for worker in self.workers:
            worker.close()


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _mem_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


class LiveMemory:
    """Which configurations may join the rounds now. All of them where memory allows (every worker stays
    loaded, so every row's rounds spread over the whole run); else as many as half the memory available at
    the start holds, a newcomer counted as big as the largest slot of its backend seen so far (one Keras
    slot weighs as much as a dozen TFLite ones), and the rest join as others finish (a Pi with 1 GB)."""

    def __init__(self) -> None:
        available = _mem_available()
        self.budget = None if available is None else available * 0.5
        self.live: dict[int, int] = {}  # configuration index -> its workers' resident bytes
        self.largest: dict[str, int] = {}  # backend -> the largest slot of it seen
        self.most_live = 0

    def admits(self, cfg: BenchConfig) -> bool:
        """Whether `cfg`'s workers, guessed at the largest of its backend so far, fit beside the live ones."""
        if self.budget is None or not self.live:
            return True
        guess = self.largest.get(cfg.backend, max(self.largest.values(), default=0))
        return sum(self.live.values()) + guess <= self.budget

    def joined(self, i: int, slot: Slot) -> None:
        size = sum(_rss_bytes(w.proc.pid) for w in slot.workers)
        self.live[i] = size
        self.largest[slot.cfg.backend] = max(size, self.largest.get(slot.cfg.backend, 0))
        self.most_live = max(self.most_live, len(self.live))

    def left(self, i: int) -> None:
        self.live.pop(i, None)


def run_rounds(configs: list[BenchConfig], settings: Settings,
               progress: Callable[[int, int, dict], None] | None = None, meter=None, speed=None) -> list[dict]:
    """Every configuration's row, measured in interleaved rounds; rows keep the order of `configs`. `speed`
    (a benchmarks.speedprobe.SpeedLog) ticks after every round-robin cycle, when no worker is timing."""
    rows: list[dict | None] = [None] * len(configs)
    done = 0

    def record(i: int, row: dict) -> None:
        nonlocal done
        rows[i] = {"config": configs[i].to_dict(), **row}
        done += 1
        if progress:
            progress(done, len(configs), rows[i])

    pending = []
    for i, cfg in enumerate(configs):
        if cfg.skipped:
            record(i, {"status": "skipped", "reason": cfg.skipped})
        else:
            pending.append(i)
    live: dict[int, Slot] = {}
    memory = LiveMemory()

    def fill() -> None:
        while (i := next((j for j in pending if memory.admits(configs[j])), None)) is not None:
            pending.remove(i)  # in order, but a small one may pass a big one that does not fit yet
            slot = Slot(configs[i], settings, meter)
            failed = slot.start()
            if failed:
                record(i, failed)
                continue
            live[i] = slot
            memory.joined(i, slot)
            settings.max_live = memory.most_live

    try:
        fill()
        if speed is not None:
            speed.tick()  # before the first cycle: every run has a start and an end to compare
        while live:
            for i, slot in list(live.items()):
                failed = slot.timed_round()
                reason = None if failed else slot.stop()
                if failed or reason:
                    del live[i]
                    memory.left(i)
                    if failed:
                        slot.close()
                    record(i, failed or slot.finish(reason))
                    gc.collect()
                    fill()
            if speed is not None:
                speed.tick()
    finally:
        for slot in live.values():
            slot.close()
    return rows


def _worker_env() -> dict:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


