"""Timing one model file of a bundle on the edge runtime: load, first inference, warm percentiles.

Medians and percentiles, never best-of; the run count is reported with every number.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from edge.bundle import Bundle
from edge.classifier import Classifier
from edge.preprocess import prepare_dataset, quantize


@dataclass
class FormatResult:
    format: str
    backend: str
    runtime: str
    size_bytes: int
    load_ms: float
    first_inference_ms: float
    runs: int
    mean_ms: float
    std_ms: float
    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    accuracy: float | None  # measured now, on the bundle's shipped eval sample
    eval_samples: int
    manifest_accuracy: float | None  # measured by edge-convert on the full held-out split

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def eval_sample(bundle: Bundle) -> tuple[np.ndarray, np.ndarray] | None:
    ev = bundle.manifest.evaluation
    if not ev or not ev.sample_file or not (bundle.root / ev.sample_file).is_file():
        return None
    with np.load(bundle.root / ev.sample_file) as data:
        return data["x"], data["y"]


def bench_format(bundle: Bundle, fmt: str, runs: int, warmup: int, threads: int | None) -> FormatResult:
    m = bundle.manifest
    started = time.perf_counter()
    clf = Classifier(bundle, fmt=fmt, threads=threads)
    load_ms = (time.perf_counter() - started) * 1000
    sample = eval_sample(bundle)
    if sample is not None:
        x = prepare_dataset(sample[0], m.preprocess, m.input.layout)
    else:
        x = np.random.default_rng(0).random((1, *m.input.shape), dtype=np.float32)
    one = quantize(x[:1], clf.backend.input)
    t0 = time.perf_counter()
    clf.backend.infer(one)
    first_ms = (time.perf_counter() - t0) * 1000
    for _ in range(warmup):
        clf.backend.infer(one)
    times = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter()
        clf.backend.infer(one)
        times[i] = time.perf_counter() - t0
    times *= 1000
    accuracy = None
    if sample is not None:
        accuracy = float((clf.probabilities(x).argmax(axis=1) == sample[1]).mean())
    entry = m.file(fmt)
    clf.close()
    return FormatResult(
        format=fmt, backend=clf.backend.name, runtime=getattr(clf.backend, "runtime", ""),
        size_bytes=entry.size_bytes, load_ms=load_ms, first_inference_ms=first_ms, runs=runs,
        mean_ms=float(times.mean()), std_ms=float(times.std()), min_ms=float(times.min()),
        p50_ms=float(np.percentile(times, 50)), p90_ms=float(np.percentile(times, 90)),
        p99_ms=float(np.percentile(times, 99)), max_ms=float(times.max()), accuracy=accuracy,
        eval_samples=0 if sample is None else len(sample[1]),
        manifest_accuracy=entry.metrics.accuracy if entry.metrics else None,
    )
