"""Training figures: curves, confusion matrix, prediction grid. Headless (Agg) by design."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def plot_curves(history: dict[str, list[float]], path: Path, title: str = "") -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("loss", "accuracy")):
        if key in history:
            ax.plot(history[key], label=f"train {key}")
        if f"val_{key}" in history:
            ax.plot(history[f"val_{key}"], label=f"val {key}")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(cm: np.ndarray, labels: list[str], path: Path, title: str = "") -> None:
    fig, ax = plt.subplots(figsize=(1 + 0.6 * len(labels), 1 + 0.6 * len(labels)))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    thresh = cm.max() / 2 if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > thresh else "black")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_prediction_grid(images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                         labels: list[str], path: Path, n: int = 5) -> None:
    """An n x n grid of test images titled predicted/true; mistakes in red."""
    fig, axes = plt.subplots(n, n, figsize=(2 * n, 2 * n))
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= len(images):
            continue
        img = images[k]
        ax.imshow(img.squeeze(), cmap="gray" if img.shape[-1] == 1 else None)
        ok = y_true[k] == y_pred[k]
        ax.set_title(f"{labels[y_pred[k]]} / {labels[y_true[k]]}", fontsize=8, color="black" if ok else "red")
    fig.suptitle("predicted / true")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
