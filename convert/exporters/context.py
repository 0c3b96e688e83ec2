"""What every exporter receives, with the expensive shared steps (SavedModel, ONNX fp32) done once."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class ExportContext:
    model: object  # a keras.Model; typed loosely so this module imports without TensorFlow
    calibration: np.ndarray  # float32 samples in the model's input layout, drawn from the training split
    onnx_target: str = "x86"  # "x86" (AVX2/VNNI: u8 activations, reduce_range) or "arm" (s8s8)
    opset: int = 17
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="edgesight-convert-")))
    int8_io: str = "int8"  # TFLite int8 input/output: "int8" or "float" (ONNX QDQ files always take float)
    keep_float: str | tuple[str, ...] | None = None  # int8 files: None, "auto" or Keras layer names
    selection: object | None = None  # convert.mixed_precision.Selection for "auto"
    progress: bool = False
    mixed: dict = field(default_factory=dict)  # format -> mixed_precision.Outcome, filled by the int8 exporters
    prescreen: dict = field(default_factory=dict)  # "layers": the candidates a per-op error pass kept (big graphs)
    _saved_model: Path | None = None
    _onnx_fp32: Path | None = None
    calibrated: bytes | None = None  # TFLite float model with calibration ranges (mixed precision)
    _trial: int = 0

    def saved_model(self) -> Path:
        """`model.export` once; every TFLite mode converts from the same SavedModel."""
        if self._saved_model is None:
            path = self.workdir / "saved_model"
            self.model.export(str(path), verbose=False)
            self._saved_model = path
        return self._saved_model

    def onnx_fp32(self) -> Path:
        if self._onnx_fp32 is None:
            from convert.onnx_graph import to_onnx

            path = self.workdir / "model_fp32.onnx"
            to_onnx(self.model, path, self.opset)
            self._onnx_fp32 = path
        return self._onnx_fp32

    def scratch(self, suffix: str) -> Path:
        """A fresh file in the work folder, for candidate models that mixed-precision selection tries."""
        self._trial += 1
        return self.workdir / f"trial{self._trial:04d}{suffix}"
