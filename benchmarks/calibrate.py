"""edge-bench calibrate: int8 accuracy and latency across calibration choices, for one model.

ONNX Runtime's MinMax, Entropy and Percentile calibrators and TFLite's own (MinMax) converter,
per-channel against per-tensor weights, at several calibration-set sizes: every combination is
quantized, evaluated against the Keras model on held-out data with the parity metrics, and timed
with the same loop edge-bench uses. Needs the [convert] extra (TensorFlow, tf2onnx, ORT quantization).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

METHODS = ("MinMax", "Entropy", "Percentile")
GRANULARITY = ("per-channel", "per-tensor")


def _evaluate(path: Path, fmt: str, x: np.ndarray, y: np.ndarray, reference: np.ndarray, labels: list[str],
              runs: int) -> dict:
    from benchmarks.worker import time_calls
    from convert.parity import compare, run_file
    from edge.backends import backend_for_format, open_backend
    from edge.preprocess import quantize

    probs, _, _ = run_file(path, fmt, x)
    m = compare(reference, probs, y, labels)
    backend = open_backend(backend_for_format(fmt), path, threads=1)
    ms = time_calls(backend.bind(quantize(x[:1], backend.input)), runs, max(5, runs // 10))
    backend.close()
    return {"accuracy": m.accuracy, "drop_pp": m.accuracy_drop_pp, "agreement": m.agreement, "sqnr_db": m.sqnr_db,
            "max_abs_diff": m.max_abs_diff, "p50_ms": float(np.percentile(ms, 50)), "runs": runs,
            "size_bytes": path.stat().st_size}


def sweep(ref: str, methods: tuple[str, ...] = METHODS, sizes: tuple[int, ...] = (50, 200, 500),
          granularity: tuple[str, ...] = GRANULARITY, runtimes: tuple[str, ...] = ("tflite", "onnx"),
          limit_eval: int | None = 1000, runs: int = 100, onnx_target: str = "x86", seed: int = 42,
          progress: Callable[[dict], None] | None = None, data_path: str | None = None) -> dict:
    """The sweep over the bundle's own calibration and evaluation samples, or `data_path` (convert.data)."""
    try:
        import keras  # noqa: F401 - present with the convert extra

        from convert.data import conversion_data
        from convert.exporters.context import ExportContext
        from convert.exporters.onnx_int8 import quantize_onnx
        from convert.exporters.tflite_common import convert
        from convert.keras_io import load_keras
    except ImportError as exc:
        raise RuntimeError(f"edge-bench calibrate needs the convert extra (pip install edgesight[convert]): {exc}") \
            from None
    from edge.bundle import load_bundle
    from edge.preprocess import prepare_dataset

    bundle = load_bundle(ref)
    m = bundle.manifest
    data = conversion_data(bundle, data_path, seed)
    if data.y_eval is None:
        raise ValueError("edge-bench calibrate compares accuracies: it needs labelled evaluation images")
    rng = np.random.default_rng(seed)
    n_eval = len(data.y_eval)
    idx = np.arange(n_eval) if not limit_eval else np.sort(rng.permutation(n_eval)[:limit_eval])
    x_eval, y_eval = prepare_dataset(data.x_eval[idx], m.preprocess, m.input.layout), data.y_eval[idx]
    sizes = tuple(sorted({min(s, len(data.x_calibration)) for s in sizes}))
    model = load_keras(bundle.model_path("keras"))
    reference = model.predict(x_eval, batch_size=256, verbose=0)
    ref_acc = float((reference.argmax(1) == y_eval).mean())
    order = rng.permutation(len(data.x_calibration))
    work = Path(tempfile.mkdtemp(prefix="edgesight-calibrate-"))
    ctx = ExportContext(model=model, calibration=np.empty(0), onnx_target=onnx_target, workdir=work)
    rows = []
    try:
        for size in sizes:
            ctx.calibration = prepare_dataset(data.x_calibration[order[:size]], m.preprocess, m.input.layout)
            for gran in granularity:
                per_channel = gran == "per-channel"
                jobs = []
                if "tflite" in runtimes:
                    jobs.append(("tflite", "MinMax", "tflite-int8", work / f"t_{size}_{gran}.tflite",
                                 lambda p, pc=per_channel: convert(ctx, p, "int8", per_channel=pc)))
                if "onnx" in runtimes:
                    for method in methods:
                        jobs.append(("onnx", method, "onnx-int8", work / f"o_{method}_{size}_{gran}.onnx",
                                     lambda p, mt=method, pc=per_channel: quantize_onnx(
                                         ctx.onnx_fp32(), p, ctx.calibration, onnx_target, mt, pc)))
                for runtime, method, fmt, path, make in jobs:
                    t0 = time.perf_counter()
                    make(path)
                    row = {"runtime": runtime, "method": method, "granularity": gran, "calibration_size": size,
                           "quantize_s": round(time.perf_counter() - t0, 2),
                           **_evaluate(path, fmt, x_eval, y_eval, reference, m.labels, runs)}
                    rows.append(row)
                    if progress:
                        progress(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best = max(rows, key=lambda r: (r["accuracy"], -r["p50_ms"])) if rows else None
    return {"schema": 1, "tool": "edge-bench calibrate", "bundle": m.name, "reference_accuracy": ref_acc,
            "eval_samples": len(y_eval), "eval_split": data.split, "onnx_target": onnx_target, "rows": rows,
            "best": best}


def to_markdown(result: dict) -> str:
    lines = [f"# Calibration sweep: {result['bundle']}", "",
             f"Keras fp32 accuracy {result['reference_accuracy']:.4f} on {result['eval_samples']} held-out images "
             f"({result['eval_split']}); ONNX int8 kernels for {result['onnx_target']}.", "",
             "| runtime | method | weights | calib. images | accuracy | drop pp | agreement | SQNR dB | p50 ms | "
             "quantize s |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['runtime']} | {r['method']} | {r['granularity']} | {r['calibration_size']} | "
                     f"{r['accuracy']:.4f} | {r['drop_pp']:+.2f} | {r['agreement']:.4f} | {r['sqnr_db']:.1f} | "
                     f"{r['p50_ms']:.3f} | {r['quantize_s']:.1f} |")
    if result["best"]:
        b = result["best"]
        lines += ["", f"Best: {b['runtime']} {b['method']} {b['granularity']} with {b['calibration_size']} images "
                      f"(accuracy {b['accuracy']:.4f}, p50 {b['p50_ms']:.3f} ms)."]
    return "\n".join(lines) + "\n"
