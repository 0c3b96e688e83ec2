"""Parity is data: how far each converted file is from the Keras model, measured, per class.

Follows ONNX Runtime's quantization debugging: SQNR and max abs diff of the (de-quantized)
outputs, not just "it passed"; plus accuracy, top-1 agreement and per-class accuracy change, so a
class that collapses under quantization is visible even when the mean barely moves.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from edge.backends import backend_for_format, open_backend
from edge.bundle import Metrics
from edge.preprocess import dequantize, quantize

SQNR_CAP_DB = 300.0  # identical outputs have infinite SQNR; JSON cannot say inf


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    signal = float(np.sum(reference.astype(np.float64) ** 2))
    noise = float(np.sum((reference.astype(np.float64) - test.astype(np.float64)) ** 2))
    if noise == 0.0:
        return SQNR_CAP_DB
    if signal == 0.0:
        return -SQNR_CAP_DB
    return min(SQNR_CAP_DB, 10.0 * math.log10(signal / noise))


def per_class_accuracy(y_true: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict[str, float]:
    return {lab: float((pred[y_true == i] == i).mean()) for i, lab in enumerate(labels) if (y_true == i).any()}


def compare(reference: np.ndarray, probs: np.ndarray, y_true: np.ndarray, labels: list[str]) -> Metrics:
    """Metrics of `probs` on the labelled set, and their distance from the reference outputs."""
    pred, ref_pred = probs.argmax(axis=1), reference.argmax(axis=1)
    acc, ref_acc = float((pred == y_true).mean()), float((ref_pred == y_true).mean())
    return Metrics(
        accuracy=acc, n_samples=len(y_true), agreement=float((pred == ref_pred).mean()),
        max_abs_diff=float(np.max(np.abs(reference - probs))), sqnr_db=round(sqnr_db(reference, probs), 2),
        accuracy_drop_pp=round((ref_acc - acc) * 100.0, 4),
        per_class_accuracy=per_class_accuracy(y_true, pred, labels),
    )


def run_file(path: Path, fmt: str, x: np.ndarray, threads: int | None = None):
    """Probabilities from a model file through the edge runtime itself, plus its tensor facts."""
    backend = open_backend(backend_for_format(fmt), path, threads)
    try:
        probs = dequantize(backend.infer(quantize(x, backend.input)), backend.output)
        return probs, backend.input, backend.output
    finally:
        backend.close()


def gate(metrics: dict[str, Metrics], formats: tuple[str, ...], max_drop_pp: float | None,
         min_relative: float | None, reference_accuracy: float) -> list[str]:
    """Failures (empty = pass) for the formats under budget, e.g. every int8 artefact."""
    failures = []
    for fmt in formats:
        m = metrics.get(fmt)
        if m is None:
            continue
        drop = (reference_accuracy - m.accuracy) * 100.0
        if max_drop_pp is not None and drop > max_drop_pp:
            failures.append(f"{fmt}: accuracy {m.accuracy:.4f} is {drop:.2f} pp below fp32 "
                            f"{reference_accuracy:.4f} (budget {max_drop_pp} pp)")
        if min_relative is not None and reference_accuracy > 0 and m.accuracy / reference_accuracy < min_relative:
            failures.append(f"{fmt}: accuracy {m.accuracy:.4f} is {m.accuracy / reference_accuracy:.2%} of fp32 "
                            f"(needs {min_relative:.0%})")
    return failures
