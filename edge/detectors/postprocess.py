"""Pure numpy post-processing shared by the SSD-style detectors."""

from __future__ import annotations

import numpy as np

from edge.geometry import BBox


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.3) -> list[int]:
    """Greedy non-maximum suppression over (x0, y0, x1, y1) rows; indices kept, best first."""
    order = np.argsort(-scores)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        x0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        iou = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return keep


def to_bboxes(corners: np.ndarray, width: int, height: int, min_side: int = 0) -> list[BBox]:
    """Pixel-space (x0, y0, x1, y1) rows -> clipped BBoxes, largest first, tiny ones dropped."""
    out = []
    for x0, y0, x1, y1 in corners:
        box = BBox(round(x0), round(y0), round(x1 - x0), round(y1 - y0)).clip(width, height)
        if box.w >= max(min_side, 1) and box.h >= max(min_side, 1):
            out.append(box)
    return sorted(out, key=lambda b: b.area, reverse=True)
