"""One configuration, measured in a process of its own (so peak RSS is its own and a crash is contained).

    python -m benchmarks.worker '<config json>' '<settings json>'  ->  one JSON object on stdout

The timed operation is the runtime's own invoke with the input already bound, as TFLite's
benchmark_model does; Keras is timed as `model.predict` on one image, the way the papers ran it.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.configs import BenchConfig
from benchmarks.coverage import onnx_coverage, tflite_coverage


def time_calls(call, runs: int, warmup: int, min_seconds: float = 0.0) -> np.ndarray:
    """The timing loop edge-bench uses everywhere (and benchmarks/overhead.py holds to account), in ms."""
    for _ in range(warmup):
        call()
    times: list[float] = []
    perf = time.perf_counter
    deadline = perf() + min_seconds
    while len(times) < runs or perf() < deadline:
        t0 = perf()
        call()
        times.append(perf() - t0)
    return np.asarray(times) * 1000


def _rss_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _model_file(cfg: BenchConfig) -> tuple[Path, object]:
    path = Path(cfg.model)
    if path.is_dir():
        from edge.bundle import load_bundle

        bundle = load_bundle(path)
        return bundle.model_path(cfg.format), bundle
    return path, None


def _eval_data(bundle, dataset: str | None):
    """(uint8 images, labels) from --dataset (npz x/y) or the bundle's shipped sample."""
    if dataset:
        with np.load(dataset) as d:
            return d["x"], d["y"]
    if bundle is not None:
        from benchmarks.runner import eval_sample

        return eval_sample(bundle)
    return None


def _open(cfg: BenchConfig, path: Path):
    """The loaded model: a Keras model or an edge backend."""
    if cfg.backend == "keras":  # the reference row: Keras (and the project's Keras layers) only here, lazily
        from convert.keras_io import load_keras

        return load_keras(path)
    from edge.backends import open_backend

    options: dict = {}
    if cfg.backend == "tflite":
        options["xnnpack"] = cfg.xnnpack
        if cfg.delegate:
            from benchmarks.configs import EDGETPU_LIB, GPU_DELEGATE_LIBS
            from edge.backends.tflite import load_interpreter_module

            _, module = load_interpreter_module()
            lib = EDGETPU_LIB if cfg.delegate == "edgetpu" else GPU_DELEGATE_LIBS[0]
            options["delegates"] = [module.load_delegate(lib)]
    else:
        options["provider"] = cfg.provider or "CPUExecutionProvider"
    return open_backend(cfg.backend, path, cfg.threads, **options)


def random_feeds(runner, input_shape: list[int] | None = None) -> dict[str, np.ndarray]:
    """Random tensors for every input of a bare model file, in its own dtypes; `input_shape` resizes the first
    input first (a fully convolutional detector timed at the resolution it runs at)."""
    if input_shape:
        if not hasattr(runner, "reshape"):
            raise ValueError(f"--input-shape: the {runner.name} backend cannot resize inputs")
        runner.reshape({runner.inputs[0].name: list(input_shape)})
    rng = np.random.default_rng(0)
    feeds = {}
    for info in runner.inputs:
        shape = [d if d > 0 else 1 for d in info.shape]
        if np.issubdtype(np.dtype(info.dtype), np.integer):
            feeds[info.name] = rng.integers(-8, 8, shape).astype(info.dtype)
        else:
            feeds[info.name] = rng.random(shape, dtype=np.float32).astype(info.dtype)
    return feeds


def _timed_call(cfg: BenchConfig, runner, x1: np.ndarray):
    if cfg.backend == "keras":
        return lambda: runner.predict(x1, verbose=0)
    from edge.preprocess import quantize

    q = quantize(x1, runner.input)
    return runner.bind(q)


def _coverage(cfg: BenchConfig, runner, path: Path, feeds: dict) -> dict | None:
    if cfg.backend == "tflite":
        return tflite_coverage(runner.ops_details())
    if cfg.backend == "onnx":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.enable_profiling = True
        opts.log_severity_level = 3
        with tempfile.TemporaryDirectory() as tmp:
            opts.profile_file_prefix = str(Path(tmp) / "prof")
            sess = ort.InferenceSession(str(path), sess_options=opts, providers=[cfg.provider])
            sess.run(None, feeds)
            return onnx_coverage(sess.end_profiling())
    return None


def measure(cfg: BenchConfig, settings: dict) -> dict:
    from edge.preprocess import dequantize, prepare_dataset, quantize

    rss_start = _rss_peak()
    path, bundle = _model_file(cfg)
    t0 = time.perf_counter()
    runner = _open(cfg, path)
    load_ms = (time.perf_counter() - t0) * 1000
    data = _eval_data(bundle, settings.get("dataset"))
    if bundle is not None:
        m = bundle.manifest
        x = prepare_dataset(data[0], m.preprocess, m.input.layout) if data is not None else \
            np.random.default_rng(0).random((1, *m.input.shape), dtype=np.float32)
        x1 = x[:1]
        call = _timed_call(cfg, runner, x1)
    elif cfg.backend == "keras":
        x = x1 = np.random.default_rng(0).random((1, *runner.inputs[0].shape[1:]), dtype=np.float32)
        call = _timed_call(cfg, runner, x1)
    else:  # a bare file (a detector, say): random data on every input, at --input-shape if given
        feeds = random_feeds(runner, settings.get("input_shape"))
        x = x1 = next(iter(feeds.values()))
        call = runner.bind(feeds)
    t0 = time.perf_counter()
    call()
    first_ms = (time.perf_counter() - t0) * 1000
    ms = time_calls(call, settings["runs"], settings["warmup"], settings.get("min_seconds", 0.0))
    result = {
        "status": "ok", "load_ms": load_ms, "first_inference_ms": first_ms, "warmup": settings["warmup"],
        "runs": len(ms), "mean_ms": float(ms.mean()), "std_ms": float(ms.std()), "min_ms": float(ms.min()),
        "p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()),
        "samples_ms": [round(float(v), 4) for v in ms[:: max(1, len(ms) // 200)]],
        "size_bytes": path.stat().st_size,
    }
    from edge.classifier import open_head

    head = open_head(bundle) if bundle is not None else None
    if head is not None:  # the model's p50 stays the model's; the head's time is its own figure
        feats = call() if cfg.backend == "keras" else dequantize(runner.infer(quantize(x1, runner.input)),
                                                                  runner.output)
        head_ms = time_calls(head.bind(np.asarray(feats, np.float32)), settings["runs"], settings["warmup"])
        result["head"] = {"kind": bundle.manifest.head.kind, "p50_ms": float(np.percentile(head_ms, 50))}
    # Peak RSS of loading and running at batch 1, before the batched accuracy pass inflates it.
    result["peak_rss_bytes"] = _rss_peak()
    batch = settings.get("batch", 1) if bundle is not None or cfg.backend == "keras" else 1
    if batch > 1:
        xb = np.repeat(x1, batch, axis=0)
        if cfg.backend == "keras":
            def run_batch():
                return runner.predict(xb, verbose=0)
        else:
            qb = quantize(xb, runner.input)

            def run_batch():
                return runner.infer(qb)
        run_batch()
        t0 = time.perf_counter()
        reps = max(3, settings["runs"] // batch)
        for _ in range(reps):
            run_batch()
        result["throughput_ips"] = batch * reps / (time.perf_counter() - t0)
    else:
        result["throughput_ips"] = 1000.0 / result["p50_ms"]
    if data is not None:
        if cfg.backend == "keras":
            probs = runner.predict(x, batch_size=256, verbose=0)
        else:
            probs = dequantize(runner.infer(quantize(x, runner.input)), runner.output)
        if head is not None:
            probs = head.infer(np.asarray(probs, np.float32))
        pred = probs.argmax(axis=1)
        result.update(accuracy=float((pred == data[1]).mean()), eval_samples=len(pred), predictions=pred.tolist())
    if cfg.backend != "keras":
        feeds = {runner.input.name: quantize(x1, runner.input)} if bundle is not None else feeds
        result["coverage"] = _coverage(cfg, runner, path, feeds)
        result["shapes"] = {"inputs": [list(t.shape) for t in runner.inputs],
                            "outputs": [list(t.shape) for t in runner.outputs]}
        result["runtime"] = getattr(runner, "runtime", cfg.backend)
    else:
        import keras

        result["runtime"] = f"keras {keras.__version__} ({keras.backend.backend()})"
    result["rss_before_load_bytes"] = rss_start
    return result


def main() -> int:
    cfg = BenchConfig(**json.loads(sys.argv[1]))
    settings = json.loads(sys.argv[2])
    try:
        result = measure(cfg, settings)
    except Exception as exc:  # noqa: BLE001 - reported as a failed row, never a crash of edge-bench
        result = {"status": "failed", "reason": " ".join(f"{type(exc).__name__}: {exc}".split())[:300]}
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
