"""edge-run: classify images, folders or videos with a bundle on the edge runtime (no TensorFlow)."""

from __future__ import annotations

import argparse
import sys

from edge.cli.common import EXIT_ERROR, emit_json, error, run_cli

EPILOG = """examples:
  edge-run digits --source photo.jpg            # finds each digit on paper or a screen, left to right
  edge-run fashion --source shirt.png --json    # one JSON object per result line
  edge-run path/to/bundle --source clips/ --format onnx-int8
  edge-run mask --source clip.mp4 --json        # faces found, each classified WithMask / WithoutMask
  edge-run mask --source group.jpg --min-face 40  # every face of a group photo from 40 px (the default)
  edge-run mask --source photos/ --detector haar  # the paper's Haar cascade instead of the default detector
  edge-run mask --source photos/ --detector blazeface:model=full-range,second_look=off
  edge-run mask --source clip.mp4 --config kiosk.yaml   # the detector, schedule and tracker of a kiosk config
  edge-run PAIN_BUNDLE --source clip.mp4 --monitor --threshold 0.7 --sustain 2   # events for sustained scores
  edge-run kiosk                                # the kiosk app on its built-in sample clip (see edge-run kiosk -h)
  edge-run --list                               # the built-in bundles and the detector files (verified)

JSON lines: {"source": str, "frame": int, "box": [x, y, w, h] | null, "label": str, "score": float,
             "latency_ms": float}
exit codes: 0 ok, 1 error (one line on stderr), 2 usage."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-run", description="Run a model bundle on images, folders or videos.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", nargs="?", default="digits", help="bundle folder or built-in name (default: digits)")
    p.add_argument("--source", help="image file, folder of images, or video file")
    p.add_argument("--format", dest="fmt", help="model file to run, e.g. tflite-int8 (default), tflite-fp32, "
                   "onnx-int8, onnx-fp32")
    p.add_argument("--threads", type=int, default=None, help="inference threads (default 1)")
    p.add_argument("--whole-image", action="store_true", help="digits: classify the whole image, do not "
                   "search for digits")
    p.add_argument("--detector", help="face bundles: TYPE[:key=value,...] (blazeface, haar, res10; chains with +), "
                   "e.g. haar or blazeface:model=full-range; default: the kiosk's detector (short-range BlazeFace at "
                   "320 px + second look)")
    p.add_argument("--min-face", type=int, default=40, help="face bundles: smallest face side in pixels (default 40)")
    p.add_argument("--config", help="face bundles: take the detector, schedule and tracker from a kiosk YAML")
    p.add_argument("--monitor", action="store_true", help="face bundles: print an event when a tracked face's "
                   "smoothed score for the last label (pain) stays above --threshold for --sustain seconds")
    p.add_argument("--threshold", type=float, default=0.7)
    p.add_argument("--sustain", type=float, default=2.0, help="seconds (video time for files, wall time for live)")
    p.add_argument("--trusted-key", help="public ed25519 PEM: refuse a bundle that is unsigned or altered since it "
                   "was signed (edge-convert sign)")
    p.add_argument("--list", action="store_true", help="list the built-in bundles and exit")
    p.add_argument("--json", action="store_true", help="one JSON object per result line")
    return p


def _list(as_json: bool) -> int:
    """The built-in bundles, then every detector file of the catalog: size, sha256 and whether it verifies."""
    from edge.bundle import builtin_names, load_bundle
    from edge.detectors.catalog import status

    for name in builtin_names():
        b = load_bundle(name)
        formats = [f.format for f in b.manifest.files]
        if as_json:
            emit_json({"kind": "bundle", "name": name, "task": b.manifest.task, "formats": formats,
                       "path": str(b.root)})
        else:
            print(f"{name:14s} {b.manifest.task:13s} {' '.join(formats)}")
    if not as_json:
        print("\ndetector files (edge-train fetch detectors):")
    for row in status():
        if as_json:
            emit_json({"kind": "detector-file", **row})
        else:
            print(f"{row['name']:28s} {row['size_bytes']:>10,d} B  sha256 {row['sha256'][:12]}…  {row['status']}")
    return 0


def _body(args: argparse.Namespace) -> int:
    if args.list:
        return _list(args.json)
    if not args.source:
        raise ValueError("--source is required (an image, a folder of images, or a video)")
    from edge.classifier import Classifier
    from edge.media import iter_frames
    from edge.recognize import recognize

    if args.trusted_key:
        from edge.signing import verify_bundle

        verify_bundle(args.bundle, args.trusted_key)
    clf = Classifier(args.bundle, fmt=args.fmt, threads=args.threads)
    faces = monitor = None
    if clf.bundle.manifest.pipeline_kind == "faces":
        from edge.monitor import SustainedMonitor
        from edge.recognize import face_verdicts

        clf.close()
        pipeline = _face_pipeline(args)
        clf = pipeline.classifier
        faces = face_verdicts(pipeline)
        monitor = SustainedMonitor(args.threshold, args.sustain) if args.monitor else None
    problems: list[str] = []
    fps = _video_fps(args.source)
    for source, frame, image in iter_frames(args.source, errors=problems):
        found = False
        results = faces(source, frame, image) if faces else recognize(clf, source, frame, image,
                                                                      whole_image=args.whole_image)
        if monitor:
            _monitor(monitor, faces.last_faces, clf, source, frame, frame / fps if fps else None, args.json)
        for result in results:
            found = True
            if args.json:
                emit_json(result.to_dict())
            else:
                box = "" if result.box is None else " box=" + ",".join(map(str, result.box.as_list()))
                print(f"{source} frame={frame}{box} label={result.label} score={result.score:.3f} "
                      f"({result.latency_ms:.2f} ms, {clf.format})")
        if not found and not args.json:
            print(f"{source} frame={frame}: no {'face' if faces else 'digit'} found", file=sys.stderr)
    for problem in problems:
        error("edge-run", problem)
    return EXIT_ERROR if problems else 0


def _face_pipeline(args: argparse.Namespace):
    """The kiosk's pipeline builder with this command's bundle and flags (or a kiosk YAML's settings)."""
    from edge.detectors import parse_spec
    from edge.face_pipeline import DEFAULT_DETECTOR, FacePipelineSettings, build_face_pipeline

    if args.config:
        from edge.kiosk.config import load_config

        base = load_config(args.config)
        settings = FacePipelineSettings(**{k: getattr(base, k) for k in FacePipelineSettings.model_fields})
    else:
        settings = FacePipelineSettings(detector=DEFAULT_DETECTOR.model_copy(update={"min_face_px": args.min_face}))
    update = {"bundle": args.bundle, "format": args.fmt, "threads": args.threads or settings.threads}
    if args.detector:
        update["detector"] = parse_spec(args.detector, min_face_px=args.min_face)
    return build_face_pipeline(settings.model_copy(update=update))


def _video_fps(source: str) -> float | None:
    from pathlib import Path

    from edge.media import VIDEO_SUFFIXES

    if Path(source).suffix.lower() not in VIDEO_SUFFIXES:
        return None
    import cv2

    cap = cv2.VideoCapture(source)
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return fps if fps and 1 <= fps <= 240 else None


def _monitor(monitor, faces, clf, source: str, frame: int, t: float | None, as_json: bool) -> None:
    import time

    from edge.monitor import face_alerts

    for event in face_alerts(monitor, faces, clf.labels, None, time.monotonic() if t is None else t):
        event = {"source": source, "frame": frame, **event}
        if as_json:
            emit_json(event)
        else:
            print(f"{source} frame={frame}: track {event['track_id']} {event['label']} >= {event['threshold']} "
                  f"for {event['duration_s']} s (score {event['score']})")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["kiosk"]:
        from edge.cli.kiosk import main as kiosk_main

        return kiosk_main(argv[1:])
    args = build_parser().parse_args(argv)
    return run_cli("edge-run", lambda: _body(args))


if __name__ == "__main__":
    sys.exit(main())
