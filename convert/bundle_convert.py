"""Bundle in, bundle out: every requested format exported, evaluated and recorded in the manifest."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convert import gates, parity
from convert.data import ConvertData, conversion_data
from convert.exporters import EXPORTERS, INT8_FORMATS, ExportContext
from convert.keras_io import load_keras
from convert.report import report_dict, write_reports
from convert.result import ConvertResult
from edge.bundle import MANIFEST_NAME, Bundle, describe_file, load_bundle, write_manifest
from edge.errors import EdgeSightError
from edge.preprocess import prepare_dataset

DEFAULT_FORMATS = ("tflite-fp32", "tflite-fp16", "tflite-dynamic", "tflite-int8", "onnx-fp32", "onnx-int8")


@dataclass
class ConvertConfig:
    formats: tuple[str, ...] = DEFAULT_FORMATS
    out: Path | None = None  # None: convert in place
    calibration_size: int = 300
    onnx_target: str = "x86"
    data_path: str | None = None  # default: the bundle's own calibration and evaluation samples
    limit_eval: int | None = None
    max_drop: float | None = None
    min_relative: float | None = None
    max_size_kb: float | None = None
    seed: int = 42
    default_format: str = "tflite-int8"
    int8_io: str = "int8"  # TFLite int8 input/output type: "int8" or "float"
    keep_float: str | tuple[str, ...] | None = None  # int8 files: None, "auto" or Keras layer names
    mixed_target: float = 0.99  # "auto": validation agreement with Keras to reach
    mixed_max_layers: int = 3
    selection_size: int = 1000  # "auto": validation images the layers are chosen on
    rewrite: str = "auto"  # int8 files from a float-exact int8-friendly rewrite (convert/equalize.py): auto | off
    progress: bool = True




def _prepare_out(src: Bundle, out: Path | None) -> Bundle:
    if out is None or Path(out).resolve() == src.root.resolve():
        return src
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not (out / MANIFEST_NAME).is_file():
            raise EdgeSightError(f"{out}: exists and is not a bundle; choose an empty or new folder")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    reference = "keras" if _has(src, "keras") else "onnx-fp32"
    keep = {src.manifest.file(reference).path, MANIFEST_NAME}
    if src.manifest.evaluation and src.manifest.evaluation.sample_file:
        keep.add(src.manifest.evaluation.sample_file)
    if src.manifest.calibration is not None:
        keep.add(src.manifest.calibration.sample_file)
        if src.manifest.calibration.selection_file:
            keep.add(src.manifest.calibration.selection_file)
    if src.manifest.head is not None:
        keep.add(src.manifest.head.path)
    for name in keep:
        shutil.copy2(src.root / name, out / name)
    return load_bundle(out)


def _has(bundle: Bundle, fmt: str) -> bool:
    return any(f.format == fmt for f in bundle.manifest.files)


def _chained_head(bundle: Bundle):
    """The bundle's chained head (KNN / RBF SVM as ONNX) as a function of features; identity without one."""
    from edge.classifier import open_head

    backend = open_head(bundle)
    if backend is None:
        return lambda out: out
    return lambda feats: backend.infer(np.asarray(feats, np.float32))


def _selection(data: ConvertData, calib_idx: np.ndarray, m, model, head, cfg: ConvertConfig,
               rng: np.random.Generator):
    """The split float layers are chosen on: the validation split, else training images not used to calibrate."""
    from convert.mixed_precision import Selection

    if data.x_selection is not None and len(data.x_selection):
        x, where = data.x_selection, "validation split"
    else:
        rest = np.setdiff1d(np.arange(len(data.x_calibration)), calib_idx)
        x, where = data.x_calibration[rest], "training images not used for calibration (no validation split)"
    if not len(x):
        raise EdgeSightError("--keep-float auto needs validation images: give --data with a Validation/ split, or "
                             "more calibration images than --calibration-size")
    if len(x) > cfg.selection_size:
        x = x[np.sort(rng.permutation(len(x))[:cfg.selection_size])]
    x = prepare_dataset(x, m.preprocess, m.input.layout)
    reference = head(model.predict(x, batch_size=256, verbose=0))
    return Selection(x=x, reference=reference, source=f"{where}, {len(x)} images", head=head,
                     target=cfg.mixed_target, max_layers=cfg.mixed_max_layers)


def _int8_context(ctx: ExportContext, cfg: ConvertConfig):
    """The context the int8 exporters use: the float-exact rewrite's when it changes anything, else `ctx`."""
    if cfg.rewrite == "off" or not any(f in INT8_FORMATS for f in cfg.formats):
        return ctx, None
    from convert.equalize import rewrite_for_int8

    if ctx.progress:
        print("int8 rewrite: looking for unfoldable BatchNorms and concats to equalize", file=sys.stderr)
    rewrite = rewrite_for_int8(ctx.model, ctx.calibration[:64])
    if not rewrite.changed:
        return ctx, (rewrite if rewrite.skipped else None)
    qctx = ExportContext(model=rewrite.model, calibration=ctx.calibration, onnx_target=ctx.onnx_target,
                         int8_io=ctx.int8_io, keep_float=ctx.keep_float, selection=ctx.selection,
                         progress=ctx.progress, mixed=ctx.mixed, prescreen=ctx.prescreen)
    return qctx, rewrite


@dataclass
class _Measured:
    """The evaluation images and the Keras model's answers on them, that every file is compared with."""

    x: np.ndarray
    y: np.ndarray
    reference: np.ndarray
    description: str


def _evaluation(data: ConvertData, m, model, head, cfg: ConvertConfig, rng: np.random.Generator) -> _Measured:
    x_u8, y = data.x_eval, data.y_eval
    if cfg.limit_eval and cfg.limit_eval < len(x_u8):
        idx = np.sort(rng.permutation(len(x_u8))[:cfg.limit_eval])
        x_u8, y = x_u8[idx], y[idx] if y is not None else None
    x = prepare_dataset(x_u8, m.preprocess, m.input.layout)
    reference = head(model.predict(x, batch_size=256, verbose=0))
    return _Measured(x, y, reference, f"{len(x)} held-out images: {data.split}")


def _export_all(bundle: Bundle, cfg: ConvertConfig, ctx: ExportContext, qctx: ExportContext, measured: _Measured,
                head) -> tuple[dict, dict]:
    """Every requested file written, run through the edge runtime and compared; (manifest entries, metrics)."""
    from tqdm import tqdm

    m = bundle.manifest
    keras_metrics = parity.compare(measured.reference, measured.reference, measured.y, m.labels)
    entries = {"keras": describe_file(bundle.root, m.file("keras").path, "keras", metrics=keras_metrics)}
    metrics = {"keras": keras_metrics}
    for fmt in tqdm(cfg.formats, desc="convert", unit="format", disable=not cfg.progress):
        exporter, filename = EXPORTERS[fmt]
        exporter(qctx if fmt in INT8_FORMATS else ctx, bundle.root / filename)
        probs, tin, tout = parity.run_file(bundle.root / filename, fmt, measured.x)
        metrics[fmt] = parity.compare(measured.reference, head(probs), measured.y, m.labels)
        quant = {side: {"scale": info.scale, "zero_point": info.zero_point, "dtype": info.dtype}
                 for side, info in (("input_quant", tin), ("output_quant", tout)) if info.quantized}
        if fmt in ctx.mixed and ctx.mixed[fmt].layers:
            quant["float_layers"] = ctx.mixed[fmt].layers
        entries[fmt] = describe_file(bundle.root, filename, fmt, metrics=metrics[fmt], **quant)
    return entries, metrics


def convert_bundle(ref: str | Path, cfg: ConvertConfig) -> ConvertResult:
    """Export every format, measure each through the edge runtime, decide the gates, write manifest and reports."""
    unknown = [f for f in cfg.formats if f not in EXPORTERS]
    if unknown:
        raise EdgeSightError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(EXPORTERS)}")
    bundle = _prepare_out(load_bundle(ref), cfg.out)
    if not _has(bundle, "keras"):
        return _convert_onnx_only(bundle, cfg)
    m = bundle.manifest
    model = load_keras(bundle.model_path("keras"))
    # Re-save uncompiled: optimizer state is training baggage (it doubles the file for RMSprop).
    model.save(bundle.root / m.file("keras").path)
    if m.pipeline_kind == "tensors":
        from convert.tensor_convert import convert_tensors

        return convert_tensors(bundle, model, cfg)
    data = conversion_data(bundle, cfg.data_path, cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    head = _chained_head(bundle)  # identity unless the bundle chains a head after the model
    measured = _evaluation(data, m, model, head, cfg, rng)
    calib_idx = rng.permutation(len(data.x_calibration))[:cfg.calibration_size]
    calibration = prepare_dataset(data.x_calibration[calib_idx], m.preprocess, m.input.layout)
    selection = _selection(data, calib_idx, m, model, head, cfg, rng) if cfg.keep_float == "auto" else None
    ctx = ExportContext(model=model, calibration=calibration, onnx_target=cfg.onnx_target,
                        int8_io=cfg.int8_io, keep_float=cfg.keep_float, selection=selection,
                        progress=cfg.progress)
    qctx, rewrite = _int8_context(ctx, cfg)
    try:
        entries, metrics = _export_all(bundle, cfg, ctx, qctx, measured, head)
    finally:
        shutil.rmtree(ctx.workdir, ignore_errors=True)
        shutil.rmtree(qctx.workdir, ignore_errors=True)
    return _record(bundle, cfg, entries, metrics, measured.description, ctx, rewrite)  # qctx shares ctx.mixed


def _record(bundle: Bundle, cfg: ConvertConfig, entries: dict, metrics: dict, described: str, ctx: ExportContext,
            rewrite) -> ConvertResult:
    """The manifest's new file list, the gates decided once, and the report that says both."""
    m = bundle.manifest
    default = cfg.default_format if cfg.default_format in entries else None
    manifest = m.model_copy(update={"files": list(entries.values()), "default_format": default})
    write_manifest(bundle.root, type(m).model_validate(manifest.model_dump(by_alias=True)))
    gate_info = gates.decide(metrics, entries, cfg.max_drop, cfg.min_relative, cfg.max_size_kb)
    report = report_dict(load_bundle(bundle.root).manifest, described, gate_info)
    if ctx.mixed:
        screened = {"prescreened": ctx.prescreen["layers"]} if "layers" in ctx.prescreen else {}
        report["mixed_precision"] = {fmt: outcome.as_dict() | screened for fmt, outcome in ctx.mixed.items()}
    if rewrite is not None:
        report["int8_rewrite"] = rewrite.as_dict()
    write_reports(bundle.root, report)
    return ConvertResult(bundle.root, report, gate_info["failures"])


def _convert_onnx_only(bundle: Bundle, cfg: ConvertConfig) -> ConvertResult:
    """A user's ONNX model: the fp32 file is the reference, the int8 file is measured against it."""
    from convert.onnx_source import quantize_from_onnx

    m = bundle.manifest
    if m.pipeline_kind == "tensors":
        from convert.tensor_convert import convert_onnx_tensors

        return convert_onnx_tensors(bundle, cfg)
    data = conversion_data(bundle, cfg.data_path, cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    head = _chained_head(bundle)
    fp32 = bundle.model_path("onnx-fp32")
    x_u8, y = data.x_eval, data.y_eval
    if cfg.limit_eval and cfg.limit_eval < len(x_u8):
        idx = np.sort(rng.permutation(len(x_u8))[:cfg.limit_eval])
        x_u8, y = x_u8[idx], y[idx] if y is not None else None
    x = prepare_dataset(x_u8, m.preprocess, m.input.layout)
    reference = head(parity.run_file(fp32, "onnx-fp32", x)[0])
    metrics = {"onnx-fp32": parity.compare(reference, reference, y, m.labels)}
    entries = {"onnx-fp32": describe_file(bundle.root, m.file("onnx-fp32").path, "onnx-fp32",
                                          metrics=metrics["onnx-fp32"])}
    for fmt, filename in quantize_from_onnx(bundle, data, cfg, rng).items():
        probs, tin, tout = parity.run_file(bundle.root / filename, fmt, x)
        metrics[fmt] = parity.compare(reference, head(probs), y, m.labels)
        entries[fmt] = describe_file(bundle.root, filename, fmt, metrics=metrics[fmt])
    default = cfg.default_format if cfg.default_format in entries else "onnx-int8" if "onnx-int8" in entries else None
    manifest = m.model_copy(update={"files": list(entries.values()), "default_format": default})
    write_manifest(bundle.root, type(m).model_validate(manifest.model_dump(by_alias=True)))
    gate_info = gates.decide(metrics, entries, cfg.max_drop, cfg.min_relative, cfg.max_size_kb, reference="onnx-fp32")
    report = report_dict(load_bundle(bundle.root).manifest, f"{len(x)} held-out images: {data.split}", gate_info,
                         reference="onnx-fp32")
    write_reports(bundle.root, report)
    return ConvertResult(bundle.root, report, gate_info["failures"])
