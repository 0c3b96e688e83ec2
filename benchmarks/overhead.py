"""Is edge-bench's own overhead negligible? Its timing path against a bare `interpreter.invoke()` loop.

Same process, same model (the built-in int8 digits TFLite), same thread count. The two loops run in
interleaved blocks so that machine noise lands on both; the report is the ratio of their medians
(target: within 3 %) with the spread across blocks, so the noise stays visible.

    python -m benchmarks.overhead [--blocks 20] [--runs 500] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def measure(blocks: int = 20, runs: int = 500, bundle: str = "digits", fmt: str = "tflite-int8") -> dict:
    from benchmarks.worker import time_calls
    from edge.backends import open_backend
    from edge.backends.tflite import load_interpreter_module
    from edge.bundle import load_bundle
    from edge.preprocess import quantize

    b = load_bundle(bundle)
    path = b.model_path(fmt)
    backend = open_backend("tflite", path, threads=1)
    x = quantize(np.zeros((1, *b.manifest.input.shape), np.float32), backend.input)
    harness_call = backend.bind(x)

    _, module = load_interpreter_module()
    bare = module.Interpreter(model_path=str(path), num_threads=1)
    bare.allocate_tensors()
    bare.set_tensor(bare.get_input_details()[0]["index"], x)

    def bare_loop(n: int) -> np.ndarray:
        out = np.empty(n)
        for i in range(n):
            t0 = time.perf_counter()
            bare.invoke()
            out[i] = time.perf_counter() - t0
        return out * 1000

    bare_loop(100)
    time_calls(harness_call, 0, 100)
    harness_p50, bare_p50 = [], []
    for k in range(blocks):
        first, second = (0, 1) if k % 2 == 0 else (1, 0)  # alternate which loop goes first
        for which in (first, second):
            if which == 0:
                harness_p50.append(float(np.median(time_calls(harness_call, runs, 0))))
            else:
                bare_p50.append(float(np.median(bare_loop(runs))))
    h, r = float(np.median(harness_p50)), float(np.median(bare_p50))
    ratios = np.asarray(harness_p50) / np.asarray(bare_p50)
    return {"bundle": bundle, "format": fmt, "blocks": blocks, "runs_per_block": runs,
            "harness_p50_ms": round(h, 5), "bare_invoke_p50_ms": round(r, 5), "ratio": round(h / r, 4),
            "overhead_pct": round((h / r - 1) * 100, 2), "block_ratio_p10": round(float(np.percentile(ratios, 10)), 4),
            "block_ratio_p90": round(float(np.percentile(ratios, 90)), 4), "runtime": load_interpreter_module()[0]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.overhead", description=__doc__.split("\n\n")[0])
    p.add_argument("--blocks", type=int, default=20)
    p.add_argument("--runs", type=int, default=500)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    r = measure(args.blocks, args.runs)
    if args.json:
        print(json.dumps(r))
    else:
        print(f"edge-bench timing path p50 {r['harness_p50_ms']:.4f} ms vs bare invoke() "
              f"{r['bare_invoke_p50_ms']:.4f} ms: ratio {r['ratio']:.4f} ({r['overhead_pct']:+.2f} %), "
              "block ratios p10-p90 "
              f"{r['block_ratio_p10']:.3f}-{r['block_ratio_p90']:.3f}, {r['blocks']} x {r['runs_per_block']} runs, "
              f"{r['runtime']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
