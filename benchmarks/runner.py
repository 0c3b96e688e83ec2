"""Runs the configuration matrix, one subprocess per configuration, and assembles the report.

Medians and percentiles, never best-of; the run count is reported with every number; accuracy
and top-1 agreement with the fp32 reference sit in the same row as the latency.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks.configs import BenchConfig
from benchmarks.fingerprint import fingerprint, thermal_state, warnings
from edge.bundle import Bundle

REPORT_SCHEMA = 1


@dataclass
class Settings:
    runs: int = 200
    warmup: int = 20
    min_seconds: float = 0.0
    batch: int = 1
    dataset: str | None = None
    timeout_s: float = 600.0
    input_shape: list[int] | None = None  # bare files: the first input's shape (a detector at its run resolution)

    def to_dict(self) -> dict:
        return {"runs": self.runs, "warmup": self.warmup, "min_seconds": self.min_seconds, "batch": self.batch,
                "dataset": self.dataset, "input_shape": self.input_shape}


def eval_sample(bundle: Bundle) -> tuple[np.ndarray, np.ndarray] | None:
    ev = bundle.manifest.evaluation
    if not ev or not ev.sample_file or not (bundle.root / ev.sample_file).is_file():
        return None
    with np.load(bundle.root / ev.sample_file) as data:
        return data["x"], data["y"]


def run_config(cfg: BenchConfig, settings: Settings) -> dict:
    row = {"config": cfg.to_dict()}
    if cfg.skipped:
        return {**row, "status": "skipped", "reason": cfg.skipped}
    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.worker", json.dumps(cfg.to_dict()),
                               json.dumps(settings.to_dict())], capture_output=True, text=True,
                              timeout=settings.timeout_s, env=_worker_env())
    except subprocess.TimeoutExpired:
        return {**row, "status": "failed", "reason": f"timed out after {settings.timeout_s:.0f} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return {**row, "status": "failed", "reason": f"worker exited {proc.returncode}: {tail[:200]}"}
    return {**row, **json.loads(lines[-1])}


def _worker_env() -> dict:
    import os

    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def add_agreement(rows: list[dict]) -> None:
    """Top-1 agreement with the fp32 reference of the same input (Keras, else tflite-fp32, else onnx-fp32)."""
    by_input: dict[str, dict[str, list[int]]] = {}
    for r in rows:
        if r.get("predictions") is not None:
            by_input.setdefault(r["config"]["label"], {}).setdefault(r["config"]["format"], r["predictions"])
    for r in rows:
        preds = r.pop("predictions", None)
        refs = by_input.get(r["config"]["label"], {})
        ref_fmt = next((f for f in ("keras", "tflite-fp32", "onnx-fp32") if f in refs), None)
        if preds is not None and ref_fmt is not None:
            r["agreement"] = float(np.mean(np.asarray(preds) == np.asarray(refs[ref_fmt])))
            r["agreement_with"] = ref_fmt


def run_matrix(configs: list[BenchConfig], settings: Settings, command: str,
               progress: Callable[[int, int, dict], None] | None = None) -> dict:
    device = fingerprint()
    before = thermal_state()
    started = _dt.datetime.now(_dt.timezone.utc)
    rows = []
    for i, cfg in enumerate(configs, 1):
        rows.append(run_config(cfg, settings))
        gc.collect()
        if progress:
            progress(i, len(configs), rows[-1])
    after = thermal_state()
    add_agreement(rows)
    return {
        "schema": REPORT_SCHEMA, "tool": "edge-bench", "command": command,
        "created": started.replace(microsecond=0).isoformat(),
        "duration_s": round((_dt.datetime.now(_dt.timezone.utc) - started).total_seconds(), 2),
        "device": device, "thermal": {"before": before, "after": after}, "settings": settings.to_dict(),
        "rows": rows, "warnings": warnings(device, before, after),
    }
