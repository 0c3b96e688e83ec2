"""A tensors bundle (a model of several outputs: a detector's boxes and scores, a multi-head model) converted.

The same exporters as a classifier's; what differs is what "the same answer" means. Each file's every output
is run through the edge runtime and compared with the Keras model's same output (convert/tensor_parity.py):
SQNR, max abs diff and cosine per output, top-1 agreement only on outputs that are class distributions, and no
accuracy (there are no labels to score). The size gate applies as to any bundle; the accuracy budgets cannot,
and the report says so. Mixed precision and the int8 rewrite choose layers by class agreement, so they are
not run on such a bundle.
"""

from __future__ import annotations

import shutil

from convert import gates, parity
from convert.data import conversion_data
from convert.exporters import EXPORTERS, INT8_FORMATS, ExportContext
from convert.report import report_dict, write_reports
from convert.result import ConvertResult
from convert.tensor_parity import output_parity
from convert.user_model import predict_outputs
from edge.bundle import Bundle, describe_file, load_bundle, write_manifest
from edge.errors import EdgeSightError
from edge.preprocess import prepare_dataset


def convert_tensors(bundle: Bundle, model, cfg):
    """Export every requested format of a tensors bundle, measure each per output, decide the size gate."""
    from tqdm import tqdm

    if cfg.keep_float not in (None, ()):
        raise EdgeSightError("--keep-float picks float layers by class agreement; a model of several outputs has "
                             "no single class to agree on (convert without --keep-float)")
    m = bundle.manifest
    data = conversion_data(bundle, cfg.data_path, cfg.seed)
    x = prepare_dataset(data.x_eval[:cfg.limit_eval] if cfg.limit_eval else data.x_eval, m.preprocess,
                        m.input.layout)
    reference = predict_outputs(model, x)
    calibration = prepare_dataset(data.x_calibration[:cfg.calibration_size], m.preprocess, m.input.layout)
    ctx = ExportContext(model=model, calibration=calibration, onnx_target=cfg.onnx_target, int8_io=cfg.int8_io,
                        progress=cfg.progress)
    metrics = {"keras": output_parity(reference, reference, m.outputs)}
    entries = {"keras": describe_file(bundle.root, m.file("keras").path, "keras", metrics=metrics["keras"])}
    try:
        for fmt in tqdm(cfg.formats, desc="convert", unit="format", disable=not cfg.progress):
            exporter, filename = EXPORTERS[fmt]
            exporter(ctx, bundle.root / filename)
            got = parity.run_outputs(bundle.root / filename, fmt, x)
            metrics[fmt] = output_parity(reference, got, m.outputs)
            entries[fmt] = describe_file(bundle.root, filename, fmt, metrics=metrics[fmt])
    finally:
        shutil.rmtree(ctx.workdir, ignore_errors=True)
    return _finish(bundle, cfg, metrics, entries, f"{len(x)} images: {data.split}", "keras")


def convert_onnx_tensors(bundle: Bundle, cfg):
    """A user's ONNX model of several outputs: its fp32 file is the reference, the int8 file measured per output."""
    import numpy as np

    from convert.onnx_source import quantize_from_onnx

    m = bundle.manifest
    data = conversion_data(bundle, cfg.data_path, cfg.seed)
    x = prepare_dataset(data.x_eval[:cfg.limit_eval] if cfg.limit_eval else data.x_eval, m.preprocess,
                        m.input.layout)
    reference = parity.run_outputs(bundle.model_path("onnx-fp32"), "onnx-fp32", x)
    metrics = {"onnx-fp32": output_parity(reference, reference, m.outputs)}
    entries = {"onnx-fp32": describe_file(bundle.root, m.file("onnx-fp32").path, "onnx-fp32",
                                          metrics=metrics["onnx-fp32"])}
    for fmt, filename in quantize_from_onnx(bundle, data, cfg, np.random.default_rng(cfg.seed)).items():
        metrics[fmt] = output_parity(reference, parity.run_outputs(bundle.root / filename, fmt, x), m.outputs)
        entries[fmt] = describe_file(bundle.root, filename, fmt, metrics=metrics[fmt])
    return _finish(bundle, cfg, metrics, entries, f"{len(x)} images: {data.split}", "onnx-fp32")


def _finish(bundle: Bundle, cfg, metrics: dict, entries: dict, described: str, reference: str):
    """Manifest, gates, reports: decided once, as for a classifier bundle."""
    m = bundle.manifest
    default = cfg.default_format if cfg.default_format in entries else next(
        (f for f in INT8_FORMATS if f in entries), None)
    manifest = m.model_copy(update={"files": list(entries.values()), "default_format": default})
    write_manifest(bundle.root, type(m).model_validate(manifest.model_dump(by_alias=True)))
    gate_info = gates.decide(metrics, entries, cfg.max_drop, cfg.min_relative, cfg.max_size_kb, reference=reference)
    report = report_dict(load_bundle(bundle.root).manifest, described, gate_info, reference=reference)
    write_reports(bundle.root, report)
    return ConvertResult(bundle.root, report, gate_info["failures"])
