"""The sample media the demo ships, made from held-out test images so they were never trained on.

`make samples` (edge-train samples) writes:
- edge/samples/digits_paper.jpg: eight real MNIST test digits, scaled up and printed as dark ink
  on unevenly lit paper with sensor noise — what a phone photo of a handwritten number looks like;
- edge/samples/fashion/*.png: one Fashion-MNIST test image per class, named by its true label.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from train.datasets import Dataset


def paper_photo(data: Dataset, digits: list[int], seed: int = 0, glyph: int = 130) -> tuple[np.ndarray, list[int]]:
    """Dark-on-light page of the given digit classes (first held-out example of each), BGR uint8."""
    rng = np.random.default_rng(seed)
    step = glyph + glyph // 8
    height, width = glyph * 2 + 40, 20 + step * len(digits)
    page = np.full((height, width), 215, np.float32) + np.linspace(-20, 20, width, dtype=np.float32)[None, :]
    for i, digit in enumerate(digits):
        j = int(np.flatnonzero(data.y_test == digit)[i % 5])
        ink = cv2.resize(data.x_test[j, :, :, 0], (glyph, glyph), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        x0, y0 = 20 + i * step, (height - glyph) // 2 + int(rng.integers(-glyph // 5, glyph // 5))
        page[y0:y0 + glyph, x0:x0 + glyph] *= 1 - ink / 255 * 0.85
    page += rng.normal(0, 6, page.shape).astype(np.float32)
    return cv2.cvtColor(np.clip(page, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR), digits


def write_samples(out: Path, mnist: Dataset, fashion: Dataset | None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    photo, _ = paper_photo(mnist, [3, 1, 4, 1, 5, 9, 2, 6])
    path = out / "digits_paper.jpg"
    cv2.imwrite(str(path), photo, [cv2.IMWRITE_JPEG_QUALITY, 90])
    written.append(path)
    if fashion is not None:
        (out / "fashion").mkdir(exist_ok=True)
        for k, label in enumerate(fashion.labels):
            j = int(np.flatnonzero(fashion.y_test == k)[0])
            path = out / "fashion" / f"{k}_{label.replace('/', '-').replace(' ', '_').lower()}.png"
            cv2.imwrite(str(path), fashion.x_test[j, :, :, 0])
            written.append(path)
    return written
