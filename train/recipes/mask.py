"""The seed 004 face-mask recipe: model_6, Adam 0.01, EarlyStopping on val_loss, per-class metrics.

The paper's baseline scored "100 %" while predicting `WithMask` for every face; this recipe reports
`mask_acc`, `no_mask_acc` and their mean `avg_acc` (balanced accuracy) and refuses to call a
collapsed model trained: the report and figures are written, then training fails loudly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge.bundle import InputSpec, Manifest, Preprocess, describe_file, write_manifest
from edge.metrics import per_class_accuracy
from edge.preprocess import prepare_dataset, preset_preprocess
from train import bundle_writer
from train.datasets import Dataset, load_dataset, stratified_split
from train.recipes.grey28 import _strategy
from train.reports import confusion_matrix, plot_confusion, plot_curves, plot_prediction_grid

SYNTHETIC_NOTE = ("trained on SYNTHETIC masks: real face photos (face-recognition test portraits, scikit-image "
                  "astronaut and lfw_subset, OpenCV Megamind.avi) with masks painted by train/synth; a demo model, "
                  "not validated on real masked faces")


class CollapsedModelError(RuntimeError):
    """The model predicts (nearly) one class for everything: the seed paper's "100 %" trap."""


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


def per_class_report(y_true: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict:
    """mask_acc / no_mask_acc / avg_acc plus the share of predictions per class."""
    acc = per_class_accuracy(y_true, pred, labels)
    share = {lab: float((pred == i).mean()) for i, lab in enumerate(labels)}
    out = {"accuracy": float((pred == y_true).mean()), "per_class_accuracy": acc,
           "avg_acc": float(np.mean(list(acc.values()))), "prediction_share": share}
    if "WithMask" in labels and "WithoutMask" in labels:
        out["mask_acc"], out["no_mask_acc"] = acc.get("WithMask", float("nan")), acc.get("WithoutMask", float("nan"))
    return out


def collapse_problem(report: dict, share: float, min_acc: float) -> str | None:
    top = max(report["prediction_share"].items(), key=lambda kv: kv[1])
    if top[1] >= share:
        return f"predicts {top[0]!r} for {top[1]:.1%} of the test faces"
    worst = min(report["per_class_accuracy"].items(), key=lambda kv: kv[1])
    if worst[1] <= min_acc:
        return f"recognises only {worst[1]:.1%} of {worst[0]!r}"
    return None


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
    train_ds, val_ds, n_train, n_val = _datasets(data, cfg, preprocess)

    strategy, n_gpus = _strategy()
    with strategy.scope():
        model = build_mask_cnn(shape, n_classes)
        model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="categorical_crossentropy",
                      metrics=["accuracy"])
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=cfg.patience,
                                            restore_best_weights=True, start_from_epoch=cfg.start_from_epoch,
                                            verbose=1)
    hist, train_seconds = bundle_writer.fit_with_logs(model, train_ds, val_ds, cfg.epochs, out, "val_loss", [stopper],
                                                      cfg.verbose)

    probs = model.predict(prepare_dataset(data.x_test, preprocess), batch_size=128, verbose=0)
    pred = probs.argmax(axis=1)
    report = per_class_report(data.y_test, pred, data.labels)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    title = f"{data.name} mask CNN: avg_acc {report['avg_acc']:.4f}"
    plot_curves(history, out / "curves.png", title)
    cm = confusion_matrix(data.y_test, pred, n_classes)
    plot_confusion(cm, data.labels, out / "confusion.png", title)
    plot_prediction_grid(data.x_test[::max(1, len(pred) // 25)][:25], data.y_test[::max(1, len(pred) // 25)][:25],
                         pred[::max(1, len(pred) // 25)][:25], data.labels, out / "predictions.png")
    epochs_run = len(history.get("loss", []))
    summary = {
        "dataset": data.name, "source": data.source, "split": data.split, "model": "mask-cnn",
        "params": int(model.count_params()), "epochs_run": epochs_run, "train_seconds": round(train_seconds, 1),
        "gpus": n_gpus, "n_train": n_train, "n_val": n_val, "n_test": len(data.y_test), **report,
        "confusion": cm.tolist(), "out": str(out),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
    }
    problem = collapse_problem(report, cfg.collapse_share, cfg.min_class_acc)
    summary["collapsed"] = problem
    if problem:
        (out / "train_report.json").write_text(json.dumps(summary, indent=2) + "\n")
        raise CollapsedModelError(f"the model collapsed: it {problem} (avg_acc {report['avg_acc']:.3f}); "
                                  f"no bundle written; see {out / 'confusion.png'}")

    bundle_dir = out / "bundle"
    bundle_dir.mkdir(exist_ok=True)
    deploy = build_mask_cnn(shape, n_classes)  # uncompiled twin: no Adam slots in the shipped file
    deploy.set_weights(model.get_weights())
    deploy.save(bundle_dir / "model.keras")
    metrics = bundle_writer.classification_metrics(data.y_test, probs, data.labels)
    synthetic = data.name == "mask-synthetic"
    manifest = Manifest(
        schema=1, name=cfg.name, task="mask", pipeline="faces", labels=data.labels,
        input=InputSpec(shape=list(shape)), preprocess=preprocess,
        files=[describe_file(bundle_dir, "model.keras", "keras", metrics=metrics)],
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
    summary["bundle"] = str(bundle_dir)
    (out / "train_report.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
