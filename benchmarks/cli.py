"""edge-bench: latency and accuracy of every deployable file in a bundle, on this machine."""

from __future__ import annotations

import argparse
import sys

from edge.cli.common import emit_json, run_cli

EPILOG = """examples:
  edge-bench digits                       # every tflite/onnx file of the built-in digits bundle
  edge-bench fashion --runs 500 --threads 2 --json

This release times each model file on the CPU (TFLite with XNNPACK, ONNX Runtime's CPU provider):
load, first inference, then --runs timed invokes after --warmup, reported as mean/std/min/p50/p90/p99/max,
with accuracy measured now on the bundle's shipped evaluation sample. The delegate matrix (GPU, Edge TPU,
ONNX providers), pipeline mode, calibration sweeps, HTML/CSV reports and --baseline regression gates are
tracked in the edge-bench issue and not yet here."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-bench", description="Benchmark a bundle's model files on this machine.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", nargs="?", default="digits", help="bundle folder or built-in name (default: digits)")
    p.add_argument("--formats", nargs="+", help="default: every tflite-* and onnx-* file in the bundle")
    p.add_argument("--runs", type=int, default=200, help="timed invokes per format (default 200)")
    p.add_argument("--warmup", type=int, default=20, help="untimed invokes before timing (default 20)")
    p.add_argument("--threads", type=int, default=1, help="inference threads (default 1)")
    p.add_argument("--json", action="store_true", help="one JSON object per format")
    return p


def _body(args: argparse.Namespace) -> int:
    from benchmarks.runner import bench_format
    from edge.bundle import load_bundle

    if args.runs < 1:
        raise ValueError("--runs must be at least 1")
    bundle = load_bundle(args.bundle)
    formats = args.formats or [f.format for f in bundle.manifest.files if f.format != "keras"]
    if not args.json:
        print(f"{bundle.name}: {args.runs} runs after {args.warmup} warm-up, {args.threads} thread(s), batch 1")
        print(f"{'format':15s} {'size KB':>8s} {'load ms':>8s} {'first ms':>8s} {'p50 ms':>8s} {'p90 ms':>8s} "
              f"{'p99 ms':>8s} {'accuracy':>9s}")
    for fmt in formats:
        r = bench_format(bundle, fmt, args.runs, args.warmup, args.threads)
        if args.json:
            emit_json({"bundle": bundle.name, "threads": args.threads, **r.to_dict()})
        else:
            acc = f"{r.accuracy:.4f}" if r.accuracy is not None else "—"
            print(f"{r.format:15s} {r.size_bytes / 1024:8.1f} {r.load_ms:8.2f} {r.first_inference_ms:8.2f} "
                  f"{r.p50_ms:8.3f} {r.p90_ms:8.3f} {r.p99_ms:8.3f} {acc:>9s}")
    if not args.json:
        print("accuracy: measured now on the bundle's evaluation sample; see parity.md for the full held-out split")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli("edge-bench", lambda: _body(args))


if __name__ == "__main__":
    sys.exit(main())
