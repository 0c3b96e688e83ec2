"""DeepDream (seed 002): gradient ascent on the mean activation of chosen layers, over octaves.

Gradients are normalised by their standard deviation so the step size means the same at every
layer and octave; the image is rolled by a random shift before each step (and back after) so no
tile grid shows; each octave runs at a larger scale and keeps the detail found at the smaller one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edge.preprocess import prepare_dataset, range_preprocess
from train.dream.models import DreamModel, feature_extractor


@dataclass
class DreamConfig:
    layers: list[str]
    layer_weights: list[float] = field(default_factory=list)  # empty: 1.0 each
    steps: int = 50  # per octave
    step_size: float = 0.01  # in model input units (a [0, 1] model moves 1 % per step)
    octaves: int = 1
    octave_scale: float = 1.3
    jitter: int = 8  # pixels of random roll per step; 0 turns it off
    seed: int = 42


@dataclass
class DreamResult:
    image: np.ndarray  # float32 (H, W, C) in the model's range
    losses: list[tuple[int, int, float]]  # (step, octave, loss)


def to_model_range(image_u8: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """Pixels onto the model's input range, through edge.preprocess like every model input."""
    pre = range_preprocess(*value_range, image_u8.shape[:2])
    return prepare_dataset(image_u8[None], pre)[0]


def to_uint8(x: np.ndarray, value_range: tuple[float, float], normalise: bool = True) -> np.ndarray:
    """Back to pixels; `normalise` stretches min..max to 0..255 as the paper's figures do."""
    lo, hi = (float(x.min()), float(x.max())) if normalise else value_range
    return np.clip((x - lo) / max(hi - lo, 1e-8) * 255.0, 0, 255).round().astype(np.uint8)


def dream(dm: DreamModel, image: np.ndarray, cfg: DreamConfig,
          progress: Callable[[int, float], None] | None = None) -> DreamResult:
    """`image`: float32 (H, W, C) in the model's range. Returns the dream and the loss at every step."""
    import tensorflow as tf

    extractor = feature_extractor(dm, cfg.layers)
    weights = cfg.layer_weights or [1.0] * len(cfg.layers)
    if len(weights) != len(cfg.layers):
        raise ValueError(f"{len(weights)} layer weights for {len(cfg.layers)} layers")
    lo, hi = dm.value_range
    octaves = cfg.octaves if dm.flexible else 1
    rng = np.random.default_rng(cfg.seed)

    @tf.function(reduce_retracing=True)
    def step(img, shift, step_size):
        img = tf.roll(img, shift, axis=[1, 2])
        with tf.GradientTape() as tape:
            tape.watch(img)
            acts = extractor(img, training=False)
            acts = acts if isinstance(acts, (list, tuple)) else [acts]
            loss = tf.add_n([w * tf.reduce_mean(a) for w, a in zip(weights, acts)])
        grads = tape.gradient(loss, img)
        grads /= tf.math.reduce_std(grads) + 1e-8
        img = tf.clip_by_value(img + step_size * grads, lo, hi)
        return loss, tf.roll(img, -shift, axis=[1, 2])

    base = np.asarray(image.shape[:2], np.float64)
    img = tf.convert_to_tensor(image[None], tf.float32)
    losses: list[tuple[int, int, float]] = []
    n = 0
    for octave in range(-(octaves - 1), 1):
        size = np.maximum(np.round(base * cfg.octave_scale ** octave), 32).astype(int)
        img = tf.image.resize(img, size)
        for _ in range(cfg.steps):
            shift = rng.integers(-cfg.jitter, cfg.jitter + 1, 2) if cfg.jitter else np.zeros(2, int)
            loss, img = step(img, tf.constant(shift, tf.int32), tf.constant(cfg.step_size, tf.float32))
            losses.append((n, octave, float(loss)))
            if progress:
                progress(n, float(loss))
            n += 1
    out = tf.image.resize(img, image.shape[:2])[0].numpy()
    return DreamResult(out.astype(np.float32), losses)
