"""MediaPipe's BlazeFace detectors (full range, short range, back camera) on the edge runtime's backends.

Each model is data: its weights' catalog name, its square input side and its SSD anchor layers, as
MediaPipe's `SsdAnchorsCalculator` options give them (anchor offset 0.5, fixed unit anchors):
  - full range: 192 px input, one layer at stride 4 (48x48 = 2304 anchors); made for faces up to ~5 m;
  - short range: 128 px, strides 8 (2 anchors per cell) and 16 (6 per cell) = 896 anchors;
  - back camera: 256 px, strides 16 (2) and 32 (6) = 896 anchors.
Decoding follows MediaPipe's `TensorsToDetectionsCalculator`: 16 regressors per anchor (box centre
offset, size, six keypoints) in input pixels, sigmoid scores clipped at +-100, then weighted suppression.

Three ways to search a frame:
  - native (default): the frame letterboxed into the model's square input, as MediaPipe runs it;
  - `input_width`: the short-range and back-camera graphs are fully convolutional, so the whole frame is
    resized to this width (its own aspect) and the anchor grid grows with it: one pass that sees a 640x480
    frame at 320x240 finds 40 px faces the 128 px square cannot (the full-range graph has a fixed reshape);
  - `tile_px`: the letterboxed frame plus square tiles overlapping by half, each at the native size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from pydantic import Field, model_validator

from edge.backends import open_backend
from edge.detectors.base import Detection, DetectorSettings, largest_first
from edge.detectors.catalog import verified_path
from edge.detectors.faceshape import FaceShapeLimits, plausible_face
from edge.detectors.postprocess import nms, to_bbox, weighted_nms
from edge.errors import ModelLoadError


@dataclass(frozen=True)
class BlazeFaceModel:
    weights: str  # the detector catalog's name for the file
    size: int  # native square input side
    layers: tuple[tuple[int, int], ...]  # (stride, anchors per grid cell)
    resizable: bool  # the graph runs at other input shapes

    @property
    def max_stride(self) -> int:
        return max(s for s, _ in self.layers)


MODELS = {
    "full-range": BlazeFaceModel("blazeface-full-range", 192, ((4, 1),), False),
    "full-range-sparse": BlazeFaceModel("blazeface-full-range-sparse", 192, ((4, 1),), False),
    "short-range": BlazeFaceModel("blazeface-short-range", 128, ((8, 2), (16, 6)), True),
    "back-camera": BlazeFaceModel("blazeface-back-camera", 256, ((16, 2), (32, 6)), True),
}
ModelName = Literal["full-range", "full-range-sparse", "short-range", "back-camera"]


def anchors(model: BlazeFaceModel, width: int | None = None, height: int | None = None) -> np.ndarray:
    """(N, 2) anchor centres in [0, 1] of an input of width x height (default: the native square), in the
    order the model's outputs use: per layer, rows then columns, then the anchors of a cell."""
    width, height = width or model.size, height or model.size
    rows = []
    for stride, per_cell in model.layers:
        gw, gh = width // stride, height // stride
        ys, xs = np.mgrid[0:gh, 0:gw]
        centres = np.stack([(xs + 0.5) / gw, (ys + 0.5) / gh], axis=-1).reshape(-1, 1, 2)
        rows.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(rows).astype(np.float32)


def decode(raw: np.ndarray, logits: np.ndarray, anchor_xy: np.ndarray, input_wh: np.ndarray,
           threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw (N, 16) regressors (input pixels) and (N,) logits -> (corners (K, 4), keypoints (K, 6, 2), scores
    (K,)) of the anchors scoring at least `threshold`, in [0, 1] coordinates of the input; `input_wh` is the
    input's (width, height) as float32."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100, 100)))
    hit = np.flatnonzero(scores >= threshold)
    centre = raw[hit, :2] / input_wh + anchor_xy[hit]
    half = raw[hit, 2:4] / input_wh / 2
    corners = np.concatenate([centre - half, centre + half], axis=1)
    points = raw[hit, 4:16].reshape(-1, 6, 2) / input_wh + anchor_xy[hit, None, :]
    return corners, points, scores[hit]


class BlazeFaceSettings(DetectorSettings):
    type: Literal["blazeface"] = "blazeface"
    model: ModelName = Field("full-range", description="full-range, short-range, back-camera or full-range-sparse")
    threshold: float = Field(0.5, gt=0, lt=1, description="minimum face score")
    input_width: int | None = Field(None, ge=64, le=1920, description="run the whole frame at this width (a "
                                    "multiple of the model's largest stride) instead of the native square; "
                                    "short-range and back-camera only")
    tile_px: int | None = Field(None, ge=64, description="also search square tiles of this side (overlapping by "
                                "half), each at the native input size")
    nms: Literal["weighted", "hard"] = Field("weighted", description="MediaPipe's weighted suppression, or hard")
    nms_iou: float = Field(0.3, gt=0, lt=1)
    face_shape: bool = Field(True, description="drop boxes whose keypoints do not sit like a face's")

    @model_validator(mode="after")
    def _searchable(self) -> BlazeFaceSettings:
        spec = MODELS[self.model]
        if self.input_width is not None:
            if not spec.resizable:
                raise ValueError(f"the {self.model} model has a fixed {spec.size}x{spec.size} input; use "
                                 "tile_px, or model short-range / back-camera with input_width")
            if self.input_width % spec.max_stride:
                raise ValueError(f"input_width must be a multiple of {spec.max_stride} for {self.model}")
            if self.tile_px is not None:
                raise ValueError("input_width and tile_px are two ways to see small faces; choose one")
        return self


@dataclass(frozen=True)
class _Window:
    """A rectangle of the frame (x0, y0, w, h; it may reach outside the frame, which reads as black) shown to
    the model at `input_wh`; `is_tile` for the inner tiles, whose cut edges drop partial faces."""

    x0: int
    y0: int
    w: int
    h: int
    is_tile: bool = False


class BlazeFaceDetector:
    """A BlazeFace model through the TFLite backend; the weights are hash-checked by the detector catalog."""

    def __init__(self, settings: BlazeFaceSettings | None = None) -> None:
        self.settings = settings or BlazeFaceSettings()
        self.model = MODELS[self.settings.model]
        self.name = f"blazeface-{self.settings.model}"
        self.backend = open_backend("tflite", verified_path(self.model.weights), self.settings.threads)
        if len(self.backend.inputs) != 1:
            self.close()
            raise ModelLoadError(f"{self.model.weights}: a BlazeFace model has one input")
        self._input_name = self.backend.inputs[0].name
        self._shape: tuple[int, int] | None = None  # the (width, height) the backend is allocated for
        self._use_input(self.model.size, self.model.size)
        self.shape_limits = FaceShapeLimits()

    def _use_input(self, width: int, height: int) -> None:
        """Allocate the model for a width x height input (once per frame size) and find its two outputs."""
        if self._shape == (width, height):
            return
        if (width, height) != (self.model.size, self.model.size) or self._shape is not None:
            self.backend.reshape({self._input_name: [1, height, width, 3]})
        self._anchors = anchors(self.model, width, height)
        n = len(self._anchors)
        outs = {tuple(t.shape[1:]): i for i, t in enumerate(self.backend.outputs)}
        if (n, 16) not in outs or (n, 1) not in outs:
            self.close()
            raise ModelLoadError(f"{self.model.weights}: not the BlazeFace {self.settings.model} model (outputs "
                                 f"{[list(t.shape) for t in self.backend.outputs]}, {n} anchors expected)")
        self._boxes_at, self._scores_at = outs[(n, 16)], outs[(n, 1)]
        self._wh = np.array([width, height], np.float32)
        self._canvas = np.zeros((height, width, 3), np.uint8)
        self._tensor = np.zeros((1, height, width, 3), np.float32)
        self._shape = (width, height)

    def windows(self, height: int, width: int) -> list[_Window]:
        """Whole frame (letterboxed, or at input_width), then (with tile_px) tiles overlapping by half."""
        s = self.settings
        if s.input_width:
            in_w = s.input_width
            in_h = -(-round(height * in_w / width) // self.model.max_stride) * self.model.max_stride
            self._use_input(in_w, in_h)
            win_h = round(in_h * width / in_w)
            return [_Window(0, -((win_h - height) // 2), width, win_h)]
        side = max(height, width)
        out = [_Window(-(side - width) // 2, -(side - height) // 2, side, side)]
        tile = s.tile_px
        if tile and tile < side * 0.8:
            step = tile // 2
            xs = sorted({*range(0, max(width - tile, 0) + 1, step), max(width - tile, 0)})
            ys = sorted({*range(0, max(height - tile, 0) + 1, step), max(height - tile, 0)})
            out += [_Window(x, y, tile, tile, True) for y in ys for x in xs]
        return out

    def _input(self, frame: np.ndarray, win: _Window) -> None:
        """Fill the input tensor with the window's pixels, as if the window were cut out of the frame padded
        with black and resized to the model's input (MediaPipe's letterbox).

        When the padding's edges fall on whole input pixels (640x480 into 128, 192, 256 or 320x240 does),
        only the frame's part is resized into a black canvas: the same pixels for less work.
        """
        h, w = frame.shape[:2]
        in_w, in_h = self._shape
        kx, ky = in_w / win.w, in_h / win.h
        fx0, fy0 = max(win.x0, 0), max(win.y0, 0)
        fx1, fy1 = min(win.x0 + win.w, w), min(win.y0 + win.h, h)
        edges = [(fx0 - win.x0) * kx, (fy0 - win.y0) * ky, (fx1 - win.x0) * kx, (fy1 - win.y0) * ky]
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        if all(abs(e - round(e)) < 1e-9 for e in edges):
            dx0, dy0, dx1, dy1 = (round(e) for e in edges)
            canvas = self._canvas
            if (dx0, dy0, dx1, dy1) != (0, 0, in_w, in_h):
                canvas[:] = 0
            region = frame[fy0:fy1, fx0:fx1]
            canvas[dy0:dy1, dx0:dx1] = cv2.resize(region, (dx1 - dx0, dy1 - dy0), interpolation=cv2.INTER_AREA)
        else:
            padded = np.zeros((win.h, win.w, 3), np.uint8)
            padded[fy0 - win.y0:fy1 - win.y0, fx0 - win.x0:fx1 - win.x0] = frame[fy0:fy1, fx0:fx1]
            canvas = cv2.resize(padded, (in_w, in_h), interpolation=cv2.INTER_AREA)
        np.divide(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB), np.float32(127.5), out=self._tensor[0])
        self._tensor -= np.float32(1.0)

    def _search(self, frame: np.ndarray, win: _Window) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Corners (x0, y0, x1, y1), keypoints and scores in frame pixels for one window."""
        self._input(frame, win)
        outputs = self.backend.run({self._input_name: self._tensor})
        raw, logits = outputs[self._boxes_at][0], outputs[self._scores_at][0, :, 0]
        corners, points, scores = decode(raw, logits, self._anchors, self._wh, self.settings.threshold)
        size = np.array([win.w, win.h], np.float32)
        shift = np.array([-win.x0, -win.y0], np.float32)
        corners = corners * np.tile(size, 2) - np.tile(shift, 2)
        points = points * size - shift
        if win.is_tile:  # a box cut by an inner tile edge is a partial face another window sees whole
            keep = _inside_tile(corners, win, frame.shape[1], frame.shape[0])
            corners, points, scores = corners[keep], points[keep], scores[keep]
        return corners, points, scores

    def detect(self, frame: np.ndarray) -> list[Detection]:
        h, w = frame.shape[:2]
        found = [self._search(frame, win) for win in self.windows(h, w)]
        corners = np.concatenate([f[0] for f in found])
        if not len(corners):
            return []
        points = np.concatenate([f[1] for f in found])
        scores = np.concatenate([f[2] for f in found])
        if self.settings.nms == "weighted":
            corners, points, scores = weighted_nms(corners, scores, points, self.settings.nms_iou)
        else:
            keep = nms(corners, scores, self.settings.nms_iou)
            corners, points, scores = corners[keep], points[keep], scores[keep]
        out = []
        for c, p, s in zip(corners, points, scores):
            box = to_bbox(c, w, h)
            if min(box.w, box.h) < max(self.settings.min_face_px, 1):
                continue
            det = Detection(box, float(s), p.astype(np.float32))
            if not self.settings.face_shape or plausible_face(det, self.shape_limits):
                out.append(det)
        return largest_first(out)

    def close(self) -> None:
        self.backend.close()


def _inside_tile(corners: np.ndarray, win: _Window, width: int, height: int) -> np.ndarray:
    margin = win.w * 0.02
    keep = np.ones(len(corners), bool)
    for axis, lo, side, size in ((0, win.x0, win.w, width), (1, win.y0, win.h, height)):
        if lo > 0:
            keep &= corners[:, axis] > lo + margin
        if lo + side < size:
            keep &= corners[:, axis + 2] < lo + side - margin
    return keep
