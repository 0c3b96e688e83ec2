"""edge-bench: which format and delegate should I ship on this device? Latency and accuracy, measured."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from benchmarks.delivery import bench_parser, deliver
from benchmarks.settings import Settings
from edge.cli.common import EXIT_GATE, emit_json, run_cli

EPILOG = """examples:
  edge-bench                                   # the built-in digits bundle, full matrix on this machine
  edge-bench digits fashion --out reports/     # JSON, CSV, Markdown and an HTML page with plots
  edge-bench digits --recommend --max-drop 0.5 # fastest file + delegate within 0.5 pp of fp32
  edge-bench model.tflite other.onnx --runs 500 --threads 1 4   # a fixed count instead of the stopping rule
  edge-bench digits --target-ci 1 --budget-seconds 30           # tighter intervals, more time
  edge-bench digits --min-span 0 --replicas 1                    # quick look: no wall-clock spread, one process
  edge-bench digits --scenario offline --batch 64                # throughput at batch 64 on all cores
  edge-bench blazeface-short-range --input-shape 1x240x320x3   # a detector file by its catalog name
  edge-bench digits --baseline benchmarks/reference/x86_64-ci.json --max-regression 10   # CI gate, exit 3

The matrix: TFLite with 1..N threads, XNNPACK on and off, the GPU and Edge TPU delegates where their
libraries load; ONNX Runtime with every execution provider this build has; Keras model.predict on one
image as the reference (when TensorFlow is installed). Anything unavailable is a row "skipped: <reason>".
Each configuration runs in its own process: load, first inference, --warmup untimed runs; then all of them
are timed in interleaved rounds (batches of about 0.25 s each, round-robin) until a configuration's p50
95 % interval is within ±--target-ci % over rounds spread across --min-span seconds, or its
--budget-seconds are spent (or --runs forces a count); the row says which stopped it. Intervals are
distribution-free order-statistic (binomial) 95 % intervals for p50 and p90, over worker processes and
stretches of time, then stretched by the machine's own range of speed over the run (a reference loop);
two back-to-back runs: python -m benchmarks.back_to_back. Mean, std, min, p50, p90, p99, max,
throughput at --batch, peak RSS, size, accuracy and top-1 agreement with fp32 on the bundle's evaluation
sample (or --dataset NPZ with x uint8 and y labels), and delegate coverage (nodes on the delegate vs CPU fallback).
Calibration sweeps: edge-bench calibrate --help. The whole kiosk loop, per stage: edge-bench pipeline --help.
How many camera streams the device carries at a target FPS: edge-bench capacity --help.
Many devices side by side: edge-bench compare --help.
Kiosk FPS with a live-page viewer against none: edge-bench live --help.

exit codes: 0 ok, 1 error, 2 usage, 3 regression against --baseline."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-bench", description="Benchmark bundles or model files on this "
                                "machine across runtimes, delegates and thread counts.", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", default=["digits"], help="bundles (folders or built-in names) or "
                   ".tflite/.onnx/.keras files (default: digits)")
    p.add_argument("--formats", nargs="+", help="only these bundle formats (e.g. tflite-int8 onnx-fp32)")
    p.add_argument("--threads", nargs="+", type=int, help="thread counts (default: 1, 2, 4 ... up to the cores)")
    p.add_argument("--runs", type=int, help="force this many timed invokes per configuration (default: run until "
                   "the p50's 95 %% interval is within ±--target-ci or --budget-seconds end)")
    p.add_argument("--target-ci", type=float, default=2.0, help="stop a configuration once its p50's 95 %% interval "
                   "is within ± this %% (default 2)")
    p.add_argument("--budget-seconds", type=float, default=10.0, help="timed seconds per configuration at most "
                   "(default 10)")
    p.add_argument("--min-span", type=float, default=Settings.min_span_s, help="a row stops on its interval only "
                   "once its rounds spread over this many seconds of wall clock, so the interval samples a shared "
                   f"machine's slow changes of speed (default {Settings.min_span_s:g}; the budget still ends it)")
    p.add_argument("--replicas", type=int, default=Settings.replicas, help="worker processes per configuration, "
                   f"taking its rounds in turn; each is one batch of the interval (default {Settings.replicas})")
    p.add_argument("--warmup", type=int, default=20, help="untimed invokes first (default 20)")
    p.add_argument("--min-seconds", type=float, default=0.0, help="keep timing at least this long")
    p.add_argument("--batch", type=int, default=1, help="batch size for the throughput figure (default 1; 32 with "
                   "--scenario offline)")
    p.add_argument("--scenario", choices=("single-stream", "offline"), default="single-stream", help="MLPerf's "
                   "names: single-stream times one image per invoke (default); offline times whole batches of "
                   "--batch on all cores and reports images/s with its interval")
    p.add_argument("--dataset", help="evaluation data: .npz with x (uint8 N,H,W,C) and y (labels)")
    p.add_argument("--input-shape", help="bare model files: the first input's shape, e.g. 1x240x320x3 (a fully "
                   "convolutional detector at the resolution it runs at)")
    p.add_argument("--no-keras", action="store_true", help="skip the Keras model.predict reference row")
    p.add_argument("--xnnpack-only", action="store_true", help="do not add XNNPACK-off TFLite rows")
    p.add_argument("--recommend", action="store_true", help="pick the fastest configuration within --max-drop")
    p.add_argument("--max-drop", type=float, default=0.5, help="accuracy budget in points vs fp32 (default 0.5)")
    p.add_argument("--baseline", type=Path, help="an older report.json (or a board reference) to compare with")
    p.add_argument("--max-regression", type=float, default=10.0, help="allowed p50 slowdown in %% (default 10)")
    p.add_argument("--sysfs-root", type=Path, default=Path("/"), help="read thermal, cpufreq, hwmon and powercap "
                   "under this root instead of / (a container's bind mount, or a test's fake tree)")
    p.add_argument("--out", type=Path, help="write report.json, report.csv, report.md and report.html here")
    p.add_argument("--json", action="store_true", help="print the whole report as one JSON object")
    return p


def _ci(ci: list) -> str:
    return "[" + ", ".join("?" if v is None else f"{v:.3f}" for v in ci) + "]"


def _progress(i: int, n: int, row: dict) -> None:
    cfg = row["config"]["id"]
    detail = (f"p50 {row['p50_ms']:.3f} ms {_ci(row['p50_ci_ms'])} after {row['runs']} runs (stopped by "
              f"{row['stopped_by']})" if row["status"] == "ok" else f"{row['status']}: {row.get('reason', '')}")
    print(f"[{i}/{n}] {cfg}: {detail[:110]}", file=sys.stderr, flush=True)


def _body(args: argparse.Namespace, argv: list[str]) -> int:
    from benchmarks.baseline import compare
    from benchmarks.configs import build_matrix
    from benchmarks.recommend import recommend
    from benchmarks.report import to_terminal, write_all
    from benchmarks.runner import run_matrix

    if (args.runs is not None and args.runs < 1) or args.batch < 1 or args.warmup < 0 or args.replicas < 1:
        raise ValueError("--runs, --batch and --replicas must be at least 1, --warmup at least 0")
    if not (args.target_ci > 0 and args.budget_seconds > 0):  # not (x > 0): NaN is refused too
        raise ValueError("--target-ci and --budget-seconds must be positive")
    if not (0 <= args.min_span < float("inf")):
        raise ValueError("--min-span must be 0 or more seconds (0: the interval may stop a row at once)")
    if args.scenario == "offline":
        from benchmarks.configs import thread_counts

        args.batch = 32 if args.batch == 1 else args.batch
        args.threads = args.threads or [thread_counts()[-1]]
    configs = build_matrix(args.inputs, threads=args.threads, keras_reference=not args.no_keras,
                           xnnpack_off=not args.xnnpack_only)
    if args.formats:
        configs = [c for c in configs if c.format in args.formats]
        if not configs:
            raise ValueError(f"--formats {' '.join(args.formats)}: no such file in the inputs")
    shape = [int(v) for v in args.input_shape.lower().split("x")] if args.input_shape else None
    settings = Settings(runs=args.runs, warmup=args.warmup, min_seconds=args.min_seconds, batch=args.batch,
                        dataset=args.dataset, input_shape=shape, target_ci_pct=args.target_ci,
                        budget_s=args.budget_seconds, scenario=args.scenario, replicas=args.replicas,
                        min_span_s=args.min_span)
    command = "edge-bench " + " ".join(shlex.quote(a) for a in argv)
    from benchmarks.sensors import Device

    report = run_matrix(configs, settings, command, progress=_progress, dev=Device(args.sysfs_root))
    if args.recommend:
        report["recommendation"] = recommend(report["rows"], args.max_drop)
    status = 0
    if args.baseline:
        baseline = json.loads(args.baseline.read_text())
        report["baseline"] = compare(report, baseline, args.max_regression)
        status = EXIT_GATE if report["baseline"]["regressions"] else 0
    if args.out:
        paths = write_all(report, args.out)
        print(f"edge-bench: wrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)
    if args.json:
        emit_json(report)
    else:
        print(to_terminal(report))
        for rec in report.get("recommendation", []):
            print(f"\nrecommendation for {rec['input']}: {rec['pick']} — {rec['why']}")
        for w in report["warnings"]:
            print(f"warning: {w}")
        print(f"\ntimed in interleaved rounds after {settings.warmup} warm-up; stopping: "
              f"{settings.to_dict()['stopping']}; [lo, hi] = {settings.to_dict()['ci_method']}; "
              "accuracy on the bundle's evaluation sample")
    for regression in report.get("baseline", {}).get("regressions", []):
        print(f"edge-bench: regression: {regression}", file=sys.stderr)
    if (report.get("baseline") or {}).get("machine_speed"):
        print(f"edge-bench: note: {report['baseline']['machine_speed']['note']}", file=sys.stderr)
    return status


def calibrate_parser() -> argparse.ArgumentParser:
    from benchmarks.calibrate import GRANULARITY, METHODS

    p = bench_parser("calibrate", "int8 accuracy and latency across "
                     "calibration methods, per-channel vs per-tensor weights and calibration-set sizes "
                     "(needs edgesight[convert]).",
                     "example:\n  edge-bench calibrate digits --sizes 50 200 --out reports/cal")
    p.add_argument("bundle", nargs="?", default="digits", help="a bundle with a Keras model (default: digits)")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS), help="ONNX Runtime calibrators")
    p.add_argument("--sizes", nargs="+", type=int, default=[50, 200, 500], help="calibration images")
    p.add_argument("--granularity", nargs="+", choices=GRANULARITY, default=list(GRANULARITY))
    p.add_argument("--runtimes", nargs="+", choices=("tflite", "onnx"), default=["tflite", "onnx"])
    p.add_argument("--limit-eval", type=int, default=1000, help="held-out images to evaluate on (0: all)")
    p.add_argument("--runs", type=int, default=100, help="timed invokes per variant")
    p.add_argument("--onnx-target", choices=("x86", "arm"), default="x86")
    p.add_argument("--data", help="an image folder or .npz to calibrate and evaluate on (default: the bundle's own "
                   "samples)")
    p.add_argument("--out", type=Path, help="write calibrate.json and calibrate.md here")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    return p


def _calibrate(args: argparse.Namespace) -> int:
    from benchmarks.calibrate import sweep, to_markdown
    from edge.cli.common import quiet_tensorflow

    quiet_tensorflow()

    def progress(row: dict) -> None:
        print(f"{row['runtime']} {row['method']} {row['granularity']} n={row['calibration_size']}: accuracy "
              f"{row['accuracy']:.4f}, p50 {row['p50_ms']:.3f} ms", file=sys.stderr, flush=True)

    result = sweep(args.bundle, tuple(args.methods), tuple(args.sizes), tuple(args.granularity), tuple(args.runtimes),
                   args.limit_eval or None, args.runs, args.onnx_target, progress=progress, data_path=args.data)
    return deliver(result, to_markdown(result), "calibrate", args.out, args.json)


def compare_parser() -> argparse.ArgumentParser:
    p = bench_parser("compare", "Many devices' edge-bench reports side by "
                     "side: per model and configuration each device's p50 with its 95 % interval, the "
                     "speed-up against a reference device and accuracy per device.",
                     "examples:\n  edge-bench compare reports/pi5 reports/jetson --reference pi5 "
                     "--out reports/compare\n  edge-bench compare a/report.json b/report.json --json\n"
                     "  ansible-playbook -i inventory.ini firmware_configs/ansible/bench.yml   # runs "
                     "edge-bench on every host, fetches, compares\n\nA device is named by the folder of "
                     "its report.json (else the file's stem).")
    p.add_argument("reports", nargs="+", type=Path, help="report.json files or the folders holding them")
    p.add_argument("--reference", help="the device speed-ups are against (default: the first)")
    p.add_argument("--out", type=Path, help="write compare.json, compare.md, compare.csv and compare.html here")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    return p


def _compare(args: argparse.Namespace) -> int:
    from benchmarks.compare import compare_reports, load, to_markdown, write_all

    result = compare_reports(load(args.reports), args.reference)
    return deliver(result, to_markdown(result), "compare", args.out, args.json, write=write_all)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from benchmarks import cli_kiosk

    subcommands = {"compare": (compare_parser, _compare), "calibrate": (calibrate_parser, _calibrate),
                   **cli_kiosk.SUBCOMMANDS}
    if argv[:1] and argv[0] in subcommands:
        parser, handler = subcommands[argv[0]]
        sub_args = parser().parse_args(argv[1:])
        return run_cli("edge-bench", lambda: handler(sub_args))
    args = build_parser().parse_args(argv)
    return run_cli("edge-bench", lambda: _body(args, argv))


if __name__ == "__main__":
    sys.exit(main())
