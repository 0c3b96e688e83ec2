"""Find handwritten or printed digits in a photo and make each look like an MNIST sample.

MNIST digits are white on black, fitted into a 20x20 box that keeps the aspect ratio and
centred by centre of mass in a 28x28 field. A photo of paper is dark-on-light, so the polarity is
decided from the border, which is background in any sensible photo.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.geometry import BBox


def ink_mask(gray: np.ndarray) -> np.ndarray:
    """Ink white on black, whatever the photo's polarity; Otsu picks the threshold."""
    gray = cv2.GaussianBlur(gray, (3, 3), 0) if min(gray.shape) >= 16 else gray
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 127:
        gray = 255 - gray
    _, mask = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return gray, mask


def to_mnist(ink: np.ndarray) -> np.ndarray:
    """A crop of ink (white on black) -> 28x28 uint8, 20x20 fit, centred by centre of mass."""
    h, w = ink.shape
    factor = 20.0 / max(h, w)
    nh, nw = max(1, round(h * factor)), max(1, round(w * factor))
    small = cv2.resize(ink, (nw, nh), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((28, 28), np.uint8)
    top, left = (28 - nh) // 2, (28 - nw) // 2
    canvas[top:top + nh, left:left + nw] = small
    m = cv2.moments(canvas)
    if m["m00"] > 0:
        dx, dy = 14 - m["m10"] / m["m00"], 14 - m["m01"] / m["m00"]
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        canvas = cv2.warpAffine(canvas, shift, (28, 28), flags=cv2.INTER_LINEAR, borderValue=0)
    return canvas


def find_digits(image: np.ndarray, max_digits: int = 12,
                min_height_frac: float = 0.08) -> list[tuple[BBox, np.ndarray]]:
    """Boxes (left to right) and their 28x28 MNIST-style crops."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3
                                                       else cv2.COLOR_BGRA2GRAY)
    ink, mask = ink_mask(gray)
    # Join broken strokes (a 5's cap, a thin 7) without merging neighbouring digits.
    k = max(1, round(min(gray.shape) / 150))
    joined = cv2.dilate(mask, np.ones((2 * k + 1, 2 * k + 1), np.uint8))
    contours, _ = cv2.findContours(joined, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = [BBox(*cv2.boundingRect(c)) for c in contours]
    min_h = max(3, min_height_frac * gray.shape[0]) if gray.shape[0] > 56 else 3
    boxes = [b for b in boxes if b.h >= min_h and b.area >= 9 and not _touches_all_edges(b, gray.shape)]
    boxes = sorted(boxes, key=lambda b: b.area, reverse=True)[:max_digits]
    out = []
    for box in sorted(boxes, key=lambda b: (b.x, b.y)):
        crop = np.where(mask[box.y:box.y + box.h, box.x:box.x + box.w] > 0,
                        ink[box.y:box.y + box.h, box.x:box.x + box.w], 0).astype(np.uint8)
        crop = cv2.normalize(crop, None, 0, 255, cv2.NORM_MINMAX)
        out.append((box, to_mnist(crop)))
    return out


def _touches_all_edges(box: BBox, shape: tuple[int, ...]) -> bool:
    """A contour spanning the whole frame is a page edge or a shadow, not a digit."""
    h, w = shape[:2]
    return box.w >= 0.95 * w and box.h >= 0.95 * h and min(h, w) > 56
