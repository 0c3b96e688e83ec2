"""Backbone + head as one Keras model, so a pain model converts to int8 TFLite / ONNX like any bundle.

The DNN head's layers are reused as they are; logistic regression and a linear SVM behind a
StandardScaler become one Dense(1) with the scaler folded into its weights: w' = w / sigma,
b' = b - sum(w * mu / sigma), then the same logistic the head applies. The fused model outputs
[p(no_pain), p(pain)]. KNN and RBF SVMs cannot be folded in: they ship as a chained ONNX head (head_onnx).
"""

from __future__ import annotations

import keras
import numpy as np

from train.pain.heads import DnnHead

FUSABLE = ("dnn", "lr", "linsvm")


def linear_weights(head) -> tuple[np.ndarray, float]:
    """(w', b') of a fitted StandardScaler -> linear classifier pipeline, scaler folded in."""
    scaler, clf = head.steps[0][1], head.steps[-1][1]
    w = clf.coef_.reshape(-1).astype(np.float64)
    b = float(np.asarray(clf.intercept_).reshape(-1)[0])
    sigma = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    return (w / sigma).astype(np.float32), float(b - np.sum(w * scaler.mean_ / sigma))


def fuse(backbone: keras.Model, head, head_name: str) -> keras.Model:
    inp = keras.Input(backbone.input_shape[1:], name="image")
    feats = backbone(inp)
    if head_name == "dnn":
        if not isinstance(head, DnnHead):
            raise TypeError("dnn: expected a fitted DnnHead")
        x = feats
        for layer in head.model.layers:
            x = layer(x)
        p = x
    elif head_name in ("lr", "linsvm"):
        w, b = linear_weights(head.estimator if head_name == "linsvm" else head)
        dense = keras.layers.Dense(1, activation="sigmoid", name="pain")
        p = dense(feats)
        dense.set_weights([w[:, None], np.array([b], np.float32)])
    else:
        raise ValueError(f"{head_name}: only {', '.join(FUSABLE)} heads fuse into one graph "
                         "(KNN and kernel SVMs ship as a chained head model)")
    out = keras.layers.Concatenate(name="probs")([1.0 - p, p])
    return keras.Model(inp, out, name=f"{backbone.name}_{head_name}")
