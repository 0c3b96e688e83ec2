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
  edge-run mask --source photos/ --detector haar  # the paper's Haar cascade instead of tiled BlazeFace
  edge-run PAIN_BUNDLE --source clip.mp4 --monitor --threshold 0.7 --sustain 2   # events for sustained scores
  edge-run kiosk                                # the kiosk app on its built-in sample clip (see edge-run kiosk -h)
  edge-run --list                               # the built-in bundles

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
    p.add_argument("--detector", help="face bundles: blazeface (tiled; the mask default), haar (the papers'; the "
                   "pain default), res10, or a fallback chain such as blazeface+haar")
    p.add_argument("--min-face", type=int, default=60, help="face bundles: smallest face side in pixels (default 60)")
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
    from edge.bundle import builtin_names, load_bundle

    for name in builtin_names():
        b = load_bundle(name)
        formats = [f.format for f in b.manifest.files]
        if as_json:
            emit_json({"name": name, "task": b.manifest.task, "formats": formats, "path": str(b.root)})
        else:
            print(f"{name:10s} {b.manifest.task:8s} {' '.join(formats)}")
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
    task = clf.bundle.manifest.task
    if task in ("mask", "pain"):
        from edge.monitor import SustainedMonitor
        from edge.recognize import face_verdicts

        faces = face_verdicts(clf, args.detector or ("haar" if task == "pain" else "blazeface"), args.min_face)
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
