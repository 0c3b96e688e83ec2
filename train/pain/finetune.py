"""Train a backbone on your own pain / no_pain faces when ImageNet weights are out of reach.

Why: the seed recipe uses frozen ImageNet features. Where that download is impossible (an
air-gapped site; this build machine) a backbone with random weights gives features without
signal, a head on them scores every face near 0.5, and int8 parity then only measures rounding at
0.5. Training the backbone end to end on the *training* people of the same subject-wise split
`edge-train pain` uses (test people are never seen) gives weights with signal. The result is a
base-weights file: `edge-train pain --weights FILE` loads it in place of ImageNet's. It is a
domain-trained backbone, not an ImageNet one, and every report says so.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge.preprocess import prepare_dataset
from train.pain.data import load_pain_folder, pain_preprocess, split
from train.pain.features import read_rgb


@dataclass
class BackboneTrainConfig:
    data: Path
    out: Path = Path("runs/pain-backbone")
    backbone: str = "densenet121"
    size: int = 128  # training size; the weights load at any input size (global pooling)
    epochs: int = 6
    batch_size: int = 16
    learning_rate: float = 1e-3
    split: str = "subject"
    test_fraction: float = 0.5
    seed: int = 42
    subjects_csv: str | None = None
    progress: bool = True


def build_trainable(backbone: str, size: int):
    """Backbone (random init) + the same preprocessing layer as the frozen path + a 2-way softmax."""
    import keras

    from convert.keras_layers import ImagenetPreprocess
    from train.pain.backbones import BACKBONES, base_network

    base = base_network(backbone, size)
    inp = keras.Input((size, size, 3), name="image")
    x = keras.layers.RandomFlip("horizontal")(inp)
    x = base(ImagenetPreprocess(BACKBONES[backbone].mode, name="preprocess")(x))
    x = keras.layers.Dropout(0.3)(x)
    out = keras.layers.Dense(2, activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name=f"{backbone}_trainable"), base


def train_backbone(cfg: BackboneTrainConfig) -> dict:
    import keras

    data = load_pain_folder(cfg.data, cfg.subjects_csv)
    train_idx, test_idx, split_desc = split(data, cfg.split, cfg.test_fraction, cfg.seed)
    load = [read_rgb(data.files[i], cfg.size) for i in (*train_idx, *test_idx)]
    x = prepare_dataset(np.stack(load), pain_preprocess(cfg.size))
    x_train, x_test = x[:len(train_idx)], x[len(train_idx):]
    y_train, y_test = data.y[train_idx], data.y[test_idx]

    keras.utils.set_random_seed(cfg.seed)
    model, base = build_trainable(cfg.backbone, cfg.size)
    model.compile(keras.optimizers.Adam(cfg.learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.time()
    history = model.fit(x_train, y_train, batch_size=cfg.batch_size, epochs=cfg.epochs, shuffle=True,
                        verbose=2 if cfg.progress else 0)
    seconds = time.time() - t0
    probs = model.predict(x_test, batch_size=32, verbose=0)[:, 1]
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{cfg.backbone}.weights.h5"
    base.save_weights(weights)
    report = {
        "weights": str(weights), "backbone": cfg.backbone, "params": int(base.count_params()),
        "what": "a backbone trained end to end on the training people of this set (NOT ImageNet weights)",
        "data": str(cfg.data), "split": split_desc, "n_train": len(train_idx), "n_test": len(test_idx),
        "train_accuracy": float(history.history["accuracy"][-1]),
        "test_accuracy": float(((probs >= 0.5) == y_test).mean()),
        "test_score_spread": {"p10": float(np.percentile(probs, 10)), "p50": float(np.median(probs)),
                              "p90": float(np.percentile(probs, 90))},
        "train_seconds": round(seconds, 1),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
    }
    (out / "backbone_report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
