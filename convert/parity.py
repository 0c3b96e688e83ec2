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
from edge.metrics import per_class_accuracy
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


def compare(reference: np.ndarray, probs: np.ndarray, y_true: np.ndarray | None, labels: list[str]) -> Metrics:
    """Metrics of `probs`, and their distance from the reference outputs; without labels (`y_true` None) there
    is agreement, SQNR and max abs diff, and no accuracy is invented."""
    pred, ref_pred = probs.argmax(axis=1), reference.argmax(axis=1)
    distance = {"n_samples": len(pred), "agreement": float((pred == ref_pred).mean()),
                "max_abs_diff": float(np.max(np.abs(reference - probs))),
                "sqnr_db": round(sqnr_db(reference, probs), 2)}
    if y_true is None:
        return Metrics(**distance)
    acc, ref_acc = float((pred == y_true).mean()), float((ref_pred == y_true).mean())
    return Metrics(accuracy=acc, accuracy_drop_pp=round((ref_acc - acc) * 100.0, 4),
                   per_class_accuracy=per_class_accuracy(y_true, pred, labels), **distance)


def run_file(path: Path, fmt: str, x: np.ndarray, threads: int | None = None):
    """Probabilities from a model file through the edge runtime itself, plus its tensor facts."""
    backend = open_backend(backend_for_format(fmt), path, threads)
    try:
        probs = dequantize(backend.infer(quantize(x, backend.input)), backend.output)
        return probs, backend.input, backend.output
    finally:
        backend.close()


def run_outputs(path: Path, fmt: str, x: np.ndarray, threads: int | None = None) -> list[np.ndarray]:
    """Every output of a model file, de-quantized, through the edge runtime (tensors bundles)."""
    backend = open_backend(backend_for_format(fmt), path, threads)
    try:
        raw = backend.run(backend.feeds(quantize(x, backend.input)))
        return [dequantize(out, info) for out, info in zip(raw, backend.outputs)]
    finally:
        backend.close()
