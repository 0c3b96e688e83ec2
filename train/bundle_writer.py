"""Writing bundles from the training side: provenance, the eval sample, the Keras entry."""

from __future__ import annotations

import datetime as _dt
import subprocess
from pathlib import Path

import numpy as np

from edge.bundle import Calibration, Evaluation, Metrics, Provenance
from edge.metrics import per_class_accuracy
from edge.versions import installed_versions
from train.datasets.base import Dataset, stratified_sample

_LIBS = ("edgesight", "tensorflow-cpu", "tensorflow", "keras", "numpy", "tf2onnx", "onnx", "onnxruntime",
         "ai-edge-litert", "opencv-python-headless")


def library_versions() -> dict[str, str]:
    return installed_versions(_LIBS)


def git_commit() -> str | None:
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def provenance(dataset: Dataset, seed: int, epochs: int | None, recipe: str, notes: str | None = None) -> Provenance:
    return Provenance(
        dataset=f"{dataset.name}: {dataset.source}", split=dataset.split, seed=seed, epochs=epochs, recipe=recipe,
        library_versions=library_versions(), git_commit=git_commit(),
        created=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(), notes=notes,
    )


def write_eval_sample(root: Path, dataset: Dataset, n: int, seed: int) -> Evaluation:
    """Ship a small stratified slice of the held-out split, so a device can check accuracy offline."""
    idx = stratified_sample(dataset.y_test, n, seed)
    np.savez_compressed(root / "eval_sample.npz", x=dataset.x_test[idx], y=dataset.y_test[idx])
    return Evaluation(dataset=f"{dataset.name}: {dataset.source}", split=f"held-out test: {dataset.split}",
                      n_samples=len(dataset.y_test), sample_file="eval_sample.npz")


CALIBRATION_FILE, SELECTION_FILE = "calibration_sample.npz", "selection_sample.npz"
SAMPLE_BUDGET_BYTES = 3_000_000  # raw pixels a shipped sample may hold: bundles live in git


def write_calibration_sample(root: Path, x_train: np.ndarray, n: int, seed: int, x_val: np.ndarray | None = None,
                             n_selection: int = 1000, budget_bytes: int | None = SAMPLE_BUDGET_BYTES) -> Calibration:
    """Training images for int8 calibration (and validation images for mixed precision) shipped in the bundle,
    so the converter needs no dataset code. The draw is `default_rng(seed).permutation(len(x_train))[:n]`, the
    one edge-convert made from the training split before bundles carried it; both are capped to what
    `budget_bytes` of raw pixels hold (None: no cap, for bundles that stay out of git)."""
    per_image = int(np.prod(x_train.shape[1:]))
    budget = budget_bytes if budget_bytes is not None else per_image * (n + n_selection)
    n = min(n, len(x_train), max(budget // per_image, 16))
    idx = np.random.default_rng(seed).permutation(len(x_train))[:n]
    np.savez_compressed(root / CALIBRATION_FILE, x=x_train[idx])
    selection = None
    n_sel = min(n_selection, max(budget // per_image - n, 0))
    if x_val is not None and len(x_val) and n_sel >= 16:
        pick = np.sort(np.random.default_rng(seed).permutation(len(x_val))[:n_sel])
        np.savez_compressed(root / SELECTION_FILE, x=x_val[pick])
        selection = SELECTION_FILE
    return Calibration(sample_file=CALIBRATION_FILE, n_samples=n, selection_file=selection,
                       split=f"training split, {n} of {len(x_train)} at random (seed {seed})"
                       + (f"; selection: {n_sel} validation images" if selection else ""))


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, labels: list[str]) -> Metrics:
    pred = probs.argmax(axis=1)
    return Metrics(accuracy=float((pred == y_true).mean()), n_samples=len(y_true),
                   per_class_accuracy=per_class_accuracy(y_true, pred, labels))


def fit_with_logs(model, train_ds, val_ds, epochs: int, out: Path, monitor: str, schedule: list, verbose: int):
    """fit() with the recipe's own `schedule` callbacks plus the logs every recipe keeps; (history, seconds)."""
    import time

    import keras

    callbacks = [
        *schedule,
        keras.callbacks.ModelCheckpoint(str(out / "best.keras"), monitor=monitor, save_best_only=True),
        keras.callbacks.TensorBoard(log_dir=str(out / "logs")),
        keras.callbacks.CSVLogger(str(out / "history.csv")),
    ]
    started = time.time()
    hist = model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=verbose)
    return hist, time.time() - started
