"""The seed 004 face-mask recipe: model_6, Adam 0.01, EarlyStopping on val_loss, per-class metrics.

The paper's baseline scored "100 %" while predicting `WithMask` for every face; this recipe reports
`mask_acc`, `no_mask_acc` and their mean `avg_acc` (balanced accuracy) and refuses to call a
collapsed model trained: the report and figures are written, then training fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.bundle import InputSpec, Manifest, Preprocess, describe_file, write_manifest
from edge.preprocess import prepare_dataset, preset_preprocess
from train import bundle_writer
from train.datasets import Dataset, load_dataset, stratified_split
from train.recipes import steps
from train.recipes.grey28 import _strategy

SYNTHETIC_NOTE = ("trained on SYNTHETIC masks: real face photos (face-recognition test portraits, scikit-image "
                  "astronaut and lfw_subset, OpenCV Megamind.avi) with masks painted by train/synth; a demo model, "
                  "not validated on real masked faces")


@dataclass
class MaskConfig:
    out: Path = Path("runs/mask")
    data_path: str | None = None
    epochs: int = 40
    batch_size: int = 16
    learning_rate: float = 0.01
    seed: int = 42
    patience: int = 4
    start_from_epoch: int = 5
    augment: bool = True  # horizontal flip, zoom 0.2, shear 0.2, as in the paper
    limit_train: int | None = None
    limit_test: int | None = None
    eval_sample: int = 64  # the paper evaluated on 64 images; RGB 128x128 crops cost ~25 kB each in git
    collapse_share: float = 0.95  # fail when one class takes this share of predictions ...
    min_class_acc: float = 0.05  # ... or a class is recognised this rarely
    verbose: int = 2
    name: str = "mask"


def _augmenter(seed: int):
    import keras

    steps = [keras.layers.RandomFlip("horizontal", seed=seed), keras.layers.RandomZoom(0.2, seed=seed),
             keras.layers.RandomShear(0.2, 0.2, seed=seed)]

    def apply(x, y):
        for layer in steps:
            x = layer(x, training=True)
        return x, y

    return apply


def validation_split(data: Dataset, seed: int):
    """(x_train, y_train, x_val, y_val): the dataset's own validation split, else 10 % of training, stratified."""
    if data.y_val is not None:
        return data.x_train, data.y_train, data.x_val, data.y_val
    tr, val = stratified_split(data.y_train, 0.1, seed)
    return data.x_train[tr], data.y_train[tr], data.x_train[val], data.y_train[val]


def manifest_preprocess(shape: tuple[int, ...]) -> Preprocess:
    """RGB face crops in [0, 1] (seed 004's rescale 1/255): the one definition training and the device use."""
    return preset_preprocess("0-1", shape[:2])


def _datasets(data: Dataset, cfg: MaskConfig, preprocess: Preprocess):
    import tensorflow as tf

    x_tr, y_tr, x_val, y_val = validation_split(data, cfg.seed)
    n = len(data.labels)

    def onehot(x, y):
        return x, tf.one_hot(y, n)

    train = (tf.data.Dataset.from_tensor_slices((prepare_dataset(x_tr, preprocess), y_tr))
             .shuffle(len(y_tr), seed=cfg.seed).batch(cfg.batch_size).map(onehot, num_parallel_calls=tf.data.AUTOTUNE))
    if cfg.augment:
        train = train.map(_augmenter(cfg.seed), num_parallel_calls=tf.data.AUTOTUNE)
    val = tf.data.Dataset.from_tensor_slices((prepare_dataset(x_val, preprocess), y_val)).batch(128).map(onehot)
    return train.prefetch(tf.data.AUTOTUNE), val.prefetch(tf.data.AUTOTUNE), len(y_tr), len(y_val)


def _fit(model, data: Dataset, cfg: MaskConfig, preprocess: Preprocess, out: Path):
    import keras

    train_ds, val_ds, n_train, n_val = _datasets(data, cfg, preprocess)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=cfg.patience,
                                            restore_best_weights=True, start_from_epoch=cfg.start_from_epoch,
                                            verbose=1)
    hist, seconds = bundle_writer.fit_with_logs(model, train_ds, val_ds, cfg.epochs, out, "val_loss", [stopper],
                                                cfg.verbose)
    return steps.history_of(hist), seconds, n_train, n_val


def train_mask(cfg: MaskConfig, dataset: Dataset | None = None) -> dict:
    """Train, evaluate per class on the held-out split, write figures and a bundle; return the summary."""
    import keras

    from train.models.mask import build_mask_cnn

    keras.utils.set_random_seed(cfg.seed)
    data = dataset or load_dataset("mask", path=cfg.data_path, seed=cfg.seed)
    if cfg.limit_train or cfg.limit_test:
        data = data.subset(cfg.limit_train, cfg.limit_test, seed=cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    shape, n_classes = tuple(data.x_train.shape[1:]), len(data.labels)
    preprocess = manifest_preprocess(shape)
    strategy, n_gpus = _strategy()
    with strategy.scope():
        model = build_mask_cnn(shape, n_classes)
        history, train_seconds, n_train, n_val = _fit(model, data, cfg, preprocess, out)
    probs = model.predict(prepare_dataset(data.x_test, preprocess), batch_size=128, verbose=0)
    pred = probs.argmax(axis=1)
    report = steps.per_class_report(data.y_test, pred, data.labels)
    cm = steps.figures(out, history, f"{data.name} mask CNN: avg_acc {report['avg_acc']:.4f}", data.x_test,
                       data.y_test, pred, data.labels)
    epochs_run = len(history.get("loss", []))
    summary = {
        "dataset": data.name, "source": data.source, "split": data.split, "model": "mask-cnn",
        "params": int(model.count_params()), "epochs_run": epochs_run, "train_seconds": round(train_seconds, 1),
        "gpus": n_gpus, "n_train": n_train, "n_val": n_val, "n_test": len(data.y_test), **report,
        "confusion": cm.tolist(), "out": str(out), "config": steps.config_dict(cfg),
    }
    steps.refuse_collapsed(report, summary, out, cfg.collapse_share, cfg.min_class_acc)
    summary["bundle"] = str(_write_bundle(model, data, probs, preprocess, report, epochs_run, cfg, out))
    steps.write_summary(out, summary)
    return summary


def _write_bundle(model, data: Dataset, probs: np.ndarray, preprocess: Preprocess, report: dict, epochs_run: int,
                  cfg: MaskConfig, out: Path) -> Path:
    from train.models.mask import build_mask_cnn

    bundle_dir = out / "bundle"
    bundle_dir.mkdir(exist_ok=True)
    shape = tuple(data.x_train.shape[1:])
    steps.save_uncompiled(lambda: build_mask_cnn(shape, len(data.labels)), model, bundle_dir / "model.keras")
    synthetic = data.name == "mask-synthetic"
    manifest = Manifest(
        schema=1, name=cfg.name, task="mask", pipeline="faces", labels=data.labels,
        input=InputSpec(shape=list(shape)), preprocess=preprocess,
        files=[describe_file(bundle_dir, "model.keras", "keras",
                             metrics=bundle_writer.classification_metrics(data.y_test, probs, data.labels))],
        evaluation=bundle_writer.write_eval_sample(bundle_dir, data, cfg.eval_sample, cfg.seed),
        calibration=bundle_writer.write_calibration_sample(bundle_dir, data.x_train, 100, cfg.seed),
        provenance=bundle_writer.provenance(
            data, cfg.seed, epochs_run, "seed004-model6",
            notes=(SYNTHETIC_NOTE + "; " if synthetic else "") + f"Adam lr={cfg.learning_rate}, "
            f"batch={cfg.batch_size}, augment={'flip+zoom+shear' if cfg.augment else 'none'}, "
            f"avg_acc={report['avg_acc']:.4f}",
        ),
    )
    write_manifest(bundle_dir, manifest)
    return bundle_dir
