"""A user's ONNX model (from PyTorch, scikit-learn, another exporter) into a bundle, converted to ONNX int8.

`edge-convert model.onnx --data FOLDER --preprocess PRESET --out B`: the fp32 file is the reference (there
is no Keras model), ONNX Runtime's static QDQ quantization makes the int8 file from the bundle's calibration
images, and parity is measured exactly as for Keras bundles (accuracy where there are labels, agreement,
SQNR, max abs diff) through the edge runtime. NCHW (PyTorch) and NHWC inputs are both read from the graph.
TFLite from ONNX needs onnx2tf, which pulls TensorFlow and onnx-graphsurgeon: when it is installed,
`--formats tflite-fp32 tflite-int8` go through it; when not, those formats are refused with that advice.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from convert.data import ConvertData, from_path
from convert.user_model import (
    PreprocessChoice,
    choose_preset_only,
    imported_provenance,
    new_bundle_folder,
    write_samples,
)
from edge.bundle import InputSpec, Manifest, describe_file, write_manifest
from edge.errors import EdgeSightError

ONNX_FORMATS = ("onnx-fp32", "onnx-int8")
ONNX_LIBRARIES = ("edgesight", "onnx", "onnxruntime", "numpy")


def graph_io(path: Path) -> tuple[tuple[int, ...], str, list[str]]:
    """((H, W, C) or (C, H, W), layout, output names) of a one-input image model."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError and friends
        raise EdgeSightError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None
    init = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init]
    if len(inputs) != 1:
        raise EdgeSightError(f"{path}: the model takes {len(inputs)} inputs; a classifier bundle takes one image")
    dims = [d.dim_value if d.dim_value > 0 else None for d in inputs[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or None in dims[1:]:
        raise EdgeSightError(f"{path}: input shape {dims}: expected a fixed 4-D image (N, C, H, W) or (N, H, W, C)")
    layout = "NCHW" if dims[1] in (1, 3) and dims[3] not in (1, 3) else "NHWC"
    return tuple(dims[1:]), layout, [o.name for o in model.graph.output]


def _scores(path: Path) -> int:
    """The width of a one-output classifier's scores (the last axis of its output)."""
    import onnx

    out = onnx.load(str(path), load_external_data=False).graph.output[0]
    return int(out.type.tensor_type.shape.dim[-1].dim_value)


def bundle_from_onnx(model_path: Path, data_path: Path, out: Path, labels: list[str] | None = None,
                     said: PreprocessChoice = PreprocessChoice(), seed: int = 42, name: str | None = None) -> Path:
    """Write a bundle (model_fp32.onnx, manifest, samples) from a user's ONNX model and data."""
    shape, layout, outputs = graph_io(model_path)
    c, h, w = shape if layout == "NCHW" else (shape[2], shape[0], shape[1])
    preprocess, how = choose_preset_only((h, w), c, said, "an ONNX graph carries no Rescaling layer to read")
    data = from_path(data_path, (h, w), preprocess.color, labels, seed)
    if len(outputs) > 1:
        return _tensors_bundle(model_path, data, out, shape, layout, preprocess, how, outputs, seed, name)
    n_out = _scores(model_path)
    labels = labels or data.labels
    if labels is None or len(labels) != n_out:
        raise EdgeSightError(f"the model gives {n_out} scores but the data has "
                             f"{len(labels) if labels else 'no'} classes ({labels}); give the matching folder or "
                             "--labels")
    out = new_bundle_folder(out)
    shutil.copy2(model_path, out / "model_fp32.onnx")
    evaluation, calibration = write_samples(out, data, seed)
    write_manifest(out, Manifest(
        schema=1, name=name or Path(model_path).stem, task="classify", pipeline="image", labels=list(labels),
        input=InputSpec(shape=list(shape), layout=layout), preprocess=preprocess,
        files=[describe_file(out, "model_fp32.onnx", "onnx-fp32")], evaluation=evaluation, calibration=calibration,
        provenance=imported_provenance(model_path, data, seed, f"trained elsewhere, ONNX {layout}; preprocessing {how}",
                                       ONNX_LIBRARIES),
    ))
    return out


def _tensors_bundle(model_path: Path, data: ConvertData, out: Path, shape: tuple[int, ...], layout: str,
                    preprocess, how: str, outputs: list[str], seed: int, name: str | None) -> Path:
    """An ONNX model of several outputs: a tensors bundle, measured per output (convert/tensor_parity.py)."""
    from convert.parity import run_outputs
    from convert.tensor_parity import describe_outputs
    from edge.preprocess import prepare_dataset

    out = new_bundle_folder(out)
    shutil.copy2(model_path, out / "model_fp32.onnx")
    _, calibration = write_samples(out, ConvertData(data.x_calibration, data.x_eval, None, None, None, data.source,
                                                    data.split), seed)
    probe = run_outputs(out / "model_fp32.onnx", "onnx-fp32",
                        prepare_dataset(data.x_calibration[:16], preprocess, layout))
    write_manifest(out, Manifest(
        schema=1, name=name or Path(model_path).stem, task="tensors", pipeline="tensors",
        outputs=describe_outputs(probe, outputs), input=InputSpec(shape=list(shape), layout=layout),
        preprocess=preprocess, files=[describe_file(out, "model_fp32.onnx", "onnx-fp32")], calibration=calibration,
        provenance=imported_provenance(model_path, data, seed, f"trained elsewhere, ONNX {layout}, "
                                       f"{len(outputs)} outputs; preprocessing {how}", ONNX_LIBRARIES)))
    return out


def quantize_from_onnx(bundle, data: ConvertData, cfg, rng: np.random.Generator) -> dict:
    """The onnx-int8 file of an ONNX-only bundle: ORT static QDQ on the calibration images."""
    from convert.exporters.onnx_int8 import quantize_onnx
    from edge.preprocess import prepare_dataset

    m = bundle.manifest
    unsupported = [f for f in cfg.formats if f not in ONNX_FORMATS]
    if unsupported:
        raise EdgeSightError(f"{', '.join(unsupported)}: an ONNX-only bundle converts to {', '.join(ONNX_FORMATS)}; "
                             "TFLite from ONNX needs onnx2tf (pip install onnx2tf onnx-graphsurgeon sng4onnx), "
                             "which this converter does not run")
    if cfg.keep_float:
        raise EdgeSightError("--keep-float names Keras layers; an ONNX-only bundle has none")
    idx = rng.permutation(len(data.x_calibration))[:cfg.calibration_size]
    calibration = prepare_dataset(data.x_calibration[idx], m.preprocess, m.input.layout)
    written = {}
    if "onnx-int8" in cfg.formats:
        quantize_onnx(bundle.root / "model_fp32.onnx", bundle.root / "model_int8.onnx", calibration, cfg.onnx_target)
        written["onnx-int8"] = "model_int8.onnx"
    return written
