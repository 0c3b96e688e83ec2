"""`edge-train classify --data FOLDER`: an image classifier from a user's folder of photos, into a bundle.

The Edge Impulse / Teachable Machine path for someone with a folder of photos and a Pi: `class_name/*.jpg`
(optionally under Train/ Validation/ Test/, else a seeded stratified split), a named backbone (a tiny CNN
from scratch, or MobileNetV2 / MobileNetV3-Small / EfficientNet-B0 to transfer from, train.models.transfer),
and the project's usual reports: curves, confusion matrix, per-class accuracy and the one-class-collapse
guard. The manifest's Preprocess is decided first (the backbone's preset) and the training tensors come from
`edge.preprocess.prepare_dataset` with it, so training and the device feed the model the same numbers. The
bundle carries evaluation and calibration samples, so `edge-convert BUNDLE` needs nothing else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.bundle import InputSpec, Manifest, Preprocess, describe_file, write_manifest
from edge.datasets import Dataset, load_image_folder, stratified_split
from edge.preprocess import prepare_dataset, preset_preprocess
from train import bundle_writer
from train.recipes import steps


@dataclass
class ClassifyConfig:
    data: Path
    out: Path = Path("runs/classify")
    backbone: str = "tiny-cnn"
    weights: str = "none"  # imagenet | facemask | a weights file | none
    size: int | None = None  # default: 48 for the tiny CNN, 160 for the others
    color: str = "rgb"  # gray | rgb (keras.applications backbones are rgb)
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 6
    seed: int = 42
    balanced: bool = True  # weight classes by their inverse frequency
    task: str = "classify"
    name: str | None = None
    eval_sample: int = 400
    verbose: int = 2


def manifest_preprocess(size: int, color: str, preset: str = "0-1") -> Preprocess:
    """The backbone's input normalisation at size x size: the one definition training and the device use."""
    return preset_preprocess(preset, [size, size], gray=color == "gray")


def _augmenter(seed: int):
    import keras

    return keras.Sequential([keras.layers.RandomFlip("horizontal", seed=seed),
                             keras.layers.RandomTranslation(0.06, 0.06, fill_mode="reflect", seed=seed),
                             keras.layers.RandomContrast(0.3, seed=seed)])


def _splits(data: Dataset, seed: int):
    if data.y_val is not None:
        return data.x_train, data.y_train, data.x_val, data.y_val
    tr, val = stratified_split(data.y_train, 0.1, seed)
    return data.x_train[tr], data.y_train[tr], data.x_train[val], data.y_train[val]


def _fit(model, x_tr, y_tr, x_val, y_val, n: int, preprocess: Preprocess, cfg: ClassifyConfig):
    """(history, seconds): Adam, early stopping on validation loss, class weights for an unbalanced folder."""
    import keras
    import tensorflow as tf

    weights = None
    if cfg.balanced:
        counts = np.bincount(y_tr, minlength=n)
        weights = {i: float(len(y_tr) / (n * max(c, 1))) for i, c in enumerate(counts)}
    augment = _augmenter(cfg.seed)
    train_ds = (tf.data.Dataset.from_tensor_slices((prepare_dataset(x_tr, preprocess), tf.one_hot(y_tr, n)))
                .shuffle(len(y_tr), seed=cfg.seed).batch(cfg.batch_size)
                .map(lambda x, y: (augment(x, training=True), y)).prefetch(tf.data.AUTOTUNE))
    val_ds = tf.data.Dataset.from_tensor_slices((prepare_dataset(x_val, preprocess), tf.one_hot(y_val, n))).batch(256)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    schedule = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience, restore_best_weights=True),
                keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(2, cfg.patience // 2))]
    started = time.time()
    hist = model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, callbacks=schedule, verbose=cfg.verbose,
                     class_weight=weights)
    return steps.history_of(hist), time.time() - started


def train_classifier(cfg: ClassifyConfig) -> dict:
    """Train, evaluate per class on the held-out split, write figures and a bundle; return the summary."""
    import keras

    from train.models.transfer import BACKBONES, build_classifier

    if cfg.backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {cfg.backbone!r}; choose one of {', '.join(BACKBONES)}")
    keras.utils.set_random_seed(cfg.seed)
    size = cfg.size or (48 if cfg.backbone == "tiny-cnn" else 160)
    color = cfg.color if cfg.backbone == "tiny-cnn" else "rgb"
    data = load_image_folder(cfg.data, (size, size), color, seed=cfg.seed)
    preprocess = manifest_preprocess(size, color, BACKBONES[cfg.backbone].preset)
    shape = (size, size, 1 if color == "gray" else 3)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    x_tr, y_tr, x_val, y_val = _splits(data, cfg.seed)
    n = len(data.labels)
    model, _ = build_classifier(cfg.backbone, shape, n, cfg.weights)
    history, train_seconds = _fit(model, x_tr, y_tr, x_val, y_val, n, preprocess, cfg)
    probs = model.predict(prepare_dataset(data.x_test, preprocess), batch_size=256, verbose=0)
    pred = probs.argmax(axis=1)
    report = steps.per_class_report(data.y_test, pred, data.labels)
    title = f"{data.name} {cfg.backbone}: balanced accuracy {report['avg_acc']:.4f}"
    cm = steps.figures(out, history, title, data.x_test, data.y_test, pred, data.labels, grid=color == "rgb")
    summary = {"dataset": data.name, "source": data.source, "split": data.split, "backbone": cfg.backbone,
               "weights": cfg.weights, "size": size, "preprocess": BACKBONES[cfg.backbone].preset,
               "params": int(model.count_params()), "epochs_run": len(history.get("loss", [])),
               "train_seconds": round(train_seconds, 1), "n_train": len(y_tr), "n_val": len(y_val),
               "n_test": len(data.y_test), **report, "confusion": cm.tolist(), "out": str(out),
               "config": steps.config_dict(cfg)}
    steps.refuse_collapsed(report, summary, out)

    def rebuild():  # the uncompiled twin the bundle ships
        return build_classifier(cfg.backbone, shape, n, "none")[0]

    summary["bundle"] = str(_write_bundle(model, rebuild, data, probs, preprocess, cfg, summary, out, (x_tr, x_val)))
    steps.write_summary(out, summary)
    return summary


def _write_bundle(model, rebuild, data: Dataset, probs: np.ndarray, preprocess: Preprocess, cfg: ClassifyConfig,
                  summary: dict, out: Path, train_val: tuple[np.ndarray, np.ndarray]) -> Path:
    bundle_dir = out / "bundle"
    bundle_dir.mkdir(exist_ok=True)
    steps.save_uncompiled(rebuild, model, bundle_dir / "model.keras")
    shape = list(data.x_train.shape[1:])
    manifest = Manifest(
        schema=1, name=cfg.name or Path(cfg.data).name, task=cfg.task, pipeline="image", labels=data.labels,
        input=InputSpec(shape=shape), preprocess=preprocess,
        files=[describe_file(bundle_dir, "model.keras", "keras",
                             metrics=bundle_writer.classification_metrics(data.y_test, probs, data.labels))],
        evaluation=bundle_writer.write_eval_sample(bundle_dir, data, cfg.eval_sample, cfg.seed),
        calibration=bundle_writer.write_calibration_sample(bundle_dir, train_val[0], 200, cfg.seed, x_val=train_val[1],
                                                           n_selection=300),
        provenance=bundle_writer.provenance(
            data, cfg.seed, summary["epochs_run"], f"classify-{cfg.backbone}",
            notes=f"backbone {cfg.backbone} weights={cfg.weights}, Adam lr={cfg.learning_rate}, "
                  f"batch={cfg.batch_size}, class weights {'balanced' if cfg.balanced else 'none'}, "
                  f"flip/translate/contrast augmentation; balanced accuracy {summary['avg_acc']:.4f}"),
    )
    write_manifest(bundle_dir, manifest)
    return bundle_dir
