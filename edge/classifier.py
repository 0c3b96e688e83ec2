"""A bundle bound to a backend: images in, labels and scores out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.backends import Backend, backend_for_format, open_backend
from edge.bundle import Bundle, load_bundle
from edge.errors import BundleError
from edge.preprocess import dequantize, prepare, quantize


def open_head(bundle: Bundle) -> Backend | None:
    """A bundle's chained head (KNN / RBF SVM as ONNX, features -> scores), hash-checked; None without one."""
    if bundle.manifest.head is None:
        return None
    return open_backend("onnx", bundle.head_path(), 1)


@dataclass(frozen=True, slots=True)
class Prediction:
    label: str
    index: int
    score: float


class Classifier:
    """Loads one model file of a bundle (hash-checked) and applies the manifest's preprocessing."""

    def __init__(self, bundle: Bundle | str, fmt: str | None = None, threads: int | None = None,
                 **backend_options: object) -> None:
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        if self.bundle.manifest.pipeline_kind == "tensors":
            raise BundleError(f"{self.bundle.manifest.name}: a tensors bundle (a model of several outputs) gives raw "
                              "tensors, not class scores: time it with edge-bench, run it with "
                              "edge.backends.open_backend")
        self.format = fmt or self.bundle.default_format()
        path = self.bundle.model_path(self.format)
        self.backend: Backend = open_backend(backend_for_format(self.format), path, threads, **backend_options)
        self.labels = self.bundle.manifest.labels
        self.head: Backend | None = None
        try:
            self.head = open_head(self.bundle)  # features -> scores, on ONNX Runtime's CPU provider
            self._check_against_manifest()
        except BaseException:
            self.close()
            raise

    def _check_against_manifest(self) -> None:
        m = self.bundle.manifest
        ins, outs = self.backend.inputs, self.backend.outputs
        if len(ins) != 1 or len(outs) != 1:
            raise BundleError(f"{m.name}: a classifier bundle needs a model with one input and one output; the "
                              f"{self.format} file has {len(ins)} inputs and {len(outs)} outputs")
        n_out = self.backend.output.shape[-1]
        if m.head is not None:
            if n_out != m.head.n_features:
                raise BundleError(f"{m.name}: head.n_features: the head takes {m.head.n_features} features but the "
                                  f"{self.format} model outputs {n_out}")
            if self.head.input.shape[-1] not in (-1, m.head.n_features):
                raise BundleError(f"{m.name}: head.n_features is {m.head.n_features} but {m.head.path} takes "
                                  f"{self.head.input.shape[-1]}")
            n_out = self.head.output.shape[-1]
        if n_out != len(m.labels):
            raise BundleError(f"{m.name}: labels: the manifest lists {len(m.labels)} labels but the "
                              f"{self.format} model outputs {n_out} scores")
        expected = tuple(m.input.shape)
        got = tuple(self.backend.input.shape[1:])
        if len(got) == len(expected) and any(g not in (-1, e) for g, e in zip(got, expected)):
            raise BundleError(f"{m.name}: input.shape: the manifest says {list(expected)} but the "
                              f"{self.format} model takes {list(got)}")
        entry = m.file(self.format)
        for side, q in (("input", entry.input_quant), ("output", entry.output_quant)):
            info = getattr(self.backend, side)
            if q is not None and (abs(q.scale - info.scale) > 1e-6 * max(q.scale, 1e-12)
                                  or q.zero_point != info.zero_point):
                raise BundleError(f"{m.name}: files[{self.format}].{side}_quant does not match the model "
                                  f"(manifest scale {q.scale} zp {q.zero_point}, model {info.scale} {info.zero_point})")

    def prepare(self, images: Sequence[np.ndarray]) -> np.ndarray:
        m = self.bundle.manifest
        return np.stack([prepare(img, m.preprocess, m.input.layout) for img in images])

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Float input batch -> float scores; quantize/de-quantize with the model's own parameters."""
        raw = self.backend.infer(quantize(x, self.backend.input))
        out = dequantize(raw, self.backend.output)
        return out if self.head is None else self.head.infer(out.astype(np.float32))

    def classify(self, images: Sequence[np.ndarray]) -> list[Prediction]:
        if not len(images):
            return []
        return self.decode(self.probabilities(self.prepare(images)))

    def decode(self, probs: np.ndarray) -> list[Prediction]:
        idx = probs.argmax(axis=1)
        return [Prediction(self.labels[i], int(i), float(p[i])) for i, p in zip(idx, probs)]

    def close(self) -> None:
        self.backend.close()
        if self.head is not None:
            self.head.close()
