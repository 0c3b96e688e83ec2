"""edge-convert: Keras bundle -> TFLite (fp32/fp16/dynamic/int8) + ONNX (fp32/int8) with a parity gate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.cli.common import EXIT_GATE, emit_json, quiet_tensorflow, run_cli

EPILOG = """examples:
  edge-convert runs/digits/bundle                         # all formats, in place, parity report
  edge-convert runs/digits/bundle --out edge/models/digits --formats tflite-fp32 tflite-int8 onnx-fp32 onnx-int8
  edge-convert BUNDLE --max-drop 0.5                      # CI gate: exit 3 if an int8 file loses > 0.5 pp
  edge-convert BUNDLE --min-relative 0.99                 # MLPerf-style: int8 keeps 99 %% of fp32 accuracy
  edge-convert model.keras --dataset mnist --out my_bundle  # a bare Keras file becomes a bundle first

exit codes: 0 ok, 1 error, 2 usage, 3 accuracy gate failed.
writes: the model files, manifest.json (hashes, quantization, metrics), parity.md and parity.json."""


def build_parser() -> argparse.ArgumentParser:
    from convert.bundle_convert import DEFAULT_FORMATS
    from convert.exporters import EXPORTERS

    p = argparse.ArgumentParser(prog="edge-convert", description="Convert a Keras bundle to TFLite and ONNX, "
                                "quantize to int8, and measure parity against the Keras model.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="bundle folder or built-in name, or a .keras file (with --dataset)")
    p.add_argument("--out", type=Path, help="write a new bundle here (default: convert in place)")
    p.add_argument("--formats", nargs="+", choices=list(EXPORTERS), default=list(DEFAULT_FORMATS), metavar="FMT",
                   help=f"formats to produce (default: all: {' '.join(DEFAULT_FORMATS)})")
    p.add_argument("--calibration-size", type=int, default=300,
                   help="representative samples drawn from the training split (default 300)")
    p.add_argument("--onnx-target", choices=("x86", "arm"), default="x86",
                   help="ONNX int8 kernels: x86 = u8 activations + reduce_range (safe without VNNI); arm = s8s8")
    p.add_argument("--dataset", help="dataset name (default: from the bundle's task)")
    p.add_argument("--data", dest="data_path", help="dataset files (IDX folder / npz) instead of the default source")
    p.add_argument("--limit-eval", type=int, help="evaluate on a random subset of the held-out split")
    p.add_argument("--max-drop", type=float, help="fail (exit 3) if an int8 file loses more accuracy points")
    p.add_argument("--min-relative", type=float, help="fail (exit 3) if an int8 file keeps less than this "
                   "fraction of fp32 accuracy")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json", action="store_true", help="print the parity report as one JSON object")
    return p


def _body(args: argparse.Namespace) -> int:
    quiet_tensorflow()
    from convert.bundle_convert import ConvertConfig, convert_bundle
    from convert.report import to_markdown

    source = Path(args.source)
    if source.suffix == ".keras":
        from convert.from_keras import bundle_from_keras

        if not source.is_file():
            raise FileNotFoundError(f"{source}: no such file")
        if not args.dataset or not args.out:
            raise ValueError("a .keras file needs --dataset and --out")
        source = bundle_from_keras(source, args.dataset, args.out, args.data_path)
    cfg = ConvertConfig(formats=tuple(args.formats), out=args.out, calibration_size=args.calibration_size,
                        onnx_target=args.onnx_target, dataset=args.dataset, data_path=args.data_path,
                        limit_eval=args.limit_eval, max_drop=args.max_drop, min_relative=args.min_relative,
                        seed=args.seed, progress=not args.json and sys.stderr.isatty())
    result = convert_bundle(source, cfg)
    if args.json:
        emit_json({**result.report, "bundle_path": str(result.bundle)})
    else:
        print(to_markdown(result.report), end="")
        print(f"\nbundle: {result.bundle}  (parity.md, parity.json written there)")
    for failure in result.failures:
        print(f"edge-convert: gate failed: {failure}", file=sys.stderr)
    return EXIT_GATE if result.failures else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli("edge-convert", lambda: _body(args))


if __name__ == "__main__":
    sys.exit(main())
