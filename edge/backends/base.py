"""The Backend protocol every inference runtime implements, and the tensor facts it reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # -1 for a dynamic axis
    dtype: str  # numpy dtype name: float32, int8, uint8
    scale: float = 0.0  # quantization; 0.0 when the tensor is not quantized
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        return self.scale > 0 and self.dtype in ("int8", "uint8")


@runtime_checkable
class Backend(Protocol):
    """One loaded model. `infer` takes and returns raw tensors in the model's own dtypes."""

    name: str
    input: TensorInfo
    output: TensorInfo

    def infer(self, batch: np.ndarray) -> np.ndarray: ...

    def bind(self, batch: np.ndarray) -> Callable[[], object]:
        """Bind an input and return a zero-argument call that runs the model on it (for timing)."""
        ...

    def close(self) -> None: ...


class BackendFactory(Protocol):
    def __call__(self, path: Path, threads: int | None = None, **options: object) -> Backend: ...
