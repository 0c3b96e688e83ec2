"""One configuration, measured in a process of its own (so peak RSS is its own and a crash is contained).

    python -m benchmarks.worker '<config json>' '<settings json>'

It loads the model, runs the first inference and the warm-up, says {"ready": ...} on stdout, then answers
JSON lines on stdin: {"op": "time", "runs": N, "seconds": S, "max_runs": M} -> {"ms": [...], "wall_s": ...},
a batch of at least N runs and S seconds and at most M runs, as often as the runner asks (benchmarks.rounds
interleaves every configuration's batches in rounds, so drift and a noisy neighbour land on all alike);
{"op": "finish"} -> the rest of the row (accuracy, coverage, per-op time, peak RSS, ...) and exit. A load
failure is one {"status": "failed"} line instead of ready.

The timed operation is the runtime's own invoke with the input already bound, as TFLite's
benchmark_model does; Keras is timed as `model.predict` on one image, the way the papers ran it; with
--scenario offline, a whole batch through `infer`.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.configs import BenchConfig
from benchmarks.coverage import onnx_coverage, tflite_coverage


def time_calls(call, runs: int, warmup: int, min_seconds: float = 0.0, max_runs: int = 10**9) -> np.ndarray:
    """The timing loop edge-bench uses everywhere (and benchmarks/overhead.py holds to account), in ms:
    at least `runs` and `min_seconds`, at most `max_runs`."""
    for _ in range(warmup):
        call()
    times: list[float] = []
    perf = time.perf_counter
    deadline = perf() + min_seconds
    while (len(times) < runs or perf() < deadline) and len(times) < max_runs:
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
    elif cfg.backend == "onnx":
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


def _timed_call(cfg: BenchConfig, runner, x1: np.ndarray, offline_batch: int = 0):
    """SingleStream: one image, inputs bound, the bare invoke. Offline: a whole batch through `infer` (which
    resizes, or loops where the runtime cannot), the way a batch job would call it."""
    x = np.repeat(x1, offline_batch, axis=0) if offline_batch > 1 else x1
    if cfg.backend == "keras":
        return lambda: runner.predict(x, verbose=0)
    from edge.preprocess import quantize

    q = quantize(x, runner.input)
    if offline_batch > 1:
        return lambda: runner.infer(q)
    return runner.bind(q)


def _coverage_and_per_op(cfg: BenchConfig, runner, path: Path, feeds: dict) -> tuple[dict | None, dict]:
    """Which nodes ran where, and the top ops by time (benchmarks.per_op)."""
    from benchmarks import per_op

    if cfg.backend == "tflite":
        coverage = tflite_coverage(runner.ops_details())
        return coverage, per_op.tflite_per_op(runner.runtime, coverage)
    if cfg.backend == "onnx":
        summary, events = per_op.onnx_per_op(path, cfg.provider, cfg.threads, feeds)
        return onnx_coverage(events), summary
    if cfg.backend == "openvino":
        return None, per_op.openvino_per_op(path, cfg.threads, [feeds[t.name] for t in runner.inputs])
    return None, {"available": False, "reason": f"no per-op profiler for {cfg.backend}"}


class Session:
    """A loaded configuration: timed batches on request, then the untimed rest of its row."""

    def __init__(self, cfg: BenchConfig, settings: dict) -> None:
        self.cfg, self.settings = cfg, settings
        self.rss_start = _rss_peak()
        self.path, self.bundle = _model_file(cfg)
        t0 = time.perf_counter()
        self.runner = _open(cfg, self.path)
        self.load_ms = (time.perf_counter() - t0) * 1000
        self.data = _eval_data(self.bundle, settings.get("dataset"))
        self.feeds: dict | None = None
        offline = settings.get("batch", 1) if settings.get("scenario") == "offline" else 0
        if self.bundle is not None:
            from edge.preprocess import prepare_dataset

            m = self.bundle.manifest
            self.x = prepare_dataset(self.data[0], m.preprocess, m.input.layout) if self.data is not None else \
                np.random.default_rng(0).random((1, *m.input.shape), dtype=np.float32)
            self.x1 = self.x[:1]
            self.call = _timed_call(cfg, self.runner, self.x1, offline)
        elif cfg.backend == "keras":
            self.x = self.x1 = np.random.default_rng(0).random((1, *self.runner.inputs[0].shape[1:]),
                                                               dtype=np.float32)
            self.call = _timed_call(cfg, self.runner, self.x1, offline)
        else:  # a bare file (a detector, say): random data on every input, at --input-shape if given
            self.feeds = random_feeds(self.runner, settings.get("input_shape"))
            self.x = self.x1 = next(iter(self.feeds.values()))
            self.call = self.runner.bind(self.feeds)
        t0 = time.perf_counter()
        self.call()
        self.first_ms = (time.perf_counter() - t0) * 1000
        time_calls(self.call, 0, settings["warmup"])
        self.timed = 0

    def time(self, runs: int, seconds: float = 0.0, max_runs: int = 10**9) -> dict:
        t0 = time.perf_counter()
        ms = time_calls(self.call, runs, 0, seconds, max_runs)
        self.timed += len(ms)
        return {"ms": [round(float(v), 5) for v in ms], "wall_s": time.perf_counter() - t0}

    def finish(self) -> dict:
        from edge.preprocess import dequantize, quantize

        cfg, runner, bundle, x1, settings = self.cfg, self.runner, self.bundle, self.x1, self.settings
        reps = max(50, min(self.timed, 500))
        result = {"status": "ok", "load_ms": self.load_ms, "first_inference_ms": self.first_ms,
                  "warmup": settings["warmup"], "size_bytes": self.path.stat().st_size}
        from edge.classifier import open_head

        head = open_head(bundle) if bundle is not None else None
        if head is not None:  # the model's p50 stays the model's; the head's time is its own figure
            feats = self.call() if cfg.backend == "keras" else dequantize(runner.infer(quantize(x1, runner.input)),
                                                                           runner.output)
            head_ms = time_calls(head.bind(np.asarray(feats, np.float32)), reps, settings["warmup"])
            result["head"] = {"kind": bundle.manifest.head.kind, "p50_ms": float(np.percentile(head_ms, 50))}
        # Peak RSS of loading and running at batch 1, before the batched accuracy pass inflates it.
        result["peak_rss_bytes"] = _rss_peak()
        batch = settings.get("batch", 1) if bundle is not None or cfg.backend == "keras" else 1
        if batch > 1 and settings.get("scenario") != "offline":  # offline: the timed call is the batch itself
            result["throughput_ips"] = self._throughput(batch, reps)
        if self.data is not None:
            result.update(self._accuracy(head))
        if cfg.backend != "keras":
            feeds = {runner.input.name: quantize(x1, runner.input)} if bundle is not None else self.feeds
            result["coverage"], result["per_op"] = _coverage_and_per_op(cfg, runner, self.path, feeds)
            result["shapes"] = {"inputs": [list(t.shape) for t in runner.inputs],
                                "outputs": [list(t.shape) for t in runner.outputs]}
            result["runtime"] = getattr(runner, "runtime", cfg.backend)
        else:
            import keras

            result["runtime"] = f"keras {keras.__version__} ({keras.backend.backend()})"
        result["rss_before_load_bytes"] = self.rss_start
        return result

    def _throughput(self, batch: int, reps: int) -> float:
        xb = np.repeat(self.x1, batch, axis=0)
        if self.cfg.backend == "keras":
            def run_batch():
                return self.runner.predict(xb, verbose=0)
        else:
            from edge.preprocess import quantize

            qb = quantize(xb, self.runner.input)

            def run_batch():
                return self.runner.infer(qb)
        run_batch()
        reps = max(3, reps // batch)
        t0 = time.perf_counter()
        for _ in range(reps):
            run_batch()
        return batch * reps / (time.perf_counter() - t0)

    def _accuracy(self, head) -> dict:
        from edge.preprocess import dequantize, quantize

        runner, x = self.runner, self.x
        if self.cfg.backend == "keras":
            probs = runner.predict(x, batch_size=256, verbose=0)
        else:
            probs = dequantize(runner.infer(quantize(x, runner.input)), runner.output)
        if head is not None:
            probs = head.infer(np.asarray(probs, np.float32))
        pred = probs.argmax(axis=1)
        return {"accuracy": float((pred == self.data[1]).mean()), "eval_samples": len(pred),
                "predictions": pred.tolist()}


def _failed(exc: Exception) -> dict:
    return {"status": "failed", "reason": " ".join(f"{type(exc).__name__}: {exc}".split())[:300]}


def serve(cfg: BenchConfig, settings: dict, requests, reply) -> None:
    """The JSON-lines loop; `requests` yields lines, `reply` writes one object."""
    try:
        session = Session(cfg, settings)
    except Exception as exc:  # noqa: BLE001 - reported as a failed row, never a crash of edge-bench
        reply(_failed(exc))
        return
    reply({"ready": True, "load_ms": session.load_ms})
    for line in requests:
        request = json.loads(line) if line.strip() else {}
        try:
            if request.get("op") == "time":
                reply(session.time(int(request["runs"]), float(request.get("seconds", 0)),
                                   int(request.get("max_runs", 10**9))))
            elif request.get("op") == "finish":
                reply(session.finish())
                return
        except Exception as exc:  # noqa: BLE001
            reply(_failed(exc))
            return


def main() -> int:
    cfg = BenchConfig(**json.loads(sys.argv[1]))
    settings = json.loads(sys.argv[2])
    # The protocol gets a private copy of stdout; anything a native library prints goes to stderr.
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    def reply(obj: dict) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    serve(cfg, settings, sys.stdin, reply)
    return 0


if __name__ == "__main__":
    sys.exit(main())
