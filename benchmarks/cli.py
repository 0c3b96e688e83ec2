"""edge-bench: which format and delegate should I ship on this device? Latency and accuracy, measured."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from edge.cli.common import EXIT_GATE, emit_json, run_cli

EPILOG = """examples:
  edge-bench                                   # the built-in digits bundle, full matrix on this machine
  edge-bench digits fashion --out reports/     # JSON, CSV, Markdown and an HTML page with plots
  edge-bench digits --recommend --max-drop 0.5 # fastest file + delegate within 0.5 pp of fp32
  edge-bench model.tflite other.onnx --runs 500 --threads 1 4   # a fixed count instead of the stopping rule
  edge-bench digits --target-ci 1 --budget-seconds 30           # tighter intervals, more time
  edge-bench digits --scenario offline --batch 64                # throughput at batch 64 on all cores
  edge-bench blazeface-short-range --input-shape 1x240x320x3   # a detector file by its catalog name
  edge-bench digits --baseline benchmarks/reference/x86_64-ci.json --max-regression 10   # CI gate, exit 3

The matrix: TFLite with 1..N threads, XNNPACK on and off, the GPU and Edge TPU delegates where their
libraries load; ONNX Runtime with every execution provider this build has; Keras model.predict on one
image as the reference (when TensorFlow is installed). Anything unavailable is a row "skipped: <reason>".
Each configuration runs in its own process: load, first inference, --warmup untimed runs; then all of them
are timed in interleaved rounds (batches of about 0.25 s each, round-robin) until a configuration's p50
95 % interval is within ±--target-ci % or its --budget-seconds are spent (or --runs forces a count); the
row says which stopped it. Intervals are distribution-free order-statistic (binomial) 95 % intervals for
p50 and p90. Mean, std, min, p50, p90, p99, max, throughput at --batch, peak RSS,
size, accuracy and top-1 agreement with fp32 on the bundle's evaluation sample (or --dataset NPZ with
x uint8 and y labels), and delegate coverage (nodes on the delegate vs CPU fallback).
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
    from benchmarks.runner import Settings, run_matrix

    if (args.runs is not None and args.runs < 1) or args.batch < 1 or args.warmup < 0:
        raise ValueError("--runs and --batch must be at least 1, --warmup at least 0")
    if args.target_ci <= 0 or args.budget_seconds <= 0:
        raise ValueError("--target-ci and --budget-seconds must be positive")
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
                        budget_s=args.budget_seconds, scenario=args.scenario)
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
    return status


def _deliver(result: dict, markdown: str, stem: str, out: Path | None, as_json: bool) -> int:
    """The subcommands' shared ending: files under --out, then JSON or Markdown on stdout."""
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
        (out / f"{stem}.md").write_text(markdown)
    if as_json:
        emit_json(result)
    else:
        print(markdown, end="")
    return 0


def calibrate_parser() -> argparse.ArgumentParser:
    from benchmarks.calibrate import GRANULARITY, METHODS

    p = argparse.ArgumentParser(prog="edge-bench calibrate", description="int8 accuracy and latency across "
                                "calibration methods, per-channel vs per-tensor weights and calibration-set sizes "
                                "(needs edgesight[convert]).", formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="example:\n  edge-bench calibrate digits --sizes 50 200 --out reports/cal")
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
    return _deliver(result, to_markdown(result), "calibrate", args.out, args.json)


def _add_pipeline_settings(p: argparse.ArgumentParser) -> None:
    """The kiosk pipeline's settings, shared by `pipeline` and `capacity` (edge.face_pipeline builds both)."""
    p.add_argument("--config", help="a kiosk YAML: its bundle, detector, schedule and tracker (flags override)")
    p.add_argument("--bundle", help="classifier bundle (default: the kiosk's, the built-in mask bundle)")
    p.add_argument("--format", dest="fmt", help="model file of the bundle (default: its default, int8 TFLite)")
    p.add_argument("--threads", type=int, help="classifier threads (default 2, the kiosk's)")
    p.add_argument("--detector", help="TYPE[:key=value,...], e.g. haar or blazeface:model=full-range (default: the "
                   "kiosk's detector)")
    p.add_argument("--min-face", type=int, help="smallest face in pixels of the frame (default: the kiosk's 60)")
    p.add_argument("--detect-every", type=int, help="run the detector on every k-th frame at most")
    p.add_argument("--no-adaptive", action="store_true", help="detect on every frame the schedule allows")


def capacity_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-bench capacity", description="MultiStream: how many camera streams this "
                                "device carries at a target FPS through the kiosk's own pipeline (detector + "
                                "classifier per face + tracker), one process per stream; p50/p90 latency per frame "
                                "at each stream count and the largest count held without dropping frames.",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="examples:\n  edge-bench capacity --source sample --target-fps 15\n"
                                "  edge-bench capacity --source sample --config kiosk.yaml --max-streams 4 --out rep/\n"
                                "  edge-bench capacity --source sample --detector haar --seconds 20 --json")
    p.add_argument("--source", default="sample", help="video file, folder of images or sample (the kiosk clip, "
                   "640x480); frames are preloaded and fed at --target-fps like a camera")
    p.add_argument("--target-fps", type=float, default=15.0, help="frames per second per stream (default 15)")
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per stream count (default 10)")
    p.add_argument("--max-streams", type=int, default=8, help="stop at this many streams (default 8)")
    p.add_argument("--max-dropped-pct", type=float, default=0.0, help="a level holds when at most this %% of frames "
                   "dropped (default 0: none)")
    _add_pipeline_settings(p)
    p.add_argument("--out", type=Path, help="write capacity.json and capacity.md here")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    return p


def _capacity(args: argparse.Namespace) -> int:
    from benchmarks.capacity import capacity, to_markdown
    from benchmarks.fingerprint import fingerprint

    if args.target_fps <= 0 or args.seconds <= 0 or args.max_streams < 1:
        raise ValueError("--target-fps and --seconds must be positive, --max-streams at least 1")

    def progress(level: dict) -> None:
        lat = f"p50 {level['p50_ms']:.1f} ms, p90 {level['p90_ms']:.1f} ms" if "p50_ms" in level else "no frames"
        print(f"{level['streams']} stream(s): {level['dropped']}/{level['frames']} frames dropped, {lat}: "
              f"{'held' if level['held'] else 'not held'}", file=sys.stderr, flush=True)

    result = capacity(_pipeline_settings(args), args.source, args.target_fps, args.seconds, args.max_streams,
                      args.max_dropped_pct, progress=progress)
    result["device"] = fingerprint()
    return _deliver(result, to_markdown(result), "capacity", args.out, args.json)


def compare_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-bench compare", description="Many devices' edge-bench reports side by "
                                "side: per model and configuration each device's p50 with its 95 % interval, the "
                                "speed-up against a reference device and accuracy per device.",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="examples:\n  edge-bench compare reports/pi5 reports/jetson --reference pi5 "
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
    if args.out:
        paths = write_all(result, args.out)
        print(f"edge-bench compare: wrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)
    if args.json:
        emit_json(result)
    else:
        print(to_markdown(result), end="")
    return 0


def pipeline_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-bench pipeline", description="Time the kiosk's own loop: capture -> face "
                                "detection (when the schedule says) -> crop/preprocess -> classify -> track -> draw, "
                                "per stage; what the adaptive detection schedule saves; the cost per number of faces.",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="examples:\n  edge-bench pipeline --source sample\n"
                                "  edge-bench pipeline --source sample --config kiosk.yaml   # a kiosk's own settings\n"
                                "  edge-bench pipeline --source sample --detector haar --no-compare\n"
                                "  edge-bench pipeline --source camera --max-frames 600 --out reports/pipe")
    p.add_argument("--source", default="sample", help="video file, folder of images, camera[:N], sample (the "
                   "kiosk clip, 640x480) or megamind (OpenCV's face clip, `edge-train fetch media`)")
    _add_pipeline_settings(p)
    p.add_argument("--no-compare", action="store_true", help="skip the run with the detector on every frame")
    p.add_argument("--max-frames", type=int, default=300)
    p.add_argument("--faces", nargs="+", type=int, default=[0, 1, 4, 8], help="face counts for the cost table")
    p.add_argument("--runs", type=int, default=30, help="repetitions per face count")
    p.add_argument("--out", type=Path, help="write pipeline.json and pipeline.md here")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    return p


def _pipeline_settings(args: argparse.Namespace):
    from edge.detectors import parse_spec
    from edge.face_pipeline import FacePipelineSettings

    if args.config:
        from edge.kiosk.config import load_config

        kiosk = load_config(args.config)
        settings = FacePipelineSettings(**{k: getattr(kiosk, k) for k in FacePipelineSettings.model_fields})
    else:
        settings = FacePipelineSettings()
    update: dict = {k: v for k, v in (("bundle", args.bundle), ("format", args.fmt), ("threads", args.threads))
                    if v is not None}
    if args.detector:
        update["detector"] = parse_spec(args.detector, min_face_px=args.min_face)
    elif args.min_face is not None:
        update["detector"] = settings.detector.model_copy(update={"min_face_px": args.min_face})
    schedule = {k: v for k, v in (("every", args.detect_every), ("adaptive", False if args.no_adaptive else None))
                if v is not None}
    if schedule:
        update["schedule"] = settings.schedule.model_copy(update=schedule)
    return settings.model_copy(update=update)


PIPELINE_WARMUP_FRAMES = 30  # the second look's models and XNNPACK load on first use: not a kiosk's steady state


def _pipeline(args: argparse.Namespace) -> int:
    from benchmarks.fingerprint import fingerprint
    from benchmarks.pipeline import cost_per_faces, first_face, run_pipeline, to_markdown
    from edge.detectors import describe
    from edge.face_pipeline import build_face_pipeline, close_pipeline

    settings = _pipeline_settings(args)
    pipeline = build_face_pipeline(settings)
    try:
        run_pipeline(args.source, pipeline, min(PIPELINE_WARMUP_FRAMES, args.max_frames))  # lazy loads, untimed
        run = run_pipeline(args.source, pipeline, args.max_frames)
        clf = pipeline.classifier
        result = {"schema": 2, "tool": "edge-bench pipeline", "classifier": f"{clf.bundle.name} {clf.format}",
                  "detector": describe(settings.detector), "schedule": settings.schedule.model_dump(),
                  "device": fingerprint(), "warmup_frames": min(PIPELINE_WARMUP_FRAMES, args.max_frames), **run}
        if not args.no_compare and settings.schedule.adaptive:
            result["schedule_comparison"] = _schedule_comparison(args, pipeline, settings.schedule, run)
        result["cost_per_faces"] = cost_per_faces(first_face(args.source, pipeline), pipeline,
                                                  run["detector_ms"]["p50_ms"], tuple(args.faces), args.runs)
    finally:
        close_pipeline(pipeline)
    return _deliver(result, to_markdown(result), "pipeline", args.out, args.json)


def _schedule_comparison(args: argparse.Namespace, pipeline, schedule, first: dict) -> dict:
    """Adaptive against every frame on the same frames, in ABBA order (adaptive, every, every, adaptive) so that
    drift and a busy neighbour weigh on both alike; each schedule's FPS is the mean of its two runs."""
    import statistics

    from benchmarks.pipeline import run_pipeline

    every_frame = schedule.model_copy(update={"adaptive": False})
    runs = {"adaptive": [first], "every frame": []}
    for name, sched in (("every frame", every_frame), ("every frame", every_frame), ("adaptive", schedule)):
        pipeline.schedule = sched
        runs[name].append(run_pipeline(args.source, pipeline, args.max_frames))
    pipeline.schedule = schedule
    return {name: {"fps": statistics.fmean(r["fps"] for r in rs), "fps_runs": [r["fps"] for r in rs],
                   **{k: rs[0][k] for k in ("detector_runs", "people_counted", "tracks")}, "order": "ABBA"}
            for name, rs in runs.items()}


RECALL_DETECTORS = ("default", "blazeface", "blazeface:model=short-range,tile_px=256,threshold=0.6", "res10", "haar")


def recall_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-bench recall", description="Face-detection recall on masked and "
                                "unmasked faces (the same frames with and without painted masks) in size bands, false "
                                "boxes per frame there, and false boxes per 1,000 frames with no face at all. Bars "
                                "(the first detector): recall >= 0.97 at >= 60 px and >= 0.90 at 40-60 px, masked and "
                                "unmasked; <= 0.01 false boxes per frame; <= 1 per 1,000 no-face frames.",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="examples:\n  edge-train masks && edge-train noface && edge-bench recall --out "
                                "reports/recall\n  edge-bench recall --detectors default blazeface:model=full-range "
                                "--check")
    p.add_argument("--frames", type=Path, help="recall set from `edge-train masks` (default: in the cache)")
    p.add_argument("--noface", type=Path, help="no-face set from `edge-train noface` (default: in the cache; "
                   "skipped with a note when absent)")
    p.add_argument("--detectors", nargs="+", default=list(RECALL_DETECTORS),
                   help="detector specs TYPE[:key=value,...]; `default` is the kiosk's (default: %(default)s)")
    p.add_argument("--min-face", type=int, default=32, help="smallest box any detector reports here, so faces of "
                   "40 px count when the box comes out a little smaller (default 32)")
    p.add_argument("--check", action="store_true", help="exit 3 unless the first detector meets the bars")
    p.add_argument("--out", type=Path, help="write recall.json and recall.md here")
    p.add_argument("--json", action="store_true")
    return p


def _recall(args: argparse.Namespace) -> int:
    from benchmarks.fingerprint import fingerprint
    from benchmarks.recall import check_bars, markdown, measure_noface, measure_recall
    from edge.cache import cache_dir
    from edge.detectors import describe, open_detector, parse_spec

    root = args.frames or cache_dir() / "detection-frames"
    noface = args.noface or cache_dir() / "noface-frames"
    if not (noface / "boxes.json").is_file():
        if args.noface:
            raise FileNotFoundError(f"{noface}: no boxes.json; build it with `edge-train noface --out {noface}`")
        print(f"edge-bench: no no-face set at {noface} (`edge-train noface`); its column stays empty", file=sys.stderr)
        noface = None
    rows = []
    for spec in args.detectors:
        settings = parse_spec(spec, min_face_px=args.min_face)
        detector = open_detector(settings)
        try:
            row = {"detector": spec, "settings": describe(settings), **measure_recall(detector, root)}
            if noface is not None:
                row["noface"] = measure_noface(detector, noface)
        finally:
            detector.close()
        rows.append(row)
        print(f"{spec}: masked {row['recall']['masked']}, unmasked {row['recall']['unmasked']}, false/frame "
              f"{row['false_boxes_per_frame']}", file=sys.stderr)
    problems = check_bars(rows[0])
    result = {"schema": 2, "tool": "edge-bench recall", "frames": str(root), "noface_frames": str(noface or ""),
              "min_face_px": args.min_face, "rows": rows, "bars": problems or "met", "device": fingerprint()}
    _deliver(result, markdown(rows), "recall", args.out, args.json)
    for problem in problems:
        print(f"edge-bench: bar: {problem}", file=sys.stderr)
    return EXIT_GATE if args.check and problems else 0


def soak_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-bench soak", description="Run the kiosk loop headless on the looped "
                                "sample clip for minutes, with a camera that drops every N frames; report memory "
                                "growth and reconnects.", formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="example:\n  edge-bench soak --minutes 10 --drop-every 500 --out reports/soak")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--drop-every", type=int, default=500, help="frames between injected camera drops (0: none)")
    p.add_argument("--max-growth-mb", type=float, default=10.0, help="exit 3 when RSS grows more than this")
    p.add_argument("--full-speed", action="store_true", help="read the clip as fast as the loop goes instead of at "
                   "its own frame rate (more frames per hour; the tracker then sees jumps)")
    p.add_argument("--out", type=Path, help="write soak.json and soak.md here")
    p.add_argument("--json", action="store_true")
    return p


def _soak(args: argparse.Namespace) -> int:
    from benchmarks.soak import run_soak

    r = run_soak(args.minutes * 60, args.drop_every, realtime=not args.full_speed)
    md = ("| minutes | frames | FPS (first / last quarter) | drops injected | reconnects | RSS first MB | "
          "RSS last MB | "
          "growth MB | open fds first / last |\n|---|---|---|---|---|---|---|---|---|\n"
          f"| {args.minutes} | {r['frames']} | {r['fps']} ({r['fps_first_quarter']} / {r['fps_last_quarter']}) | "
          f"{r['drops_injected']} | {r['camera_reconnects']} | {r['rss_mb_first']} | {r['rss_mb_last']} | "
          f"{r['rss_growth_mb']} | {r['fds_first']} / {r['fds_last']} |\n")
    _deliver({"schema": 1, "tool": "edge-bench soak", **r}, md, "soak", args.out, args.json)
    bad = not r["survived"] or (r["rss_growth_mb"] is not None and r["rss_growth_mb"] > args.max_growth_mb)
    return EXIT_GATE if bad else 0


def reliability_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-bench reliability", description="Hostile model files (truncated, "
                                "bit-flipped, empty, renamed, wrong shape), broken images (corrupt, decode bombs, "
                                "16-bit, RGBA, 1x1) and invalid kiosk configs, each probed in a child process; an "
                                "HTTP burst. Crashes and hangs must be 0.",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="example:\n  edge-bench reliability --soak-json reports/soak/soak.json --out "
                                       "reports/reliability")
    p.add_argument("--per-model", type=int, default=60, help="mutations per source model (4 sources)")
    p.add_argument("--http-requests", type=int, default=10_000)
    p.add_argument("--jobs", type=int, default=2, help="probes in parallel")
    p.add_argument("--soak-json", type=Path, help="include a soak result (edge-bench soak --out) in the report")
    p.add_argument("--out", type=Path, help="write reliability.json and reliability.md here")
    p.add_argument("--json", action="store_true")
    return p


def _reliability(args: argparse.Namespace) -> int:
    from benchmarks.reliability import run_reliability, to_markdown

    soak = json.loads(args.soak_json.read_text()) if args.soak_json else None
    r = run_reliability(args.per_model, args.http_requests, args.jobs, soak)
    _deliver(r, to_markdown(r), "reliability", args.out, args.json)
    http_ok = r["http"] is None or r["http"]["alive_after"]
    return EXIT_GATE if r["crashes"] or r["hangs"] or r["unclean"] or not http_ok else 0


def _live_parser() -> argparse.ArgumentParser:
    from benchmarks.live_view import parser

    return parser()


def _live(args: argparse.Namespace) -> int:
    from benchmarks.live_view import run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    subcommands = {"capacity": (capacity_parser, _capacity), "compare": (compare_parser, _compare),
                   "recall": (recall_parser, _recall),
                   "soak": (soak_parser, _soak), "reliability": (reliability_parser, _reliability),
                   "live": (_live_parser, _live)}
    if argv[:1] and argv[0] in subcommands:
        parser, handler = subcommands[argv[0]]
        sub_args = parser().parse_args(argv[1:])
        return run_cli("edge-bench", lambda: handler(sub_args))
    if argv[:1] == ["pipeline"]:
        pipe_args = pipeline_parser().parse_args(argv[1:])
        return run_cli("edge-bench", lambda: _pipeline(pipe_args))
    if argv[:1] == ["calibrate"]:
        cal_args = calibrate_parser().parse_args(argv[1:])
        return run_cli("edge-bench", lambda: _calibrate(cal_args))
    args = build_parser().parse_args(argv)
    return run_cli("edge-bench", lambda: _body(args, argv))


if __name__ == "__main__":
    sys.exit(main())
