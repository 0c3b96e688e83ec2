"""The edge runtime on the built-in bundles, with the real TFLite and ONNX runtimes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from edge.backends.base import TensorInfo
from edge.bundle import Preprocess, load_bundle
from edge.classifier import Classifier
from edge.preprocess import dequantize, prepare, prepare_dataset, quantize

DEPLOYABLE = ["tflite-fp32", "tflite-int8", "onnx-fp32", "onnx-int8"]


def _sample_accuracy(name: str, fmt: str) -> float:
    clf = Classifier(name, fmt=fmt)
    with np.load(clf.bundle.root / clf.bundle.manifest.evaluation.sample_file) as data:
        x, y = data["x"], data["y"]
    probs = clf.probabilities(prepare_dataset(x, clf.bundle.manifest.preprocess))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=0.05)
    return float((probs.argmax(axis=1) == y).mean())


@pytest.mark.parametrize("name,floor", [("digits", 0.97), ("fashion", 0.90), ("mask", 0.95)])
def test_every_format_classifies_the_shipped_eval_sample(name, floor):
    acc = {fmt: _sample_accuracy(name, fmt) for fmt in DEPLOYABLE}
    assert min(acc.values()) >= floor, acc
    # int8 within 0.5 pp of fp32, measured here on the same images with the same runtime
    assert acc["tflite-int8"] >= acc["tflite-fp32"] - 0.005, acc
    assert acc["onnx-int8"] >= acc["onnx-fp32"] - 0.005, acc


@pytest.mark.parametrize("name,bar", [("digits", 0.985), ("fashion", 0.925)])
def test_shipped_bundles_meet_the_issue_bars(name, bar):
    """The manifest numbers were measured by edge-convert on the full held-out split."""
    m = load_bundle(name).manifest
    keras = m.file("keras").metrics
    assert keras.accuracy >= bar
    for fmt in ("tflite-int8", "onnx-int8"):
        entry = m.file(fmt)
        assert entry.metrics.n_samples == keras.n_samples
        assert keras.accuracy - entry.metrics.accuracy <= 0.005, fmt
        fp32 = m.file(fmt.replace("int8", "fp32"))
        assert entry.size_bytes <= 0.30 * fp32.size_bytes, fmt
    tfl = m.file("tflite-int8")
    assert tfl.input_quant.dtype == "int8" and tfl.output_quant.dtype == "int8"


def test_runtime_never_imports_tensorflow():
    code = (
        "import sys, numpy as np\n"
        "from edge.classifier import Classifier\n"
        "for fmt in ('tflite-int8', 'tflite-fp32', 'onnx-int8'):\n"
        "    Classifier('digits', fmt=fmt).classify([np.zeros((28, 28), np.uint8)])\n"
        "import edge.cli.run, edge.recognize, edge.media, benchmarks.runner\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().replace("'", '"')) == []


def test_tensorflow_lite_fallback_is_said_plainly():
    """Only TensorFlow's own tflite is there: the model still runs, and a warning names the light runtime."""
    code = (
        "import logging, numpy as np\n"
        "logging.basicConfig(level=logging.WARNING, format='%(name)s %(message)s')\n"
        "from edge.classifier import Classifier\n"
        "print(Classifier('digits', fmt='tflite-int8').classify([np.zeros((28, 28), np.uint8)])[0].label)\n"
    )
    env = {**os.environ, "EDGESIGHT_TFLITE_RUNTIME": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() in {str(d) for d in range(10)}
    assert "edge.backends.tflite TFLite runs through TensorFlow itself" in out.stderr
    assert "pip install ai-edge-litert" in out.stderr
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "TensorFlow itself" not in plain.stderr


def test_quantize_round_trip_and_clipping():
    info = TensorInfo("x", (1, 4), "int8", scale=1 / 255, zero_point=-128)
    x = np.array([[0.0, 128 / 255, 1.0, 2.0]], np.float32)
    q = quantize(x, info)
    assert q.dtype == np.int8 and q.tolist() == [[-128, 0, 127, 127]]
    np.testing.assert_allclose(dequantize(q, info)[0, :3], [0.0, 128 / 255, 1.0], atol=1e-6)
    floats = TensorInfo("x", (1, 4), "float32")
    assert quantize(x, floats) is x or np.array_equal(quantize(x, floats), x)


@pytest.mark.parametrize(
    "image",
    [
        np.full((100, 80), 200, np.uint8),
        np.full((100, 80, 1), 200, np.uint8),
        np.full((100, 80, 3), 200, np.uint8),
        np.full((100, 80, 4), 200, np.uint8),
        np.full((100, 80), 200 * 257, np.uint16),
        np.full((3, 3), 200, np.uint8),
    ],
    ids=["gray", "gray1", "bgr", "bgra", "16bit", "tiny"],
)
def test_prepare_handles_any_image_layout(image):
    spec = Preprocess(resize=[28, 28], color="gray", scale=1 / 255)
    x = prepare(image, spec)
    assert x.shape == (28, 28, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x, 200 / 255, atol=1 / 255)


def test_prepare_colour_order_and_normalisation():
    bgr = np.zeros((10, 10, 3), np.uint8)
    bgr[..., 2] = 255  # pure red in OpenCV's BGR
    spec = Preprocess(resize=[4, 4], color="rgb", scale=1 / 255, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])
    x = prepare(bgr, spec)
    np.testing.assert_allclose(x[0, 0], [1.0, -1.0, -1.0])
    assert prepare(bgr, spec, layout="NCHW").shape == (3, 4, 4)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    assert prepare(bgr, Preprocess(resize=[4, 4], color="gray", scale=1.0))[0, 0, 0] == gray[0, 0]
