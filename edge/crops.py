"""Face crops: the one geometry the classifier, the second look and the training sets all use."""

from __future__ import annotations

import cv2
import numpy as np

from edge.geometry import BBox


def face_crop(frame: np.ndarray, box: BBox, margin: float = 0.15) -> np.ndarray:
    """A square around the box, grown by `margin` per side; edges padded so border faces keep their shape."""
    side = max(box.w, box.h) * (1 + 2 * margin)
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    s = max(round(side), 1)
    h, w = frame.shape[:2]
    pad = max(0, -x0, -y0, x0 + s - w, y0 + s - h)
    if pad:
        frame = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    return frame[y0:y0 + s, x0:x0 + s]
