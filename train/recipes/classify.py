"""An image-folder classifier (`class_name/*.png`, optionally under Train/ Validation/ Test/) into a bundle.

The bundle's manifest `Preprocess` is decided first and the training tensors come from
`edge.preprocess.prepare_dataset` with it, so training and the device feed the model the same numbers.
Per-class accuracy and the one-class-collapse guard come from the mask recipe (seed 004's lesson).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge.bundle import InputSpec, Manifest, Preprocess, describe_file, write_manifest
from edge.preprocess import prepare_dataset, preset_preprocess
from train import bundle_writer
from train.datasets import Dataset, load_image_folder, stratified_split
from train.recipes.mask import CollapsedModelError, collapse_problem, per_class_report
from train.reports import confusion_matrix, plot_confusion, plot_curves


@dataclass
class ClassifyConfig:
    data: Path
    out: Path = Path("runs/classify")
    backbone: str = "tiny-cnn"
    size: int = 48
    color: str = "gray"  # gray | rgb
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 6
    seed: int = 42
    balanced: bool = True  # weight classes by their inverse frequency
    task: str = "face-verifier"
    name: str | None = None
    eval_sample: int = 400
    verbose: int = 2


def manifest_preprocess(size: int, color: str) -> Preprocess:
    """Pixels in [0, 1] at size x size: the one definition training and the device use."""
    return preset_preprocess("0-1", [size, size], gray=color == "gray")


def _backbone(name: str, shape: tuple[int, int, int], n: int):
    from train.models.tiny import build_tiny_cnn

    builders = {"tiny-cnn": build_tiny_cnn}
    if name not in builders:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(builders)}")
    return builders[name](shape, n)


def _splits(data: Dataset, seed: int):
    if data.y_val is not None:
        return data.x_train, data.y_train, data.x_val, data.y_val
    tr, val = stratified_split(data.y_train, 0.1, seed)
    return data.x_train[tr], data.y_train[tr], data.x_train[val], data.y_train[val]


def _augmenter(seed: int):
    import keras

    return keras.Sequential([keras.layers.RandomFlip("horizontal", seed=seed),
                             keras.layers.RandomTranslation(0.06, 0.06, fill_mode="reflect", seed=seed),
                             keras.layers.RandomContrast(0.3, seed=seed)])


def train_classifier(cfg: ClassifyConfig) -> dict:
    """Train, evaluate per class on the held-out split, write figures and a bundle; return the summary."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(cfg.seed)
    data = load_image_folder(cfg.data, (cfg.size, cfg.size), cfg.color, seed=cfg.seed)
    preprocess = manifest_preprocess(cfg.size, cfg.color)
    shape = (cfg.size, cfg.size, 1 if cfg.color == "gray" else 3)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    x_tr, y_tr, x_val, y_val = _splits(data, cfg.seed)
    n = len(data.labels)
    counts = np.bincount(y_tr, minlength=n)
    weights = {i: float(len(y_tr) / (n * max(c, 1))) for i, c in enumerate(counts)} if cfg.balanced else None
    augment = _augmenter(cfg.seed)
    train_ds = (tf.data.Dataset.from_tensor_slices((prepare_dataset(x_tr, preprocess), tf.one_hot(y_tr, n)))
                .shuffle(len(y_tr), seed=cfg.seed).batch(cfg.batch_size)
                .map(lambda x, y: (augment(x, training=True), y)).prefetch(tf.data.AUTOTUNE))
    val_ds = tf.data.Dataset.from_tensor_slices((prepare_dataset(x_val, preprocess), tf.one_hot(y_val, n))).batch(256)

    model = _backbone(cfg.backbone, shape, n)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    schedule = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience, restore_best_weights=True),
                keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(2, cfg.patience // 2))]
    started = time.time()
    hist = model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, callbacks=schedule, verbose=cfg.verbose,
                     class_weight=weights)
    train_seconds = time.time() - started

    probs = model.predict(prepare_dataset(data.x_test, preprocess), batch_size=256, verbose=0)
    pred = probs.argmax(axis=1)
    report = per_class_report(data.y_test, pred, data.labels)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    title = f"{data.name} {cfg.backbone}: balanced accuracy {report['avg_acc']:.4f}"
    plot_curves(history, out / "curves.png", title)
    cm = confusion_matrix(data.y_test, pred, n)
    plot_confusion(cm, data.labels, out / "confusion.png", title)
    summary = {"dataset": data.name, "source": data.source, "split": data.split, "backbone": cfg.backbone,
               "params": int(model.count_params()), "epochs_run": len(history.get("loss", [])),
               "train_seconds": round(train_seconds, 1), "n_train": len(y_tr), "n_val": len(y_val),
               "n_test": len(data.y_test), **report, "confusion": cm.tolist(), "out": str(out),
               "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}}
    problem = collapse_problem(report, 0.95, 0.05)
    summary["collapsed"] = problem
    if problem:
        (out / "train_report.json").write_text(json.dumps(summary, indent=2) + "\n")
        raise CollapsedModelError(f"the model collapsed: it {problem}; no bundle written; see {out / 'confusion.png'}")
    summary["bundle"] = str(_write_bundle(model, data, probs, preprocess, shape, cfg, summary, out, (x_tr, x_val)))
    (out / "train_report.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _write_bundle(model, data: Dataset, probs: np.ndarray, preprocess: Preprocess, shape, cfg: ClassifyConfig,
                  summary: dict, out: Path, train_val: tuple[np.ndarray, np.ndarray]) -> Path:
    bundle_dir = out / "bundle"
    bundle_dir.mkdir(exist_ok=True)
    deploy = _backbone(cfg.backbone, shape, len(data.labels))  # uncompiled twin: no optimizer state shipped
    deploy.set_weights(model.get_weights())
    deploy.save(bundle_dir / "model.keras")
    manifest = Manifest(
        schema=1, name=cfg.name or Path(cfg.data).name, task=cfg.task, pipeline="image", labels=data.labels,
        input=InputSpec(shape=list(shape)), preprocess=preprocess,
        files=[describe_file(bundle_dir, "model.keras", "keras",
                             metrics=bundle_writer.classification_metrics(data.y_test, probs, data.labels))],
        evaluation=bundle_writer.write_eval_sample(bundle_dir, data, cfg.eval_sample, cfg.seed),
        calibration=bundle_writer.write_calibration_sample(bundle_dir, train_val[0], 200, cfg.seed, x_val=train_val[1],
                                                           n_selection=300),
        provenance=bundle_writer.provenance(
            data, cfg.seed, summary["epochs_run"], f"classify-{cfg.backbone}",
            notes=f"Adam lr={cfg.learning_rate}, batch={cfg.batch_size}, class weights "
                  f"{'balanced' if cfg.balanced else 'none'}, flip/translate/contrast augmentation; balanced "
                  f"accuracy {summary['avg_acc']:.4f}"),
    )
    write_manifest(bundle_dir, manifest)
    return bundle_dir
