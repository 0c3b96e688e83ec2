"""The benchmark harness reports structure and honesty facts, never timed assertions."""

from __future__ import annotations

from benchmarks.cold_start import measure
from benchmarks.runner import bench_format
from edge.bundle import load_bundle


def test_cold_start_probe_runs_in_a_fresh_process_without_tensorflow():
    r = measure("digits", runs=1)
    assert r["runs"] == 1 and r["median_total_s"] > 0 and r["tensorflow_imported"] is False


def test_bench_format_reports_percentiles_and_measured_accuracy():
    r = bench_format(load_bundle("digits"), "tflite-int8", runs=25, warmup=2, threads=1)
    assert r.runs == 25 and r.min_ms <= r.p50_ms <= r.p99_ms <= r.max_ms
    assert r.accuracy is not None and r.accuracy >= 0.95 and r.manifest_accuracy >= 0.985
    assert r.runtime.startswith("ai_edge_litert")
