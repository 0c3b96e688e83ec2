"""Classification metrics computed one way for training reports, conversion parity and benchmarks."""

from __future__ import annotations

import numpy as np


def per_class_accuracy(y_true: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict[str, float]:
    """Accuracy on the images of each class (recall per class); classes absent from `y_true` are left out."""
    return {lab: float((pred[y_true == i] == i).mean()) for i, lab in enumerate(labels) if (y_true == i).any()}
