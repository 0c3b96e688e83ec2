"""The seed 001 recipe: frozen backbone features (cached) x four heads, measured like the paper.

Every backbone x head pair gets TP, TN, FP, FN, accuracy, precision, recall, F1 and ROC-AUC on the
same held-out split, and the split is named in every table: random 50:50 (the paper's) or
subject-wise (no person on both sides).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge.preprocess import prepare_dataset
from train.pain.data import LABELS, load_pain_folder, pain_preprocess, split
from train.pain.features import extract
from train.pain.heads import HEADS, make_head
from train.pain.report import binary_metrics, write_tables
from train.reports import confusion_matrix, plot_confusion

CALIBRATION_IMAGES = 100  # training people's faces shipped for int8 calibration (224 px: ~150 kB each raw)


@dataclass
class PainConfig:
    data: Path
    out: Path = Path("runs/pain")
    backbones: list[str] = field(default_factory=lambda: ["densenet121", "resnet50"])
    heads: list[str] = field(default_factory=lambda: list(HEADS))
    weights: str | None = "imagenet"  # imagenet | random | a file | facemask (mobilenet_v2)
    size: int = 224
    split: str = "subject"
    test_fraction: float = 0.5
    seed: int = 42
    dnn_epochs: int = 25
    subjects_csv: str | None = None
    bundle: str | None = None  # "BACKBONE:HEAD" -> a bundle under out/bundle (fused, or with a chained head)
    eval_sample: int = 64
    progress: bool = True


def backbone_weights(weights: str | None, backbone: str) -> str | None:
    """`facemask` exists for MobileNetV2 only; the other backbones then run with random weights (said in the table)."""
    return "random" if weights == "facemask" and backbone != "mobilenet_v2" else weights


def train_pain(cfg: PainConfig) -> dict:
    data = load_pain_folder(cfg.data, cfg.subjects_csv)
    train_idx, test_idx, split_desc = split(data, cfg.split, cfg.test_fraction, cfg.seed)
    if len(set(data.y[test_idx].tolist())) < 2 or len(set(data.y[train_idx].tolist())) < 2:
        raise ValueError(f"{split_desc}: one side has a single class; add people or use --split random")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    note_file = Path(cfg.data) / "README.txt"
    note = note_file.read_text().strip() if note_file.is_file() else f"data: {cfg.data}"
    rows, timings = [], {}
    for backbone in cfg.backbones:
        t0 = time.time()
        weights = backbone_weights(cfg.weights, backbone)
        feats, cached = extract(backbone, weights, data.files, cfg.size, progress=cfg.progress)
        timings[backbone] = {"features_s": round(time.time() - t0, 2), "cached": cached, "weights": weights}
        for head_name in cfg.heads:
            t1 = time.time()
            head = make_head(head_name, cfg.seed, cfg.dnn_epochs).fit(feats[train_idx], data.y[train_idx])
            p = head.predict_proba(feats[test_idx])[:, 1]
            row = {"backbone": backbone, "head": head_name, "weights": weights, **binary_metrics(data.y[test_idx], p),
                   "fit_s": round(time.time() - t1, 2)}
            rows.append(row)
            cm = confusion_matrix(data.y[test_idx], (p >= 0.5).astype(int), 2)
            plot_confusion(cm, list(LABELS), out / f"confusion_{backbone}_{head_name}.png",
                           f"{backbone} + {head_name}: accuracy {row['accuracy']:.3f}")
    csv_path, md_path = write_tables(rows, out, split_desc, note)
    summary = {"data": str(cfg.data), "note": note, "split": split_desc, "n_train": len(train_idx),
               "n_test": len(test_idx), "size": cfg.size, "rows": rows, "features": timings,
               "table_md": str(md_path), "table_csv": str(csv_path),
               "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}}
    if cfg.bundle:
        summary["bundle"] = write_pain_bundle(cfg, data, train_idx, test_idx, split_desc, note)
    (out / "pain_report.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    return summary


def write_pain_bundle(cfg: PainConfig, data, train_idx, test_idx, split_desc: str, note: str) -> dict:
    """Fit the chosen head on features of the very backbone that ships, fuse or chain it, verify, write the bundle."""
    from train.pain.backbones import build_backbone
    from train.pain.features import read_rgb
    from train.pain.fuse import fuse
    from train.pain.head_onnx import CHAINED, export_head

    backbone_name, _, head_name = cfg.bundle.partition(":")
    weights = backbone_weights(cfg.weights, backbone_name)
    backbone = build_backbone(backbone_name, weights, cfg.size)
    feats, _ = extract(backbone_name, weights, data.files, cfg.size, progress=cfg.progress, model=backbone)
    head = make_head(head_name, cfg.seed, cfg.dnn_epochs).fit(feats[train_idx], data.y[train_idx])
    root = Path(cfg.out) / "bundle"
    root.mkdir(parents=True, exist_ok=True)
    x_test = np.stack([read_rgb(data.files[i], cfg.size) for i in test_idx])
    preprocess = pain_preprocess(cfg.size)
    expected = head.predict_proba(feats[test_idx])
    head_file = None
    if head_name in CHAINED:  # the model file outputs features; head.onnx turns them into scores
        import keras

        inp = keras.Input(backbone.input_shape[1:], name="image")
        model = keras.Model(inp, backbone(inp), name=f"{backbone_name}_features")
        export_head(head, head_name, feats[test_idx], root / "head.onnx")
        head_file = root / "head.onnx"
        fused = _chained(model.predict(prepare_dataset(x_test, preprocess), verbose=0), head_file)
    else:
        (root / "head.onnx").unlink(missing_ok=True)  # from an earlier run with a chained head
        model = fuse(backbone, head, head_name)
        fused = model.predict(prepare_dataset(x_test, preprocess), verbose=0)
    diff = float(np.abs(fused[:, 1] - expected[:, 1]).max())
    if diff > 1e-3:
        raise RuntimeError(f"{cfg.bundle}: the bundle's scores differ from its head by {diff:.2e}; not writing it")
    model.save(root / "model.keras")
    rng = np.random.default_rng(cfg.seed)
    calib = np.stack([read_rgb(data.files[i], cfg.size) for i in rng.permutation(train_idx)[:CALIBRATION_IMAGES]])
    _write_manifest(cfg, data, root, x_test, fused, test_idx, split_desc, note, backbone_name, weights, head_name,
                    head_file, int(feats.shape[1]), calib)
    return {"path": str(root), "fusion_max_abs_diff": diff, "head": CHAINED.get(head_name, "fused"),
            "accuracy": float((fused.argmax(1) == data.y[test_idx]).mean())}


def _chained(features: np.ndarray, head_file: Path) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(head_file), providers=["CPUExecutionProvider"])
    return session.run(["probs"], {"features": features.astype(np.float32)})[0]


def _write_manifest(cfg: PainConfig, data, root: Path, x_test, probs, test_idx, split_desc: str, note: str,
                    backbone_name: str, weights, head_name: str, head_file: Path | None, n_features: int,
                    calibration_images: np.ndarray) -> None:
    import datetime as _dt

    from edge.bundle import (
        Evaluation,
        HeadSpec,
        InputSpec,
        Manifest,
        Provenance,
        describe_file,
        sha256_file,
        write_manifest,
    )
    from train import bundle_writer
    from train.pain.head_onnx import CHAINED

    y_test = data.y[test_idx]
    idx = np.sort(np.random.default_rng(cfg.seed).permutation(len(test_idx))[:cfg.eval_sample])
    np.savez_compressed(root / "eval_sample.npz", x=x_test[idx], y=y_test[idx])
    metrics = bundle_writer.classification_metrics(y_test, probs, list(LABELS))
    head = None
    if head_file is not None:
        head = HeadSpec(path=head_file.name, kind=CHAINED[head_name], sha256=sha256_file(head_file),
                        size_bytes=head_file.stat().st_size, n_features=n_features)
    calibration = bundle_writer.write_calibration_sample(root, calibration_images, len(calibration_images), cfg.seed,
                                                         budget_bytes=None)
    manifest = Manifest(
        schema=1, name=f"pain-{backbone_name}-{head_name}", task="pain", pipeline="faces", labels=list(LABELS),
        input=InputSpec(shape=[cfg.size, cfg.size, 3]), preprocess=pain_preprocess(cfg.size),
        files=[describe_file(root, "model.keras", "keras", metrics=metrics)], head=head, calibration=calibration,
        evaluation=Evaluation(dataset=f"pain folder {cfg.data}", split=f"held-out test: {split_desc}",
                              n_samples=len(test_idx), sample_file="eval_sample.npz"),
        provenance=Provenance(
            dataset=str(cfg.data), split=split_desc, seed=cfg.seed, recipe=f"seed001-frozen+{head_name}",
            library_versions=bundle_writer.library_versions(), git_commit=bundle_writer.git_commit(),
            created=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
            notes=f"{note}; backbone {backbone_name} weights={weights}, size {cfg.size}"),
    )
    write_manifest(root, manifest)


def best_row(rows: list[dict]) -> dict:
    return max(rows, key=lambda r: (r["f1"], r["accuracy"]))


__all__ = ["PainConfig", "best_row", "train_pain", "np"]
