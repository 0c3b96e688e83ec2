"""Cold start of the edge runtime: a fresh process imports edge, loads a bundle, runs one inference.

This is what a kiosk pays at boot and a CLI pays per call. Each run is a new interpreter, so
nothing is cached in-process; the median of --runs is reported with min and max, and whether any
TensorFlow/Keras module was imported along the way (it must not be).

    python -m benchmarks.cold_start [BUNDLE] [--runs 7] [--format tflite-int8] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PROBE = """
import time, sys
t0 = time.perf_counter()
import numpy as np
from edge.classifier import Classifier
clf = Classifier({bundle!r}, fmt={fmt!r})
t1 = time.perf_counter()
clf.classify([np.zeros(clf.bundle.manifest.input.shape[:2], np.uint8)])
t2 = time.perf_counter()
tf = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))
print({{"import_load_s": t1 - t0, "first_inference_s": t2 - t1, "total_s": t2 - t0, "tensorflow_modules": len(tf)}})
"""


def measure(bundle: str = "digits", fmt: str | None = None, runs: int = 7) -> dict:
    samples = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE.format(bundle=bundle, fmt=fmt)], capture_output=True,
                             text=True, check=True)
        samples.append(eval(out.stdout.strip().splitlines()[-1]))  # noqa: S307 - our own probe's dict literal
    totals = [s["total_s"] for s in samples]
    return {
        "bundle": bundle, "format": fmt or "default", "runs": runs,
        "median_total_s": round(statistics.median(totals), 4), "min_total_s": round(min(totals), 4),
        "max_total_s": round(max(totals), 4),
        "median_first_inference_ms": round(statistics.median(s["first_inference_s"] for s in samples) * 1000, 3),
        "tensorflow_imported": any(s["tensorflow_modules"] for s in samples),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cold_start", description=__doc__.split("\n\n")[0])
    p.add_argument("bundle", nargs="?", default="digits")
    p.add_argument("--format", dest="fmt")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    r = measure(args.bundle, args.fmt, args.runs)
    if args.json:
        print(json.dumps(r))
    else:
        print(f"{r['bundle']} ({r['format']}): cold start median {r['median_total_s']:.3f} s over {r['runs']} "
              f"fresh processes (min {r['min_total_s']:.3f}, max {r['max_total_s']:.3f}); first inference "
              f"{r['median_first_inference_ms']:.2f} ms; TensorFlow imported: {r['tensorflow_imported']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
