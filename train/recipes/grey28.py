"""A CNN on 28x28 grey images, MNIST digits or Fashion-MNIST clothes, trained into a bundle.

Provenance: the seed 003 paper's recipe (its "advanced" CNN, RMSprop, ReduceLROnPlateau, EarlyStopping).

Augmentation runs in the tf.data pipeline, not inside the model, so the exported model is the
plain classifier the edge runtime feeds. Flips are only used for clothing: a flipped 2 or 7 is
not a digit.
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

BLUR_KERNEL = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float32) / 16.0
AUGMENT_PRESETS = {
    "paper": {"shift": 0.1, "rotate_deg": 8.0, "zoom": 0.2, "flip": False},
    # Fashion-MNIST is centred; shifts on top of three dropouts left the CNN underfitting (train < val).
    "flip": {"shift": 0.0, "rotate_deg": 0.0, "zoom": 0.0, "flip": True},
    "none": {"shift": 0.0, "rotate_deg": 0.0, "zoom": 0.0, "flip": False},
}
DEFAULT_AUGMENT = {"mnist": "paper", "fashion": "flip"}
TASK_OF = {"mnist": "digits", "fashion": "fashion"}


@dataclass
class Grey28Config:
    dataset: str = "mnist"
    out: Path = Path("runs/digits")
    data_path: str | None = None
    data_source: str = "auto"
    model: str = "advanced"
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 1e-3
    seed: int = 42
    augment: str | None = None  # None: the dataset's default preset
    blur: bool = False
    val_fraction: float = 0.1
    patience: int = 3
    limit_train: int | None = None
    limit_test: int | None = None
    eval_sample: int = 500
    verbose: int = 2
    name: str | None = None


def _augmenter(preset: str, blur: bool, seed: int):
    import keras
    import tensorflow as tf

    p = AUGMENT_PRESETS[preset]
    steps = []
    if p["flip"]:
        steps.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if p["rotate_deg"]:
        steps.append(keras.layers.RandomRotation(p["rotate_deg"] / 360.0, fill_mode="constant", seed=seed))
    if p["zoom"]:
        steps.append(keras.layers.RandomZoom(p["zoom"], fill_mode="constant", seed=seed))
    if p["shift"]:
        steps.append(keras.layers.RandomTranslation(p["shift"], p["shift"], fill_mode="constant", seed=seed))
    kernel = tf.constant(BLUR_KERNEL.reshape(3, 3, 1, 1))

    def apply(x, y):
        for layer in steps:
            x = layer(x, training=True)
        if blur:
            blurred = tf.nn.depthwise_conv2d(x, tf.tile(kernel, [1, 1, tf.shape(x)[-1], 1]), [1, 1, 1, 1], "SAME")
            coin = tf.random.uniform([tf.shape(x)[0], 1, 1, 1], seed=seed) < 0.5
            x = tf.where(coin, blurred, x)
        return x, y

    return apply


def _datasets(x_tr, y_tr, x_val, y_val, n_classes, cfg: Grey28Config, preset: str, preprocess: Preprocess):
    """tf.data pipelines over the tensors edge.preprocess makes from the manifest's Preprocess (the runtime's)."""
    import tensorflow as tf

    def onehot(x, y):
        return x, tf.one_hot(y, n_classes)

    train = (tf.data.Dataset.from_tensor_slices((prepare_dataset(x_tr, preprocess), y_tr))
             .shuffle(len(y_tr), seed=cfg.seed).batch(cfg.batch_size).map(onehot, num_parallel_calls=tf.data.AUTOTUNE))
    if preset != "none" or cfg.blur:
        train = train.map(_augmenter(preset, cfg.blur, cfg.seed), num_parallel_calls=tf.data.AUTOTUNE)
    val = tf.data.Dataset.from_tensor_slices((prepare_dataset(x_val, preprocess), y_val)).batch(256).map(onehot)
    return train.prefetch(tf.data.AUTOTUNE), val.prefetch(tf.data.AUTOTUNE)


def manifest_preprocess(data: Dataset) -> Preprocess:
    """28x28 grey pixels in [0, 1]: the one definition training, conversion and the device use."""
    return preset_preprocess("0-1", data.x_train.shape[1:3], gray=True)


def _strategy():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return (tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()), len(gpus)


def _fit(model, cfg: Grey28Config, train_ds, val_ds, out: Path):
    import keras

    model.compile(optimizer=keras.optimizers.RMSprop(cfg.learning_rate, rho=0.9, epsilon=1e-8),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", patience=cfg.patience, factor=0.5,
                                                  min_lr=1e-4, verbose=1)
    # The paper's equal patiences stop training in the very epoch the LR drops; give the lower LR 2 epochs.
    stopper = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=cfg.patience + 2,
                                            restore_best_weights=True, verbose=1)
    hist, seconds = bundle_writer.fit_with_logs(model, train_ds, val_ds, cfg.epochs, out, "val_accuracy",
                                                [reduce_lr, stopper], cfg.verbose)
    return steps.history_of(hist), seconds


def train_grey28(cfg: Grey28Config, dataset: Dataset | None = None) -> dict:
    """Train, evaluate on the held-out split, write figures and a bundle; return the summary."""
    import keras

    from train.models.digits import MODELS

    keras.utils.set_random_seed(cfg.seed)
    data = dataset or load_dataset(cfg.dataset, source=cfg.data_source, path=cfg.data_path, seed=cfg.seed)
    if cfg.limit_train or cfg.limit_test:
        data = data.subset(cfg.limit_train, cfg.limit_test, seed=cfg.seed)
    preset = cfg.augment or DEFAULT_AUGMENT.get(data.name, "paper")
    if preset not in AUGMENT_PRESETS:
        raise ValueError(f"augment: {preset!r} is not one of {', '.join(AUGMENT_PRESETS)}")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    tr, val = stratified_split(data.y_train, cfg.val_fraction, cfg.seed)
    n_classes, shape = len(data.labels), tuple(data.x_train.shape[1:])
    preprocess = manifest_preprocess(data)
    train_ds, val_ds = _datasets(data.x_train[tr], data.y_train[tr], data.x_train[val], data.y_train[val],
                                 n_classes, cfg, preset, preprocess)
    strategy, n_gpus = _strategy()
    with strategy.scope():
        model = MODELS[cfg.model](shape, n_classes)
        history, train_seconds = _fit(model, cfg, train_ds, val_ds, out)
    probs = model.predict(prepare_dataset(data.x_test, preprocess), batch_size=256, verbose=0)
    metrics = bundle_writer.classification_metrics(data.y_test, probs, data.labels)
    steps.figures(out, history, f"{data.name} {cfg.model}: test accuracy {metrics.accuracy:.4f}", data.x_test,
                  data.y_test, probs.argmax(axis=1), data.labels)
    bundle_dir = out / "bundle"
    bundle_dir.mkdir(exist_ok=True)
    steps.save_uncompiled(lambda: MODELS[cfg.model](shape, n_classes), model, bundle_dir / "model.keras")
    epochs_run = len(history.get("loss", []))
    write_manifest(bundle_dir, Manifest(
        schema=1, name=cfg.name or TASK_OF.get(data.name, data.name), task=TASK_OF.get(data.name, "digits"),
        pipeline="digits" if data.name == "mnist" else "image",
        labels=data.labels, input=InputSpec(shape=list(shape)), preprocess=preprocess,
        files=[describe_file(bundle_dir, "model.keras", "keras", metrics=metrics)],
        evaluation=bundle_writer.write_eval_sample(bundle_dir, data, cfg.eval_sample, cfg.seed),
        calibration=bundle_writer.write_calibration_sample(bundle_dir, data.x_train, 300, cfg.seed,
                                                           x_val=data.x_train[val]),
        provenance=bundle_writer.provenance(
            data, cfg.seed, epochs_run, f"seed003-{cfg.model}",
            notes=f"augment={preset}, blur={cfg.blur}, batch={cfg.batch_size}, RMSprop lr={cfg.learning_rate}"),
    ))
    summary = {
        "dataset": data.name, "source": data.source, "split": data.split, "model": cfg.model,
        "params": int(model.count_params()), "epochs_run": epochs_run, "train_seconds": round(train_seconds, 1),
        "gpus": n_gpus, "test_accuracy": metrics.accuracy, "per_class_accuracy": metrics.per_class_accuracy,
        "n_test": len(data.y_test), "augment": preset, "bundle": str(bundle_dir), "out": str(out),
        "config": steps.config_dict(cfg),
    }
    steps.write_summary(out, summary)
    return summary
