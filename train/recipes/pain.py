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

from train.pain.data import LABELS, load_pain_folder, split
from train.pain.features import extract
from train.pain.heads import HEADS, make_head
from train.pain.report import binary_metrics, write_tables
from train.reports import confusion_matrix, plot_confusion


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
    bundle: str | None = None  # "BACKBONE:HEAD" (dnn or lr) -> a fused bundle under out/bundle
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
    """Fit the chosen head on features of the very backbone that ships, fuse, verify, write the bundle."""
    import datetime as _dt

    from edge.bundle import Evaluation, InputSpec, Manifest, Preprocess, Provenance, describe_file, write_manifest
    from train import bundle_writer
    from train.pain.backbones import build_backbone
    from train.pain.features import read_rgb
    from train.pain.fuse import fuse

    backbone_name, _, head_name = cfg.bundle.partition(":")
    weights = backbone_weights(cfg.weights, backbone_name)
    backbone = build_backbone(backbone_name, weights, cfg.size)
    feats, _ = extract(backbone_name, weights, data.files, cfg.size, progress=cfg.progress, model=backbone)
    head = make_head(head_name, cfg.seed, cfg.dnn_epochs).fit(feats[train_idx], data.y[train_idx])
    model = fuse(backbone, head, head_name)
    x_test = np.stack([read_rgb(data.files[i], cfg.size) for i in test_idx])
    fused = model.predict(x_test.astype(np.float32), verbose=0)
    diff = float(np.abs(fused[:, 1] - head.predict_proba(feats[test_idx])[:, 1]).max())
    if diff > 1e-3:
        raise RuntimeError(f"fused {cfg.bundle} differs from its head by {diff:.2e}; not writing a bundle")
    root = Path(cfg.out) / "bundle"
    root.mkdir(parents=True, exist_ok=True)
    model.save(root / "model.keras")
    y_test = data.y[test_idx]
    idx = np.sort(np.random.default_rng(cfg.seed).permutation(len(test_idx))[:cfg.eval_sample])
    np.savez_compressed(root / "eval_sample.npz", x=x_test[idx], y=y_test[idx])
    metrics = bundle_writer.classification_metrics(y_test, fused, list(LABELS))
    manifest = Manifest(
        schema=1, name=f"pain-{backbone_name}-{head_name}", task="pain", labels=list(LABELS),
        input=InputSpec(shape=[cfg.size, cfg.size, 3]),
        preprocess=Preprocess(resize=[cfg.size, cfg.size], color="rgb", scale=1.0),
        files=[describe_file(root, "model.keras", "keras", metrics=metrics)],
        evaluation=Evaluation(dataset=f"pain folder {cfg.data}", split=f"held-out test: {split_desc}",
                              n_samples=len(test_idx), sample_file="eval_sample.npz"),
        provenance=Provenance(
            dataset=str(cfg.data), split=split_desc, seed=cfg.seed, recipe=f"seed001-frozen+{head_name}",
            library_versions=bundle_writer.library_versions(), git_commit=bundle_writer.git_commit(),
            created=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
            notes=f"{note}; backbone {backbone_name} weights={weights}, size {cfg.size}"),
    )
    write_manifest(root, manifest)
    return {"path": str(root), "fusion_max_abs_diff": diff, "accuracy": metrics.accuracy}


def best_row(rows: list[dict]) -> dict:
    return max(rows, key=lambda r: (r["f1"], r["accuracy"]))


__all__ = ["PainConfig", "best_row", "train_pain", "np"]
