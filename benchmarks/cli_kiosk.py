"""edge-bench's kiosk subcommands: pipeline, capacity, recall, soak, reliability, live.

Each measures the kiosk's own code path (the pipeline builder, its FrameSource, detectors and outputs); the
parsers say what and how, the handlers call the library functions in benchmarks/ and hand the result to
`deliver`. `SUBCOMMANDS` is what `edge-bench NAME` dispatches on.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.delivery import bench_parser, deliver
from edge.cli.common import EXIT_GATE


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
    p = bench_parser("capacity", "MultiStream: how many camera streams this "
                     "device carries at a target FPS through the kiosk's own pipeline (detector + "
                     "classifier per face + tracker), one process per stream; p50/p90 latency per frame "
                     "at each stream count and the largest count held without dropping frames.",
                     "examples:\n  edge-bench capacity --source sample --target-fps 15\n"
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
    return deliver(result, to_markdown(result), "capacity", args.out, args.json)


def pipeline_parser() -> argparse.ArgumentParser:
    p = bench_parser("pipeline", "Time the kiosk's own loop: capture -> face "
                     "detection (when the schedule says) -> crop/preprocess -> classify -> track -> draw, "
                     "per stage; what the adaptive detection schedule saves; the cost per number of faces.",
                     "examples:\n  edge-bench pipeline --source sample\n"
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
    from benchmarks.speedprobe import PROBE, machine_speed_now
    from edge.detectors import describe
    from edge.face_pipeline import build_face_pipeline, close_pipeline

    settings = _pipeline_settings(args)
    pipeline = build_face_pipeline(settings)
    try:
        run_pipeline(args.source, pipeline, min(PIPELINE_WARMUP_FRAMES, args.max_frames))  # lazy loads, untimed
        before = machine_speed_now()
        run = run_pipeline(args.source, pipeline, args.max_frames)
        clf = pipeline.classifier
        result = {"schema": 2, "tool": "edge-bench pipeline", "classifier": f"{clf.bundle.name} {clf.format}",
                  "detector": describe(settings.detector), "schedule": settings.schedule.model_dump(),
                  "device": fingerprint(), "warmup_frames": min(PIPELINE_WARMUP_FRAMES, args.max_frames), **run,
                  "machine_speed": {"probe": PROBE, "before_ms": before, "after_ms": machine_speed_now()}}
        if not args.no_compare and settings.schedule.adaptive:
            result["schedule_comparison"] = _schedule_comparison(args, pipeline, settings.schedule, run)
        result["cost_per_faces"] = cost_per_faces(first_face(args.source, pipeline), pipeline,
                                                  run["detector_ms"]["p50_ms"], tuple(args.faces), args.runs)
    finally:
        close_pipeline(pipeline)
    return deliver(result, to_markdown(result), "pipeline", args.out, args.json)


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
    p = bench_parser("recall", "Face-detection recall on masked and "
                     "unmasked faces (the same frames with and without painted masks) in size bands, false "
                     "boxes per frame there, and false boxes per 1,000 frames with no face at all. Bars "
                     "(the first detector): recall >= 0.97 at >= 60 px and >= 0.90 at 40-60 px, masked and "
                     "unmasked; <= 0.01 false boxes per frame; <= 1 per 1,000 no-face frames.",
                     "examples:\n  edge-train masks && edge-train noface && edge-bench recall --out "
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
    deliver(result, markdown(rows), "recall", args.out, args.json)
    for problem in problems:
        print(f"edge-bench: bar: {problem}", file=sys.stderr)
    return EXIT_GATE if args.check and problems else 0


def soak_parser() -> argparse.ArgumentParser:
    p = bench_parser("soak", "Run the kiosk loop headless on the looped "
                     "sample clip for minutes, with a camera that drops every N frames; report memory "
                     "growth and reconnects.",
                     "example:\n  edge-bench soak --minutes 10 --drop-every 500 --out reports/soak")
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
    deliver({"schema": 1, "tool": "edge-bench soak", **r}, md, "soak", args.out, args.json)
    bad = not r["survived"] or (r["rss_growth_mb"] is not None and r["rss_growth_mb"] > args.max_growth_mb)
    return EXIT_GATE if bad else 0


def reliability_parser() -> argparse.ArgumentParser:
    p = bench_parser("reliability", "Hostile model files (truncated, "
                     "bit-flipped, empty, renamed, wrong shape), broken images (corrupt, decode bombs, "
                     "16-bit, RGBA, 1x1) and invalid kiosk configs, each probed in a child process; an "
                     "HTTP burst. Crashes and hangs must be 0.",
                     "example:\n  edge-bench reliability --soak-json reports/soak/soak.json --out "
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
    deliver(r, to_markdown(r), "reliability", args.out, args.json)
    http_ok = r["http"] is None or r["http"]["alive_after"]
    return EXIT_GATE if r["crashes"] or r["hangs"] or r["unclean"] or not http_ok else 0


def _live_parser() -> argparse.ArgumentParser:
    from benchmarks.live_view import parser

    return parser()


def _live(args: argparse.Namespace) -> int:
    from benchmarks.live_view import run

    return run(args)


SUBCOMMANDS = {"pipeline": (pipeline_parser, _pipeline), "capacity": (capacity_parser, _capacity),
               "recall": (recall_parser, _recall), "soak": (soak_parser, _soak),
               "reliability": (reliability_parser, _reliability), "live": (_live_parser, _live)}
