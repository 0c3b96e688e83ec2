"""What a dream leaves behind: the image, the loss per step (CSV and a curve like the paper's), a sheet."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np


def _bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2 or image.shape[-1] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


def write_image(path: Path, rgb_or_gray: np.ndarray) -> Path:
    cv2.imwrite(str(path), _bgr(rgb_or_gray))
    return path


def write_losses(path: Path, losses: list[tuple[int, int, float]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "octave", "loss"])
        w.writerows((s, o, f"{v:.6f}") for s, o, v in losses)
    return path


def plot_losses(path: Path, curves: dict[str, list[tuple[int, int, float]]], title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    for label, losses in curves.items():
        ax.plot([s for s, _, _ in losses], [v for _, _, v in losses], label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (mean activation)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def sheet(path: Path, tiles: dict[str, np.ndarray], tile_px: int = 256) -> Path:
    """Input and dreams side by side, each labelled, for comparing layer sets on one image."""
    cells = []
    for label, image in tiles.items():
        cell = cv2.resize(_bgr(image), (tile_px, tile_px), interpolation=cv2.INTER_NEAREST
                          if image.shape[0] < tile_px // 2 else cv2.INTER_AREA)
        band = np.full((28, tile_px, 3), 255, np.uint8)
        cv2.putText(band, label[:36], (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        cells.append(np.vstack([band, cell]))
    cv2.imwrite(str(path), np.hstack(cells))
    return path
