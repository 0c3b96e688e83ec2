"""MediaPipe's BlazeFace short-range detector (128x128 TFLite) on the edge TFLite runtime.

Anchors follow MediaPipe's SSD options for this model: strides 8, 16, 16, 16 on a 128 input,
offset 0.5, unit anchors (512 at stride 8 + 384 at stride 16 = 896). The frame is letterboxed to a
square so faces keep their shape, and boxes are mapped back. Weights: `edge-train fetch detectors`.
"""

from __future__ import annotations

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


BlazeFaceConfig = ScoredDetectorConfig


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
        rgb = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB if frame.ndim == 2 else cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        side = max(h, w)
        square = np.zeros((side, side, 3), np.uint8)
        top, left = (side - h) // 2, (side - w) // 2
        square[top:top + h, left:left + w] = rgb
        x = cv2.resize(square, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1.0
        self._interp.set_tensor(self._input, x[None])
        self._interp.invoke()
        raw = self._interp.get_tensor(self._boxes)[0]
        logits = self._interp.get_tensor(self._scores)[0, :, 0].astype(np.float64)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100, 100)))
        hit = scores >= self.config.threshold
        if not hit.any():
            return []
        centre = raw[hit, :2] / SIZE + self._anchors[hit]
        half = raw[hit, 2:4] / SIZE / 2
        corners = np.concatenate([centre - half, centre + half], axis=1) * side
        corners -= np.array([left, top, left, top], np.float32)
        keep = nms(corners, scores[hit], self.config.nms_iou)
        return to_bboxes(corners[keep], w, h, self.config.min_face_px)
