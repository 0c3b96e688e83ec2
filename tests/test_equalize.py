"""The int8 rewrite: float-exact, and better int8 in a real TFLite file, on a small DenseNet-shaped model."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from convert import parity
from convert.equalize import rewrite_for_int8
from convert.exporters import tflite_int8
from convert.exporters.context import ExportContext


def _calibrate_bn(model: keras.Model, base: keras.Model, x: np.ndarray) -> None:
    """Moving statistics from the data, in graph order, as training would leave them."""
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            a = keras.Model(base.inputs, layer.input).predict(x, verbose=0).reshape(-1, layer.input.shape[-1])
            gamma, beta, _, _ = layer.get_weights()
            layer.set_weights([gamma, beta, a.mean(0), a.var(0)])


def dense_block_model(seed: int = 0) -> tuple[keras.Model, np.ndarray]:
    """Stem, three dense layers (BN-ReLU-conv, concat), final BN: DenseNet's int8 trouble in miniature.

    Channel ranges differ by up to 1000x (as a trained DenseNet's do), nested in an outer model with a head.
    """
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    inner = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name="stem")(inner)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(keras.layers.ReLU(name="stem_relu")(x))
    for k in range(3):
        y = keras.layers.ReLU(name=f"b{k}_relu")(keras.layers.BatchNormalization(name=f"b{k}_bn")(x))
        y = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name=f"b{k}_conv")(y)
        x = keras.layers.Concatenate(name=f"b{k}_concat")([x, y])
    x = keras.layers.ReLU(name="final_relu")(keras.layers.BatchNormalization(name="final_bn")(x))
    base = keras.Model(inner, keras.layers.GlobalAveragePooling2D(name="gap")(x), name="base")
    inp = keras.Input((16, 16, 3), name="image")
    model = keras.Model(inp, keras.layers.Dense(2, name="head")(base(inp)), name="tiny_densenet")
    for layer in base.layers:
        if isinstance(layer, keras.layers.Conv2D):
            k = layer.get_weights()[0]
            layer.set_weights([k * 10.0 ** rng.uniform(-2, 1, k.shape[-1]).astype(np.float32)])
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n).astype(np.float32), rng.normal(0, 0.3, n).astype(np.float32),
                               np.zeros(n, np.float32), np.ones(n, np.float32)])
    x = rng.uniform(0, 1, (96, 16, 16, 3)).astype(np.float32)
    _calibrate_bn(model, base, x)
    return model, x


def test_rewrite_is_float_exact_and_equalizes_the_concat():
    model, x = dense_block_model()
    rw = rewrite_for_int8(model, x[:64])
    assert rw.changed
    # after a pool or a concat no conv can absorb the BN; the stem's BN folds into its conv and stays
    assert sorted(rw.bn_to_depthwise) == ["b0_bn", "b1_bn", "b2_bn", "final_bn"]
    assert not any(isinstance(layer, keras.layers.BatchNormalization) and layer.name != "stem_bn"
                   for layer in rw.model.layers)
    assert sorted(rw.equalized) == ["b0_conv", "b1_conv", "b2_conv", "stem_bn"]
    assert not any(isinstance(layer, keras.Model) for layer in rw.model.layers)  # nested model inlined
    ref, new = model.predict(x, verbose=0), rw.model.predict(x, verbose=0)
    np.testing.assert_allclose(new, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    # every channel of the last concat now spans the same range on the calibration images
    def peaks(m: keras.Model, concat) -> np.ndarray:
        return np.abs(keras.Model(m.inputs, concat.output).predict(x[:64], verbose=0)).reshape(-1, 20).max(0)

    after = peaks(rw.model, rw.model.get_layer("b2_concat"))
    assert np.allclose(after, after.max(), rtol=1e-3)
    base = model.get_layer("base")
    before = peaks(base, base.get_layer("b2_concat"))
    assert before.min() < 0.1 * before.max()  # the test model really was unbalanced


def test_rewrite_improves_a_real_int8_tflite_file(tmp_path):
    model, x = dense_block_model(1)
    rw = rewrite_for_int8(model, x[:64])
    reference = model.predict(x, verbose=0)
    sqnr = {}
    for name, m in (("plain", model), ("rewritten", rw.model)):
        path = tflite_int8.export(ExportContext(model=m, calibration=x[:64], workdir=tmp_path / name),
                                  tmp_path / f"{name}.tflite")
        probs, _, _ = parity.run_file(path, "tflite-int8", x)
        sqnr[name] = parity.compare(reference, probs, np.zeros(len(x), int), ["a", "b"]).sqnr_db
    assert sqnr["rewritten"] > sqnr["plain"] + 6.0, sqnr


def test_graphs_without_the_patterns_are_left_alone():
    inp = keras.Input((8, 8, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", name="c1")(inp)
    a = keras.layers.BatchNormalization(name="bn")(a)  # right after a linear conv: the converter folds it
    b = keras.layers.Conv2D(4, 1, name="c2")(inp)
    y = keras.layers.Add()([a, b])  # a residual sum: scaling one side would change it
    y = keras.layers.Concatenate()([y, inp])
    model = keras.Model(inp, keras.layers.Flatten()(y))  # the concat reaches the output: nothing absorbs it
    rw = rewrite_for_int8(model, np.random.default_rng(0).uniform(0, 1, (8, 8, 8, 3)).astype(np.float32))
    assert not rw.changed and rw.model is model


@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_bn_after_a_relu_conv_becomes_depthwise(kind):
    """The mask model's conv(relu) -> BN (a Sequential): the ReLU sits between, so the converter leaves MUL and ADD."""
    layers = [keras.layers.Conv2D(4, 3, activation="relu", name="conv1"), keras.layers.BatchNormalization(name="bn1"),
              keras.layers.GlobalAveragePooling2D()]
    if kind == "sequential":
        model = keras.Sequential([keras.Input((8, 8, 3)), *layers])
    else:
        inp = keras.Input((8, 8, 3))
        model = keras.Model(inp, layers[2](layers[1](layers[0](inp))))
    x = np.random.default_rng(0).uniform(0, 1, (8, 8, 8, 3)).astype(np.float32)
    rw = rewrite_for_int8(model, x)
    assert rw.bn_to_depthwise == ["bn1"] and rw.equalized == []
    assert isinstance(rw.model.get_layer("bn1"), keras.layers.DepthwiseConv2D)
    np.testing.assert_allclose(rw.model.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


class _Apply(keras.layers.Layer):
    """A user's layer holding a Python function: it has no config to copy it by, so the rewrite must step aside."""

    def __init__(self, fn, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fn = fn

    def call(self, x):
        return self.fn(x)


def test_a_graph_it_cannot_copy_is_quantized_as_it_is():
    inp = keras.Input((8, 8, 3))
    y = keras.layers.BatchNormalization()(keras.layers.Conv2D(4, 3, activation="relu")(_Apply(lambda t: t * 2)(inp)))
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(y))
    rw = rewrite_for_int8(model, np.zeros((4, 8, 8, 3), np.float32))
    assert rw.model is model and not rw.changed
    assert "_apply" in rw.skipped and "no config" in rw.skipped and rw.as_dict() == {"skipped": rw.skipped}


def test_a_model_with_two_outputs_is_checked_on_both():
    inp = keras.Input((8, 8, 3))
    y = keras.layers.BatchNormalization(name="bn1")(keras.layers.Conv2D(4, 3, activation="relu")(inp))
    feats = keras.layers.GlobalAveragePooling2D()(y)
    model = keras.Model(inp, [feats, keras.layers.Dense(2, activation="softmax")(feats)])
    x = np.random.default_rng(0).uniform(0, 1, (8, 8, 8, 3)).astype(np.float32)
    rw = rewrite_for_int8(model, x)
    assert rw.changed and rw.bn_to_depthwise == ["bn1"] and rw.max_abs_diff < 1e-5
