"""edge-train's face-detection sets and models: the no-face set, the second-look set, image-folder classifiers.

Kept beside train/cli.py (which registers these subcommands) so each CLI module stays one screenful of ideas.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from edge.cli.common import answer, emit_json, quiet_tensorflow

# OpenCV's sample photos with no face in them (opencv-doc examples/data): the second look's negatives.
OPENCV_NOFACE = ("aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "board.jpg", "box.png", "box_in_scene.png",
                 "building.jpg", "butterfly.jpg", "cards.png", "chessboard.png", "ela_original.jpg", "fruits.jpg",
                 "graf1.png", "home.jpg", "leuvenA.jpg", "licenseplate_motion.jpg", "orange.jpg", "pic1.png",
                 "pic4.png", "pic5.png", "rubberwhale1.png", "smarties.png", "squirrel_cls.jpg", "starry_night.jpg",
                 "stuff.jpg", "sudoku.png", "text_defocus.jpg", "left01.jpg", "right05.jpg", "graf3.png", "leuvenB.jpg",
                 "aloeR.jpg", "rubberwhale2.png", "blox.jpg", "detect_blob.png", "ellipses.jpg", "imageTextN.png",
                 "notes.png", "pca_test1.jpg", "pic2.png", "pic3.png", "pic6.png", "text_motion.jpg", "chicky_512.png",
                 "digits.png", "left07.jpg", "right12.jpg")
# The first stage the second look learns behind: the default detector without its second look, at a low
# threshold so the verifier also sees the weak candidates.
VERIFIER_STAGE_ONE = "blazeface:model=short-range,input_width=320,threshold=0.2,face_shape=false,min_face_px=16"
FASHION_TILES = 3000


def add_parsers(sub) -> None:
    exp = sub.add_parser("export-data", help="a dataset's splits as one .npz (x_train, y_train, x_val, y_val, x_test, "
                         "y_test), for `edge-convert --data` and `edge-bench --dataset`",
                         epilog="example:\n  edge-train export-data mnist --out runs/mnist.npz && edge-convert "
                                "runs/digits/bundle --data runs/mnist.npz",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    exp.add_argument("dataset", help="mnist, fashion, mask, face-verifier (or a path with --data)")
    exp.add_argument("--data", dest="data_path", help="the dataset's folder, when not the default")
    exp.add_argument("--out", type=Path, required=True)
    exp.add_argument("--seed", type=int, default=42)
    exp.add_argument("--json", action="store_true")
    cal = sub.add_parser("calibration-sample", help="write int8 calibration images (and mixed-precision selection "
                         "images) into a bundle trained before bundles carried them",
                         epilog="example:\n  edge-train calibration-sample edge/models/digits --dataset mnist",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    cal.add_argument("bundle")
    cal.add_argument("--dataset", required=True, help="the dataset it was trained on: mnist, fashion, mask, "
                     "face-verifier, pain (with --data)")
    cal.add_argument("--data", dest="data_path", help="the dataset's folder, when not the default")
    cal.add_argument("--n", type=int, default=300, help="calibration images (capped to ~3 MB of pixels)")
    cal.add_argument("--selection", type=int, default=1000, help="validation images for --keep-float auto (capped)")
    cal.add_argument("--seed", type=int, default=42)
    cal.add_argument("--json", action="store_true")
    rset = sub.add_parser("recall-set", help="the detector recall frames alone (edge-train masks builds them too)",
                          description="Frames of real faces, with and without painted masks, for edge-bench recall.",
                          epilog="examples:\n"
                          "  edge-train recall-set         # the recall set edge-bench recall reads\n"
                          "  edge-train recall-set --dev   # a development set to choose thresholds on",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    rset.add_argument("--out", type=Path, help="folder (default: the cache's detection-frames, or "
                      "detection-frames-dev with --dev)")
    rset.add_argument("--seed", type=int, help="placement and mask seed (default 42; 7 with --dev)")
    rset.add_argument("--dev", action="store_true", help="a development set: other frames of the animated clip "
                      "than the recall set's, the same photos placed with another seed, for choosing detector "
                      "thresholds without tuning on the recall set's own frames")
    rset.add_argument("--json", action="store_true")
    noface = sub.add_parser("noface", help="frames with no face at all (real images) for counting phantom faces")
    noface.add_argument("--out", type=Path, help="folder (default: the cache's noface-frames)")
    noface.add_argument("--seed", type=int, default=42)
    noface.add_argument("--json", action="store_true")
    vset = sub.add_parser("verifier-set", help="face / not-face crops of detector candidates for the second look")
    vset.add_argument("--out", type=Path, help="folder (default: the cache's face-verifier-set)")
    vset.add_argument("--seed", type=int, default=42)
    vset.add_argument("--json", action="store_true")
    ver = sub.add_parser("verifier", help="the second look: build the verifier set if missing, then train the tiny "
                         "face / not-face CNN on it (48x48 grey) into a bundle")
    ver.add_argument("--data", type=Path, help="verifier set (default: the cache's face-verifier-set; built if "
                     "missing)")
    ver.add_argument("--out", type=Path, default=Path("runs/face-verifier"))
    ver.add_argument("--epochs", type=int, default=40)
    ver.add_argument("--seed", type=int, default=42)
    ver.add_argument("--json", action="store_true")
    clf = sub.add_parser("classify", help="an image classifier from your folder of photos (class_name/*.jpg, "
                         "optionally under Train/ Validation/ Test/) into a bundle",
                         epilog="examples:\n  edge-train classify --data photos/ --out runs/photos        # tiny CNN\n"
                                "  edge-train classify --data photos/ --backbone mobilenet_v2 --weights imagenet\n"
                                "  edge-train classify --data photos/ --backbone mobilenet_v2 --weights facemask  "
                                "# offline ImageNet base\n"
                                "  edge-train classify --data photos/ --backbone efficientnet_b0 --size 224\n"
                                "then: edge-convert runs/photos/bundle && edge-run runs/photos/bundle --source IMG",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    clf.add_argument("--data", type=Path, required=True, help="your photos: one sub-folder per class (class/*.jpg), "
                     "optionally under Train/ Validation/ Test/ (else a seeded stratified split)")
    clf.add_argument("--out", type=Path, default=Path("runs/classify"), help="run folder: curves, confusion matrix, "
                     "per-class report and bundle/ (default runs/classify)")
    clf.add_argument("--backbone", default="tiny-cnn", choices=("tiny-cnn", "mobilenet_v2", "mobilenet_v3_small",
                                                                "efficientnet_b0"))
    clf.add_argument("--weights", default="none", help="imagenet (download), facemask (mobilenet_v2, offline), a "
                     "weights file, or none (default; the tiny CNN always trains from scratch)")
    clf.add_argument("--size", type=int, help="input side in pixels (default 48 for tiny-cnn, 160 otherwise)")
    clf.add_argument("--color", choices=("gray", "rgb"), default="rgb", help="tiny-cnn only (default rgb)")
    clf.add_argument("--epochs", type=int, default=40)
    clf.add_argument("--batch-size", type=int, default=32)
    clf.add_argument("--learning-rate", type=float, default=1e-3)
    clf.add_argument("--patience", type=int, default=6)
    clf.add_argument("--task", default="classify", help="a word for what the model does (written into the manifest)")
    clf.add_argument("--name", help="bundle name (default: the folder's name)")
    clf.add_argument("--seed", type=int, default=42)
    clf.add_argument("--json", action="store_true")


def build_recall_set(out: Path | None, seed: int | None = None, dev: bool = False) -> tuple[Path, int]:
    """The recall set: the face-recognition portraits, the astronaut and every fourth animated Megamind frame,
    masked and unmasked, 30-200 px. (LFW's faces are 25 px originals: shown at 40-60 px they are blurred
    upscales no camera makes, so they stay out.) With `dev`, the development set: the same photos placed and
    masked with another seed, and the Megamind frames halfway between the recall set's."""
    from edge.cache import cache_dir
    from train.synth.detection_frames import build_detection_set
    from train.synth.faces import iter_face_photos

    out = out or cache_dir() / ("detection-frames-dev" if dev else "detection-frames")
    seed = seed if seed is not None else 7 if dev else 42
    photos = list(iter_face_photos(lfw=False))
    clip = [p for p in photos if p.person == "megamind"]
    chosen = [p for p in photos if p.person != "megamind"] + (clip[2::4] if dev else clip[::4])
    return out, len(build_detection_set(chosen, out, seed)["frames"])


def recall_set(args: argparse.Namespace) -> int:
    out, frames = build_recall_set(args.out, args.seed, args.dev)
    return answer({"detection_frames": str(out), "frames": frames}, args.json, f"recall frames: {out} ({frames} pairs)")


def noface(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from edge.cache import cache_dir, sample_media
    from train.datasets.fetch import fetch_media
    from train.synth.faces import iter_face_photos
    from train.synth.noface import build_noface_set

    fetch_media()
    out = args.out or cache_dir() / "noface-frames"
    photos = list(iter_face_photos(lfw=False))
    with tqdm(desc="no-face frames", unit="frame", disable=args.json) as bar:
        meta = build_noface_set(photos, sample_media()["pedestrians"], out, args.seed, progress=lambda _: bar.update())
    kinds: dict[str, int] = {}
    for info in meta["frames"].values():
        kinds[info["kind"]] = kinds.get(info["kind"], 0) + 1
    result = {"noface_frames": str(out), "frames": len(meta["frames"]), "kinds": kinds}
    return answer(result, args.json, f"no-face frames: {out} ({result['frames']}: {kinds})")


def verifier_set(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from edge.cache import cache_dir
    from edge.detectors import open_detector
    from train.datasets import load_dataset
    from train.datasets.fetch import fetch_opencv_doc
    from train.synth.faces import iter_face_photos
    from train.synth.verifyset import build_verifier_set, negative_images

    out = args.out or cache_dir() / "face-verifier-set"
    images = fetch_opencv_doc(list(OPENCV_NOFACE), cache_dir() / "opencv-samples" / "images")
    rng = np.random.default_rng(args.seed)
    fashion = load_dataset("fashion").x_train
    tiles = fashion[rng.choice(len(fashion), FASHION_TILES, replace=False)].reshape(-1, *fashion.shape[1:3])
    detector = open_detector(VERIFIER_STAGE_ONE)
    detector.spec = VERIFIER_STAGE_ONE
    photos = (p for p in iter_face_photos(lfw=True, megamind=False) if p.person.startswith("lfw-"))
    with tqdm(desc="verifier set", unit="source", disable=args.json) as bar:
        summary = build_verifier_set(photos, negative_images(images, tiles, rng), detector, out, args.seed,
                                     progress=lambda _: bar.update())
    detector.close()
    return answer({"verifier_set": str(out), **summary}, args.json, f"verifier set: {out} {summary['counts']}")


def classify(args: argparse.Namespace) -> int:
    quiet_tensorflow()
    from train.recipes.classify import ClassifyConfig, train_classifier

    cfg = ClassifyConfig(data=args.data, out=args.out, backbone=args.backbone, weights=args.weights, size=args.size,
                         color=args.color, epochs=args.epochs, batch_size=args.batch_size,
                         learning_rate=args.learning_rate,
                         patience=args.patience, seed=args.seed, task=args.task, name=args.name,
                         verbose=2 if args.json else 1)
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        summary = train_classifier(cfg)
    if args.json:
        emit_json(summary)
    else:
        acc = ", ".join(f"{k} {v:.4f}" for k, v in summary["per_class_accuracy"].items())
        print(f"{summary['dataset']}: balanced accuracy {summary['avg_acc']:.4f} ({acc}) on {summary['n_test']} "
              f"held-out images after {summary['epochs_run']} epochs\nbundle: {summary['bundle']}")
    return 0


def verifier(args: argparse.Namespace) -> int:
    from edge.cache import cache_dir

    data = args.data or cache_dir() / "face-verifier-set"
    if not (data / "dataset.json").is_file():
        verifier_set(argparse.Namespace(out=data, seed=args.seed, json=args.json))
    return classify(argparse.Namespace(data=data, out=args.out, backbone="tiny-cnn", weights="none", size=48,
                                       color="gray",
                                       epochs=args.epochs, batch_size=64, learning_rate=1e-3, patience=6,
                                       seed=args.seed, task="face-verifier", name="face-verifier", json=args.json))


def export_data(args: argparse.Namespace) -> int:
    import numpy as np

    from edge.datasets import stratified_split
    from train.datasets import load_dataset

    data = load_dataset(args.dataset, path=args.data_path, seed=args.seed)
    if data.x_val is not None:
        x_tr, y_tr, x_val, y_val = data.x_train, data.y_train, data.x_val, data.y_val
    else:  # the validation split the recipes make: 10 % of training, stratified, seeded
        tr, val = stratified_split(data.y_train, 0.1, args.seed)
        x_tr, y_tr, x_val, y_val = data.x_train[tr], data.y_train[tr], data.x_train[val], data.y_train[val]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, x_train=x_tr, y_train=y_tr, x_val=x_val, y_val=y_val, x_test=data.x_test,
                        y_test=data.y_test, labels=np.array(data.labels))
    result = {"out": str(args.out), "dataset": data.name, "split": data.split, "train": len(y_tr), "val": len(y_val),
              "test": len(data.y_test)}
    text = (f"{args.out}: {data.name} {len(y_tr)} / {len(y_val)} / "
            f"{len(data.y_test)} ({data.split})")
    return answer(result, args.json, text)


def calibration_sample(args: argparse.Namespace) -> int:
    from train.calibration import add_calibration_sample

    result = add_calibration_sample(args.bundle, args.dataset, args.data_path, args.n, args.selection, args.seed)
    return answer(result, args.json, f"{result['bundle']}: {result['sample_file']} ({result['split']})")


HANDLERS = {"export-data": export_data, "calibration-sample": calibration_sample, "recall-set": recall_set,
            "noface": noface, "verifier-set": verifier_set, "verifier": verifier, "classify": classify}
