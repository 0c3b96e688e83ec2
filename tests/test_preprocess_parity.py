"""One preprocessing: a built-in bundle's training input path and the device's runtime give the same tensor.

The training side is each recipe's own preprocessing definition fed to edge.preprocess.prepare_dataset (what
the recipes train on); the runtime side is the Classifier, fed the image as a camera or a photo file gives
it (BGR, or grey). Both must produce the same numbers, bit for bit, and the recipe's definition must be the
one written into the shipped manifest.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.bundle import load_bundle
from edge.classifier import Classifier
from edge.datasets import Dataset
from edge.preprocess import prepare_dataset


def _recipe_preprocess(name: str, x: np.ndarray):
    if name in ("digits", "fashion"):
        from train.recipes.grey28 import manifest_preprocess

        return manifest_preprocess(Dataset(name, [], x, np.zeros(len(x)), x, np.zeros(len(x)), "", ""))
    if name == "mask":
        from train.recipes.mask import manifest_preprocess

        return manifest_preprocess(x.shape[1:])
    from train.recipes.classify import manifest_preprocess

    return manifest_preprocess(x.shape[1], "gray" if x.shape[-1] == 1 else "rgb")


@pytest.mark.parametrize("name", ["digits", "fashion", "mask", "face-verifier"])
def test_training_and_the_runtime_feed_the_model_the_same_tensor(name):
    bundle = load_bundle(name)
    m = bundle.manifest
    with np.load(bundle.root / m.evaluation.sample_file) as data:
        x = data["x"][:8]
    recipe = _recipe_preprocess(name, x)
    assert recipe == m.preprocess  # the recipe's definition is the shipped one
    trained_on = prepare_dataset(x, recipe, m.input.layout)
    camera = [img[:, :, 0] if img.shape[-1] == 1 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR) for img in x]
    clf = Classifier(name)
    served = clf.prepare(camera)
    assert served.dtype == trained_on.dtype == np.float32 and served.shape == trained_on.shape
    np.testing.assert_array_equal(served, trained_on)


def test_a_bigger_photo_is_resized_before_the_same_normalisation():
    clf = Classifier("mask")
    m = clf.bundle.manifest
    with np.load(clf.bundle.root / m.evaluation.sample_file) as data:
        rgb = data["x"][0]
    big = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), (512, 512), interpolation=cv2.INTER_NEAREST)
    served = clf.prepare([big])[0]
    expected = cv2.cvtColor(cv2.resize(big, (128, 128), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(served, prepare_dataset(expected[None], m.preprocess)[0])
