"""edge-kiosk / edge-run kiosk: the mask-checking kiosk, from a YAML config or the built-in defaults."""

from __future__ import annotations

import argparse
import sys

from edge.cli.common import emit_json, run_cli

EPILOG = """examples:
  edge-kiosk                                   # built-in config: mask bundle, tiled BlazeFace, sample clip
  edge-kiosk --headless --duration 20 --json   # no window; a summary JSON object at the end
  edge-kiosk --config /etc/edgesight/kiosk.yaml
  edge-kiosk --config kiosk.yaml --validate-config
  edge-kiosk --print-config > kiosk.yaml       # the defaults, commented, to edit

stdout carries JSON lines (one per person counted) when outputs.jsonl is enabled; the screen shows
boxes, labels and a banner. q or Esc in the window, Ctrl-C or SIGTERM stop it cleanly.
exit codes: 0 ok, 1 error (one line on stderr), 2 usage."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-kiosk", description="Run the mask-checking kiosk.", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="kiosk YAML (default: the built-in edge/kiosk/default.yaml)")
    p.add_argument("--validate-config", action="store_true", help="check the config, print problems with "
                   "their line numbers, and exit (0 valid, 1 invalid)")
    p.add_argument("--print-config", action="store_true", help="print the built-in default config and exit")
    p.add_argument("--source", help="override the config's source (camera:0, picamera2, loop:VIDEO, VIDEO ...)")
    p.add_argument("--headless", action="store_true", help="no window, whatever the config says")
    p.add_argument("--max-frames", type=int, help="stop after this many processed frames")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--json", action="store_true", help="print the run summary as one JSON object at the end")
    return p


def _body(args: argparse.Namespace) -> int:
    from edge.kiosk.config import DEFAULT_CONFIG, load_config

    if args.print_config:
        sys.stdout.write(DEFAULT_CONFIG.read_text())
        return 0
    cfg = load_config(args.config)
    if args.validate_config:
        print(f"{args.config or DEFAULT_CONFIG}: valid")
        return 0
    updates = {}
    if args.source:
        updates["source"] = args.source
    if args.headless:
        updates["display"] = cfg.display.model_copy(update={"mode": "headless"})
    cfg = cfg.model_copy(update=updates)
    from edge.kiosk.app import run_kiosk

    summary = run_kiosk(cfg, max_frames=args.max_frames, duration_s=args.duration)
    if args.json:
        emit_json({"summary": summary})
    else:
        people = ", ".join(f"{k} {v}" for k, v in summary["people"].items())
        print(f"kiosk: {summary['frames']} frames in {summary['seconds']} s ({summary['fps']} FPS), people: "
              f"{people}; detector {summary['detector']}, model {summary['model']}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli("edge-kiosk", lambda: _body(args))


if __name__ == "__main__":
    sys.exit(main())
