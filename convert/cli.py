"""edge-convert: Keras bundle -> TFLite (fp32/fp16/dynamic/int8) + ONNX (fp32/int8) with a parity gate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.cli.common import EXIT_GATE, emit_json, emit_result, quiet_tensorflow, run_cli

EPILOG = """examples:
  edge-convert runs/digits/bundle                         # all formats, in place, parity report
  edge-convert runs/digits/bundle --out edge/models/digits --formats tflite-fp32 tflite-int8 onnx-fp32 onnx-int8
  edge-convert BUNDLE --max-drop 0.5                      # CI gate: exit 3 if an int8 file loses > 0.5 pp
  edge-convert BUNDLE --min-relative 0.99                 # MLPerf-style: int8 keeps 99 %% of fp32 accuracy
  edge-convert BUNDLE --keep-float auto --max-drop 1.0    # int8 with the few layers that lose accuracy kept float
  edge-convert BUNDLE --keep-float conv1,bn1              # ... or name them (Keras layer names)
  edge-convert mymodel.keras --data imgs/ --out b         # your own model + image folder (class/*.jpg) -> a bundle
  edge-convert net.h5 --data imgs/ --preprocess=-1..1 --out b    # a model without its own normalisation layer
  edge-convert resnet.onnx --data imgs/ --preprocess imagenet-torch --out b   # PyTorch's ONNX -> ONNX int8
  edge-convert BUNDLE --data my_photos.npz --max-size-kb 512     # calibrate and measure on your data

exit codes: 0 ok, 1 error, 2 usage, 3 a gate failed (accuracy drop, relative accuracy, size).
writes: the model files, manifest.json (hashes, quantization, metrics), parity.md and parity.json."""


def build_parser() -> argparse.ArgumentParser:
    from convert.bundle_convert import DEFAULT_FORMATS
    from convert.exporters import EXPORTERS

    p = argparse.ArgumentParser(prog="edge-convert", description="Convert a Keras bundle to TFLite and ONNX, "
                                "quantize to int8, and measure parity against the Keras model.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="bundle folder or built-in name; or your model file (.keras, .h5, a SavedModel "
                   "folder) with --data and --out; or one of the subcommands keygen, sign, verify")
    p.add_argument("--out", type=Path, help="write a new bundle here (default: convert in place)")
    p.add_argument("--formats", nargs="+", choices=list(EXPORTERS), default=list(DEFAULT_FORMATS), metavar="FMT",
                   help=f"formats to produce (default: all: {' '.join(DEFAULT_FORMATS)})")
    p.add_argument("--calibration-size", type=int, default=300,
                   help="representative samples drawn from the training split (default 300)")
    p.add_argument("--onnx-target", choices=("x86", "arm"), default="x86",
                   help="ONNX int8 kernels: x86 = u8 activations + reduce_range (safe without VNNI); arm = s8s8")
    p.add_argument("--data", dest="data_path", help="an image folder (class/*.jpg, with Train/ Validation/ Test/ if "
                   "present), a folder of unlabelled images (calibration and agreement only) or an .npz; default: "
                   "the bundle's own calibration and evaluation samples")
    p.add_argument("--labels", help="comma-separated class names in the model's output order (default: the data's "
                   "folder names)")
    p.add_argument("--preprocess", help="your model's input normalisation when it has no Rescaling/Normalization "
                   "layer: 0-1, -1..1 (write --preprocess=-1..1), imagenet-torch, imagenet-caffe or raw")
    p.add_argument("--scale", type=float, help="explicit: multiply pixels by this ...")
    p.add_argument("--mean", help="... subtract these (comma-separated, per channel) ...")
    p.add_argument("--std", help="... divide by these")
    p.add_argument("--color", choices=("rgb", "bgr"), help="channel order the model takes (default: the preset's)")
    p.add_argument("--limit-eval", type=int, help="evaluate on a random subset of the held-out split")
    p.add_argument("--max-drop", type=float, help="fail (exit 3) if an int8 file loses more accuracy points")
    p.add_argument("--min-relative", type=float, help="fail (exit 3) if an int8 file keeps less than this "
                   "fraction of fp32 accuracy")
    p.add_argument("--max-size-kb", type=float, help="fail (exit 3) if an int8 file is larger than this (a device's "
                   "flash or RAM budget)")
    p.add_argument("--default-format", default="tflite-int8", help="the format edge-run and the kiosk load unless "
                   "told otherwise (default tflite-int8; e.g. tflite-fp16 for a KNN head, which int8 features upset)")
    p.add_argument("--int8-io", choices=("int8", "float"), default="int8", help="TFLite int8 file's input and "
                   "output type (default int8, what Edge TPUs and the kiosk want; float keeps the scores "
                   "unrounded, e.g. for a two-class model whose scores sit near 0.5; pair it with --keep-float for "
                   "the last layer)")
    p.add_argument("--keep-float", metavar="auto|LAYER,...", help="mixed-precision int8: keep these Keras layers "
                   "float in the int8 files, or 'auto' to choose them by whole-model sensitivity on the validation "
                   "split (CPU targets; an Edge TPU stops at the first float op)")
    p.add_argument("--mixed-target", type=float, default=0.99, help="--keep-float auto: stop adding float layers "
                   "once validation top-1 agreement with Keras reaches this (default 0.99)")
    p.add_argument("--mixed-max-layers", type=int, default=3, help="--keep-float auto: at most this many float "
                   "layers (default 3)")
    p.add_argument("--selection-size", type=int, default=1000, help="--keep-float auto: validation images the "
                   "layers are chosen on (default 1000)")
    p.add_argument("--rewrite", choices=("auto", "off"), default="auto", help="int8 files: quantize a float-exact "
                   "rewrite of the model where it helps (BatchNorms no conv absorbs -> per-channel depthwise convs; "
                   "concat inputs equalized, as DenseNet needs); 'off' quantizes the graph as it is (default auto)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json", action="store_true", help="print the parity report as one JSON object")
    return p


def _body(args: argparse.Namespace) -> int:
    quiet_tensorflow()
    from convert.bundle_convert import ConvertConfig, convert_bundle
    from convert.mixed_precision import parse_keep_float
    from convert.report import to_markdown

    source, out = _source(args)
    cfg = ConvertConfig(formats=tuple(args.formats), out=out, calibration_size=args.calibration_size,
                        onnx_target=args.onnx_target, data_path=args.data_path,
                        limit_eval=args.limit_eval, max_drop=args.max_drop, min_relative=args.min_relative,
                        max_size_kb=args.max_size_kb,
                        seed=args.seed, default_format=args.default_format,
                        int8_io=args.int8_io, keep_float=parse_keep_float(args.keep_float),
                        mixed_target=args.mixed_target, mixed_max_layers=args.mixed_max_layers,
                        selection_size=args.selection_size, rewrite=args.rewrite,
                        progress=not args.json and sys.stderr.isatty())
    result = convert_bundle(source, cfg)
    if args.json:
        emit_json({**result.report, "bundle_path": str(result.bundle)})
    else:
        print(to_markdown(result.report), end="")
        print(f"\nbundle: {result.bundle}  (parity.md, parity.json written there)")
    for failure in result.failures:
        print(f"edge-convert: gate failed: {failure}", file=sys.stderr)
    return EXIT_GATE if result.failures else 0


MODEL_SUFFIXES = (".keras", ".h5", ".hdf5", ".onnx")


def _floats(text: str | None) -> tuple[float, ...] | None:
    return tuple(float(v) for v in text.split(",")) if text else None


def _source(args: argparse.Namespace) -> tuple[Path | str, Path | None]:
    """(bundle to convert, where the result goes): a user's model file is first written as a bundle at --out."""
    from convert.bundle_convert import DEFAULT_FORMATS
    from convert.user_model import PreprocessChoice, bundle_from_keras

    source = Path(args.source)
    is_model = source.suffix in MODEL_SUFFIXES or (source.is_dir() and (source / "saved_model.pb").is_file())
    if not is_model:
        return args.source, args.out
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such file")
    if not args.data_path or not args.out:
        raise ValueError(f"{source.name} is a model, not a bundle: give --data (its image folder or .npz) and --out "
                         "(the bundle to write)")
    said = PreprocessChoice(args.preprocess, args.scale, _floats(args.mean), _floats(args.std), args.color)
    labels = [v.strip() for v in args.labels.split(",")] if args.labels else None
    if source.suffix == ".onnx" or source.is_dir():
        import tempfile

        from convert.onnx_source import ONNX_FORMATS, bundle_from_onnx
        from convert.user_model import saved_model_to_onnx

        if args.formats == list(DEFAULT_FORMATS):  # not chosen: what an ONNX model converts to
            args.formats = ["onnx-int8"]
        args.formats = [f for f in args.formats if f in ONNX_FORMATS] or args.formats
        with tempfile.TemporaryDirectory() as tmp:
            onnx_file = saved_model_to_onnx(source, Path(tmp) / f"{source.name}.onnx") if source.is_dir() else source
            return bundle_from_onnx(onnx_file, Path(args.data_path), args.out, labels, said, args.seed), None
    return bundle_from_keras(source, Path(args.data_path), args.out, labels, said, args.seed), None


def signing_parser(command: str) -> argparse.ArgumentParser:
    helps = {"keygen": "make an ed25519 key pair (private PEM mode 0600 + public PEM); keep the private key off "
                       "the devices and out of git",
             "sign": "sign a bundle's manifest.json (it carries every file's sha256) -> manifest.sig",
             "verify": "check a bundle's signature with a public key (exit 1 when unsigned or altered)"}
    p = argparse.ArgumentParser(prog=f"edge-convert {command}", description=helps[command],
                                epilog="examples:\n  edge-convert keygen --out ~/.config/edgesight/keys\n"
                                "  edge-convert sign runs/mask/bundle --key ~/.config/edgesight/keys/edgesight.pem\n"
                                "  edge-run runs/mask/bundle --source clip.mp4 --trusted-key edgesight.pub.pem",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    if command == "keygen":
        p.add_argument("--out", type=Path, required=True, help="folder for edgesight.pem and edgesight.pub.pem")
        p.add_argument("--name", default="edgesight")
    else:
        p.add_argument("bundle", help="bundle folder or built-in name")
        p.add_argument("--key", required=True, help="private PEM to sign with" if command == "sign"
                       else "public PEM to verify with")
    p.add_argument("--json", action="store_true")
    return p


def _signing(command: str, args: argparse.Namespace) -> int:
    from edge.signing import generate_keys, sign_bundle, verify_bundle

    if command == "keygen":
        private, public = generate_keys(args.out, args.name)
        result = {"private_key": str(private), "public_key": str(public)}
    elif command == "sign":
        result = {"signature": str(sign_bundle(args.bundle, args.key))}
    else:
        verify_bundle(args.bundle, args.key)
        result = {"bundle": args.bundle, "verified": True}
    emit_result(result, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in ("keygen", "sign", "verify"):
        command = argv[0]
        sub = signing_parser(command).parse_args(argv[1:])
        return run_cli("edge-convert", lambda: _signing(command, sub))
    args = build_parser().parse_args(argv)
    return run_cli("edge-convert", lambda: _body(args))


if __name__ == "__main__":
    sys.exit(main())
