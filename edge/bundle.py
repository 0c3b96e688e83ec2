"""The model bundle: the only thing that crosses from the training side to the device.

A bundle is a folder holding model files and a versioned ``manifest.json``. ``train`` and
``convert`` write bundles; ``edge`` and ``benchmarks`` only read them. The manifest carries
everything a runtime needs to feed a model correctly (labels, input layout, preprocessing,
int8 quantization) and everything a user needs to trust it (hashes, measured accuracy,
provenance). Loading verifies the manifest and the hash of each file before it is used.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from edge.errors import BundleError
from edge.strict import FrozenModel

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
BUILTIN_DIR = Path(__file__).parent / "models"

# What the runtime does with a frame before this bundle sees it: classify the whole image, find and
# MNIST-centre the digits in it, or find the faces (detector + tracker) and classify each face; or, for a
# model that is not a classifier (a detector, an embedding or multi-head model), nothing: "tensors" bundles
# give their raw output tensors (edge.backends, edge-bench), and their parity is measured per output.
Pipeline = Literal["image", "digits", "faces", "tensors"]
# Manifests written before `pipeline` existed: what their task meant (the one place a task name decides).
LEGACY_PIPELINE = {"digits": "digits", "mask": "faces", "pain": "faces"}
Format = Literal[
    "keras",
    "tflite-fp32",
    "tflite-fp16",
    "tflite-dynamic",
    "tflite-int8",
    "onnx-fp32",
    "onnx-int8",
]


class InputSpec(FrozenModel):
    """The float tensor the preprocessing produces, without the batch axis."""

    shape: list[int] = Field(min_length=3, max_length=3, description="[H, W, C] or [C, H, W]")
    dtype: Literal["float32"] = "float32"
    layout: Literal["NHWC", "NCHW"] = "NHWC"


class Preprocess(FrozenModel):
    """How a camera frame or image file becomes the model's float input."""

    resize: list[int] = Field(min_length=2, max_length=2, description="[height, width]")
    color: Literal["gray", "rgb", "bgr"]
    scale: float = Field(gt=0, description="multiply uint8 pixels by this (1/255 for [0, 1])")
    mean: list[float] = Field(default_factory=lambda: [0.0])
    std: list[float] = Field(default_factory=lambda: [1.0])
    digit_extraction: bool = Field(
        default=False, description="older manifests' way of saying pipeline: digits (read, no longer written)"
    )


class QuantParams(FrozenModel):
    """Affine int8/uint8 quantization: real = scale * (q - zero_point)."""

    scale: float = Field(gt=0)
    zero_point: int
    dtype: Literal["int8", "uint8"]


class Metrics(FrozenModel):
    """Measured on the bundle's evaluation set; agreement and diffs are against the Keras model. Without labels
    (a user's unlabelled calibration folder) there is no accuracy, only the distance from the Keras model."""

    accuracy: float | None = Field(default=None, ge=0, le=1)
    n_samples: int = Field(gt=0)
    agreement: float | None = Field(default=None, ge=0, le=1)
    max_abs_diff: float | None = None
    sqnr_db: float | None = None
    accuracy_drop_pp: float | None = None
    per_class_accuracy: dict[str, float] = Field(default_factory=dict)
    per_output: list[OutputParity] | None = Field(default=None, description="tensors bundles: each output's "
                                                  "parity; the scalar fields above are then the worst output's")


class OutputParity(FrozenModel):
    """One output tensor of a converted file against the reference model's same output (ONNX Runtime's
    quantization debugging, per tensor): SQNR, max abs diff, mean per-sample cosine similarity, and top-1
    agreement only where the output is a class distribution."""

    name: str
    sqnr_db: float
    max_abs_diff: float
    cosine: float = Field(ge=-1.0001, le=1.0001)
    agreement: float | None = Field(default=None, ge=0, le=1)


class ModelFile(FrozenModel):
    path: str = Field(min_length=1)
    format: Format
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(gt=0)
    input_quant: QuantParams | None = None
    output_quant: QuantParams | None = None
    metrics: Metrics | None = None
    float_layers: list[str] | None = Field(
        default=None, description="Keras layers this int8 file keeps in float (mixed precision), chosen by "
        "edge-convert --keep-float on the validation split")


class HeadSpec(FrozenModel):
    """A classifier head run after the model file: the model outputs features, the head turns them into scores.

    KNN and kernel SVMs have no exact single-graph form, so they ship as a scikit-learn ONNX model
    (skl2onnx) that the runtime chains after whichever model format runs; its hash is checked like any file.
    """

    path: str = Field(min_length=1)
    kind: Literal["knn", "svm-rbf"]
    format: Literal["onnx-sklearn"] = "onnx-sklearn"
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(gt=0)
    n_features: int = Field(gt=0, description="the model file's output width, the head's input width")


class Evaluation(FrozenModel):
    dataset: str
    split: str
    n_samples: int = Field(gt=0)
    sample_file: str | None = Field(
        default=None, description="a small stratified sample shipped in the bundle (npz: x uint8, y int)"
    )


class Calibration(FrozenModel):
    """Training images shipped in the bundle for int8 calibration, so the converter needs no dataset code."""

    sample_file: str = Field(min_length=1, description="npz: x uint8 (N, H, W, C), from the training split")
    n_samples: int = Field(gt=0)
    split: str = Field(description="how the images were drawn, e.g. 'training split, 300 at random, seed 42'")
    selection_file: str | None = Field(default=None, description="npz: x uint8, validation images mixed-precision "
                                       "int8 chooses its float layers on (edge-convert --keep-float auto)")


class Provenance(FrozenModel):
    dataset: str
    split: str
    seed: int
    epochs: int | None = None
    recipe: str
    library_versions: dict[str, str] = Field(default_factory=dict)
    git_commit: str | None = None
    created: str
    notes: str | None = None


class OutputSpec(FrozenModel):
    """One output of a tensors bundle's model, in the reference model's order."""

    name: str = Field(min_length=1)
    shape: list[int] = Field(description="without the batch axis")
    scores: bool = Field(description="a class distribution (rows of non-negative values summing to 1), so top-1 "
                         "agreement is measured on it")


class Manifest(FrozenModel):
    schema_version: Literal[1] = Field(alias="schema")
    name: str = Field(min_length=1)
    task: str = Field(min_length=1, description="what the model does, in a word (digits, mask, pain, ...); "
                      "informative: `pipeline` says how the runtime feeds it")
    pipeline: Pipeline | None = Field(default=None, description="image | digits | faces | tensors (default: from "
                                      "the task for older manifests, else image)")
    labels: list[str] = Field(default_factory=list, description="class names, in output order (at least two; "
                              "none for a tensors bundle)")
    outputs: list[OutputSpec] | None = Field(default=None, description="tensors bundles: the model's outputs")
    input: InputSpec
    preprocess: Preprocess
    files: list[ModelFile] = Field(min_length=1)
    default_format: Format | None = None
    head: HeadSpec | None = Field(default=None, description="a head chained after the model (see HeadSpec)")
    evaluation: Evaluation | None = None
    calibration: Calibration | None = None
    provenance: Provenance

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        formats = [f.format for f in self.files]
        dupes = sorted({f for f in formats if formats.count(f) > 1})
        if dupes:
            raise ValueError(f"files: format listed more than once: {', '.join(dupes)}")
        if self.default_format is not None and self.default_format not in formats:
            raise ValueError(f"default_format: {self.default_format!r} is not among files")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels: duplicate label names")
        if self.pipeline_kind != "tensors" and len(self.labels) < 2:
            raise ValueError("labels: a classifier bundle needs at least two labels")
        if self.pipeline_kind == "tensors" and not self.outputs:
            raise ValueError("outputs: a tensors bundle lists its model's outputs")
        return self

    @property
    def pipeline_kind(self) -> str:
        """The runtime pipeline this bundle wants (see Pipeline)."""
        if self.pipeline is not None:
            return self.pipeline
        if self.preprocess.digit_extraction:
            return "digits"
        return LEGACY_PIPELINE.get(self.task, "image")

    def file(self, fmt: str) -> ModelFile:
        for f in self.files:
            if f.format == fmt:
                return f
        have = ", ".join(f.format for f in self.files)
        raise BundleError(f"bundle {self.name!r} has no {fmt} file (it has: {have})")

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True, exclude_none=True), indent=2) + "\n"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def describe_file(root: Path, rel: str, fmt: str, **extra: object) -> ModelFile:
    """Hash and size a file in a bundle folder; used by the writers (train, convert)."""
    path = root / rel
    return ModelFile(path=rel, format=fmt, sha256=sha256_file(path), size_bytes=path.stat().st_size, **extra)


def _format_validation_error(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{loc}: {first['msg']}{more}"


def parse_manifest(text: str, origin: str = "manifest.json") -> Manifest:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{origin}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise BundleError(f"{origin}: expected a JSON object")
    if data.get("schema") not in (None, SCHEMA_VERSION):
        raise BundleError(
            f"{origin}: schema {data.get('schema')!r} is not supported by this EdgeSight "
            f"(it reads schema {SCHEMA_VERSION}); upgrade edgesight or re-convert the bundle"
        )
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise BundleError(f"{origin}: invalid manifest: {_format_validation_error(exc)}") from None


def builtin_names() -> list[str]:
    if not BUILTIN_DIR.is_dir():
        return []
    return sorted(p.name for p in BUILTIN_DIR.iterdir() if (p / MANIFEST_NAME).is_file())


def resolve(ref: str | Path) -> Path:
    """A bundle folder from a path, a path to its manifest, or a built-in name."""
    path = Path(ref)
    if path.is_file() and path.name == MANIFEST_NAME:
        path = path.parent
    if path.is_dir():
        if not (path / MANIFEST_NAME).is_file():
            raise BundleError(f"{path}: no {MANIFEST_NAME} here; is this a bundle folder?")
        return path
    if path.exists():
        raise BundleError(f"{path}: expected a bundle folder (with {MANIFEST_NAME}), got a file")
    builtin = BUILTIN_DIR / str(ref)
    if "/" not in str(ref) and (builtin / MANIFEST_NAME).is_file():
        return builtin
    names = ", ".join(builtin_names()) or "none installed"
    raise BundleError(f"{ref}: no such bundle folder or built-in bundle (built-ins: {names})")


@dataclass(frozen=True)
class Bundle:
    root: Path
    manifest: Manifest

    @property
    def name(self) -> str:
        return self.manifest.name

    def model_path(self, fmt: str, verify: bool = True) -> Path:
        """The path of one model file, checked against the manifest's size and hash."""
        entry = self.manifest.file(fmt)
        path = self.root / entry.path
        if not path.is_file():
            raise BundleError(f"{self.name}: files[{fmt}].path: {path} is missing")
        if verify:
            verify_file(path, entry)
        return path

    def verify_all(self) -> None:
        for entry in self.manifest.files:
            self.model_path(entry.format, verify=True)
        if self.manifest.head is not None:
            self.head_path()

    def head_path(self) -> Path:
        """The chained head's file, checked against the manifest's size and hash."""
        head = self.manifest.head
        if head is None:
            raise BundleError(f"{self.name}: no chained head in this bundle")
        path = self.root / head.path
        if not path.is_file():
            raise BundleError(f"{self.name}: head.path: {path} is missing")
        verify_file(path, head, "manifest head")
        return path

    def default_format(self) -> str:
        """The manifest's choice, else int8 TFLite, else the first deployable file."""
        formats = [f.format for f in self.manifest.files]
        if self.manifest.default_format:
            return self.manifest.default_format
        for fmt in ("tflite-int8", "tflite-fp32", "onnx-int8", "onnx-fp32", "tflite-fp16", "tflite-dynamic"):
            if fmt in formats:
                return fmt
        raise BundleError(f"{self.name}: no format the edge runtime can run (it has: {', '.join(formats)})")


def verify_file(path: Path, entry: ModelFile | HeadSpec, where: str | None = None,
                advice: str = "re-convert or re-download the bundle", error: type[Exception] = BundleError) -> None:
    """Size, then sha256, against what the manifest (or the detector catalog) recorded; `error` on a mismatch."""
    where = where or f"manifest files[{entry.format}]"
    size = path.stat().st_size
    if size != entry.size_bytes:
        raise error(f"{path}: size {size} does not match {where}.size_bytes {entry.size_bytes}; the file is "
                    f"truncated or replaced — {advice}")
    if sha256_file(path) != entry.sha256:
        raise error(f"{path}: sha256 does not match {where}.sha256; the file was modified or corrupted — {advice}")


def load_bundle(ref: str | Path) -> Bundle:
    root = resolve(ref)
    manifest_path = root / MANIFEST_NAME
    try:
        text = manifest_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"{manifest_path}: cannot read ({exc})") from None
    return Bundle(root=root, manifest=parse_manifest(text, str(manifest_path)))


def write_manifest(root: Path, manifest: Manifest) -> Path:
    path = Path(root) / MANIFEST_NAME
    path.write_text(manifest.to_json(), encoding="utf-8")
    return path


def json_schema() -> dict:
    """The JSON schema that documents the manifest (committed as edge/schema/manifest.schema.json)."""
    schema = Manifest.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "EdgeSight bundle manifest"
    return schema


def verify_files(ref: str | Path) -> list[str]:
    """Check every file a bundle lists (size + sha256); returns the formats. BundleError on the first bad one."""
    bundle = load_bundle(ref)
    bundle.verify_all()
    return [entry.format for entry in bundle.manifest.files] + (["head"] if bundle.manifest.head else [])


if __name__ == "__main__":  # `python -m edge.bundle` prints the manifest JSON schema (make schema)
    import sys

    if sys.argv[1:2] == ["--verify"]:  # `python -m edge.bundle --verify DIR`: used by the fleet roll-out
        try:
            print(json.dumps({"bundle": sys.argv[2], "verified": verify_files(sys.argv[2])}))
        except BundleError as exc:
            print(f"edge.bundle: error: {exc}", file=sys.stderr)
            sys.exit(1)
    else:
        print(json.dumps(json_schema(), indent=2))
