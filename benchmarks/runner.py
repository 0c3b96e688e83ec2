"""Runs the configuration matrix, one worker process per configuration, in rounds, and assembles the report.

Every worker is loaded first (one at a time, so load times are their own), then each is asked for a batch of
timed runs in turn, round after round: drift, thermal throttling and a noisy neighbour hit all configurations
alike instead of whichever ran last. A configuration leaves the rounds when its stopping rule says so
(benchmarks.stats.stop_reason): the p50's 95 % interval within ±target, its time budget spent, or a forced
--runs count reached. Medians and percentiles with their intervals, never best-of; the run count and what
stopped it are in every row; accuracy and top-1 agreement with the fp32 reference sit in the same row.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

import numpy as np

from benchmarks.configs import BenchConfig
from benchmarks.coverage import fallback_warnings
from benchmarks.fingerprint import fingerprint, thermal_state, warnings
from benchmarks.sensors import Device, power_sensor
from benchmarks.settings import Settings
from benchmarks.speedprobe import SpeedLog, widen_for_machine
from benchmarks.telemetry import Sampler, mark_rows, throttle_warnings
from edge.bundle import Bundle

REPORT_SCHEMA = 2  # 2: intervals, stopped_by, rounds


def eval_sample(bundle: Bundle) -> tuple[np.ndarray, np.ndarray] | None:
    ev = bundle.manifest.evaluation
    if not ev or not ev.sample_file or not (bundle.root / ev.sample_file).is_file():
        return None
    with np.load(bundle.root / ev.sample_file) as data:
        return data["x"], data["y"]


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
               progress: Callable[[int, int, dict], None] | None = None, dev: Device | None = None) -> dict:
    device = fingerprint()
    before = thermal_state()
    started = _dt.datetime.now(_dt.timezone.utc)
    from benchmarks.rounds import run_rounds

    dev = dev or Device()
    speed = SpeedLog()
    with Sampler(dev) as sampler:
        rows = run_rounds(configs, settings, progress, meter=power_sensor(dev), speed=speed)
    mark_rows(rows, sampler.series, speed.series)
    widen_for_machine(rows, speed.series)
    telemetry = sampler.report(speed.series)
    after = thermal_state()
    add_agreement(rows)
    return {
        "schema": REPORT_SCHEMA, "tool": "edge-bench", "command": command,
        "created": started.replace(microsecond=0).isoformat(),
        "duration_s": round((_dt.datetime.now(_dt.timezone.utc) - started).total_seconds(), 2),
        "device": device, "thermal": {"before": before, "after": after}, "settings": settings.to_dict(),
        "rows": rows, "telemetry": telemetry, "live_configurations": settings.max_live,
        "warnings": warnings(device, before, after) + throttle_warnings(rows, telemetry) + fallback_warnings(rows),
    }
