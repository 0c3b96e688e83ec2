"""MediaPipe's BlazeFace short-range detector (128x128 TFLite) on the edge TFLite runtime, optionally tiled.

Anchors follow MediaPipe's SSD options for this model: strides 8, 16, 16, 16 on a 128 input,
offset 0.5, unit anchors (512 at stride 8 + 384 at stride 16 = 896). The frame is letterboxed to a
square so faces keep their shape, and boxes are mapped back. Weights: `edge-train fetch detectors`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.backends.tflite import check_flatbuffer, load_interpreter_module
from edge.cache import detector_files
from edge.detectors.base import ScoredDetectorConfig
from edge.detectors.postprocess import nms, to_bboxes
from edge.errors import ModelLoadError
from edge.geometry import BBox

SIZE = 128


def anchors() -> np.ndarray:
    """(896, 2) anchor centres in [0, 1]."""
    rows = []
    for stride, per_cell in ((8, 2), (16, 6)):
        grid = SIZE // stride
        ys, xs = np.mgrid[0:grid, 0:grid]
        centres = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], axis=-1).reshape(-1, 1, 2)
        rows.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(rows).astype(np.float32)


@dataclass(frozen=True)
class BlazeFaceConfig(ScoredDetectorConfig):
    # The short-range model needs a face of ~20+ px in its 128x128 input: a 60 px face in a whole
    # 640x480 frame shrinks to 12 px. Square tiles of `tile_px` (overlapping by half) are searched
    # besides the whole frame, so small faces are seen at 2x the resolution. None: whole frame only.
    tile_px: int | None = None

KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")  # the subject's right/left


@dataclass(frozen=True)
class Landmarks:
    """A face box with its six BlazeFace keypoints (pixels, rows in KEYPOINTS order) and its score."""

    box: BBox
    points: np.ndarray
    score: float

    def point(self, name: str) -> np.ndarray:
        return self.points[KEYPOINTS.index(name)]


class BlazeFaceDetector:
    name = "blazeface"

    def __init__(self, config: BlazeFaceConfig | None = None, threads: int = 1) -> None:
        self.config = config or BlazeFaceConfig()
        path = detector_files()["blazeface"]
        if not path.is_file():
            raise ModelLoadError("BlazeFace weights not found; run `edge-train fetch detectors`")
        _, module = load_interpreter_module()
        self._interp = module.Interpreter(model_content=check_flatbuffer(path), num_threads=threads)
        self._interp.allocate_tensors()
        self._input = self._interp.get_input_details()[0]["index"]
        outs = {tuple(d["shape"]): d["index"] for d in self._interp.get_output_details()}
        try:
            self._boxes, self._scores = outs[(1, 896, 16)], outs[(1, 896, 1)]
        except KeyError:
            raise ModelLoadError(f"{path}: not the BlazeFace short-range model (outputs {list(outs)})") from None
        self._anchors = anchors()

    def detect(self, frame: np.ndarray) -> list[BBox]:
        return [face.box for face in self.landmarks(frame)]

    def windows(self, height: int, width: int) -> list[tuple[int, int, int]]:
        """(x0, y0, side) squares to search: the letterboxed whole frame, then tiles overlapping by half."""
        side = max(height, width)
        out = [(-(side - width) // 2, -(side - height) // 2, side)]
        tile = self.config.tile_px
        if tile and tile < side * 0.8:
            step = tile // 2
            xs = sorted({*range(0, max(width - tile, 0) + 1, step), max(width - tile, 0)})
            ys = sorted({*range(0, max(height - tile, 0) + 1, step), max(height - tile, 0)})
            out += [(x, y, tile) for y in ys for x in xs]
        return out

    def _search(self, rgb: np.ndarray, x0: int, y0: int, side: int):
        h, w = rgb.shape[:2]
        square = np.zeros((side, side, 3), np.uint8)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
        square[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
        x = cv2.resize(square, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1.0
        self._interp.set_tensor(self._input, x[None])
        self._interp.invoke()
        raw = self._interp.get_tensor(self._boxes)[0]
        logits = self._interp.get_tensor(self._scores)[0, :, 0].astype(np.float64)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100, 100)))
        hit = np.flatnonzero(scores >= self.config.threshold)
        shift = np.array([-x0, -y0], np.float32)
        centre = raw[hit, :2] / SIZE + self._anchors[hit]
        half = raw[hit, 2:4] / SIZE / 2
        corners = np.concatenate([centre - half, centre + half], axis=1) * side - np.tile(shift, 2)
        points = (raw[hit, 4:16].reshape(-1, 6, 2) / SIZE + self._anchors[hit, None, :]) * side - shift
        keep = np.ones(len(hit), bool)
        if side < max(h, w):  # a tile: a box cut by an inner tile edge is a partial face another tile sees whole
            margin = side * 0.02
            for axis, lo, size in ((0, x0, w), (1, y0, h)):
                if lo > 0:
                    keep &= corners[:, axis] > lo + margin
                if lo + side < size:
                    keep &= corners[:, axis + 2] < lo + side - margin
        return corners[keep], points[keep], scores[hit][keep]

    def landmarks(self, frame: np.ndarray) -> list[Landmarks]:
        """Boxes with keypoints, largest first; the mask painter fits masks to these."""
        rgb = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB if frame.ndim == 2 else cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        found = [self._search(rgb, *win) for win in self.windows(h, w)]
        corners = np.concatenate([f[0] for f in found])
        if not len(corners):
            return []
        points = np.concatenate([f[1] for f in found])
        scores = np.concatenate([f[2] for f in found])
        out = []
        for i in nms(corners, scores, self.config.nms_iou):
            box = to_bboxes(corners[i:i + 1], w, h, self.config.min_face_px)
            if box:
                out.append(Landmarks(box[0], points[i], float(scores[i])))
        return sorted(out, key=lambda f: f.box.area, reverse=True)
