"""The Backend protocol every inference runtime implements, and the tensor facts it reports.

A backend runs one model file with N inputs and N outputs, the way Frigate's runners do: `run` takes a
dict of input tensors by name and returns the outputs as a list, in the model's output order. Classifiers
(one input, one output) use the `infer` shorthand; detectors (one image in, boxes and scores out) use `run`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


Feeds = Mapping[str, np.ndarray]


@runtime_checkable
class Backend(Protocol):
    """One loaded model. Tensors go in and come out raw, in the model's own dtypes."""

    name: str
    runtime: str
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]

    def run(self, feeds: Feeds) -> list[np.ndarray]:
        """Every output, in `outputs` order, for the input tensors named in `feeds`."""
        ...

    def bind(self, feeds: Feeds) -> Callable[[], object]:
        """Bind the inputs and return a zero-argument call that runs the model on them (for timing)."""
        ...

    def close(self) -> None: ...


class SingleTensorMixin:
    """`input`, `output` and `infer` for the common case of one input and one output (a classifier)."""

    inputs: list[TensorInfo]
    outputs: list[TensorInfo]

    @property
    def input(self) -> TensorInfo:
        return self.inputs[0]

    @property
    def output(self) -> TensorInfo:
        return self.outputs[0]

    def feeds(self, batch: np.ndarray | Feeds) -> Feeds:
        """A bare array is the first input's tensor; a mapping is passed as it is."""
        return batch if isinstance(batch, Mapping) else {self.inputs[0].name: batch}

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """The first output for a batch on the first input."""
        return self.run(self.feeds(batch))[0]

    def run(self, feeds: Feeds) -> list[np.ndarray]:  # pragma: no cover - every backend defines it
        raise NotImplementedError


def check_feeds(feeds: Feeds, inputs: list[TensorInfo], where: str) -> None:
    """Every model input fed, nothing else: a wrong name is a clear error, not a native crash."""
    names = [t.name for t in inputs]
    missing = [n for n in names if n not in feeds]
    extra = [n for n in feeds if n not in names]
    if missing or extra:
        from edge.errors import InferenceError

        raise InferenceError(f"{where}: inputs {names} expected; missing {missing or 'none'}, "
                             f"unknown {extra or 'none'}")


def import_runtime(module: str, advice: str):
    """The runtime's Python module, or BackendUnavailable saying how to install it: an uninstalled runtime is a row
    "skipped: reason" and a one-line error, never a crash at import."""
    import importlib

    from edge.errors import BackendUnavailable

    try:
        return importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - a broken install raises anything
        raise BackendUnavailable(f"{module} is not installed ({type(exc).__name__}); {advice}") from None

