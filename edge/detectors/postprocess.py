"""Pure numpy post-processing shared by the SSD-style detectors: suppression and boxes in pixels."""

from __future__ import annotations

import numpy as np

from edge.geometry import BBox


def iou_one_to_many(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one (x0, y0, x1, y1) row with each row of `others`."""
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.3) -> list[int]:
    """Greedy (hard) non-maximum suppression over (x0, y0, x1, y1) rows; indices kept, best first."""
    order = np.argsort(-scores)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[i], boxes[rest]) <= iou_threshold]
    return keep


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, points: np.ndarray,
                 iou_threshold: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's WEIGHTED suppression: each cluster (the best box and every box overlapping it by more than
    `iou_threshold`) becomes the score-weighted mean of its boxes and keypoints, with the best score.

    Why: BlazeFace fires on several neighbouring anchors per face; averaging them gives steadier boxes
    and keypoints than keeping one, which the keypoint checks and the tracker both need.
    """
    order = np.argsort(-scores)
    out_b, out_p, out_s = [], [], []
    while order.size:
        i = int(order[0])
        overlap = iou_one_to_many(boxes[i], boxes[order]) > iou_threshold
        overlap[0] = True
        members = order[overlap]
        w = scores[members][:, None]
        out_b.append((boxes[members] * w).sum(0) / w.sum())
        out_p.append((points[members] * w[:, :, None]).sum(0) / w.sum())
        out_s.append(scores[i])
        order = order[~overlap]
    if not out_b:
        return boxes[:0], points[:0], scores[:0]
    return np.stack(out_b), np.stack(out_p), np.asarray(out_s)


def to_bbox(corners: np.ndarray, width: int, height: int) -> BBox:
    """One pixel-space (x0, y0, x1, y1) row -> a BBox clipped to the frame."""
    x0, y0, x1, y1 = corners
    return BBox(round(x0), round(y0), round(x1 - x0), round(y1 - y0)).clip(width, height)


def to_bboxes(corners: np.ndarray, width: int, height: int, min_side: int = 0) -> list[BBox]:
    """Pixel-space (x0, y0, x1, y1) rows -> clipped BBoxes, largest first, tiny ones dropped."""
    out = [to_bbox(c, width, height) for c in corners]
    out = [b for b in out if b.w >= max(min_side, 1) and b.h >= max(min_side, 1)]
    return sorted(out, key=lambda b: b.area, reverse=True)
