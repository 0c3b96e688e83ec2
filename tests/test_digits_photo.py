"""Digits found in photos, MNIST-centred and classified: dark-on-light and light-on-dark, any size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.classifier import Classifier
from edge.digits_photo import find_digits, to_mnist
from edge.recognize import recognize
from train.samples import paper_photo

DIGITS = [3, 1, 4, 1, 5, 9, 2, 6]


@pytest.fixture(scope="module")
def clf():
    return Classifier("digits")


@pytest.mark.parametrize("glyph", [40, 130, 400])
@pytest.mark.parametrize("polarity", ["paper", "screen"])
def test_finds_and_reads_digits_left_to_right(mnist, clf, glyph, polarity):
    photo, truth = paper_photo(mnist, DIGITS, seed=glyph, glyph=glyph)
    if polarity == "screen":
        photo = 255 - photo
    results = list(recognize(clf, "photo", 0, photo))
    assert len(results) == len(truth)
    xs = [r.box.x for r in results]
    assert xs == sorted(xs)
    correct = sum(r.label == str(t) for r, t in zip(results, truth))
    assert correct >= len(truth) - 1, [r.label for r in results]


def test_to_mnist_fits_20px_and_centres_by_mass():
    ink = np.zeros((60, 20), np.uint8)
    ink[:, 5:15] = 255
    out = to_mnist(ink)
    ys, xs = np.nonzero(out)
    assert ys.max() - ys.min() + 1 <= 21
    m = cv2.moments(out)
    assert abs(m["m10"] / m["m00"] - 14) < 1 and abs(m["m01"] / m["m00"] - 14) < 1


def test_blank_page_has_no_digits():
    page = np.full((300, 400, 3), 220, np.uint8)
    page = (page + np.random.default_rng(0).normal(0, 3, page.shape)).clip(0, 255).astype(np.uint8)
    assert find_digits(page) == []


def test_whole_image_mode_for_mnist_style_inputs(mnist, clf):
    x = mnist.x_test[:50, :, :, 0]
    preds = clf.classify(list(x))
    assert np.mean([p.label == str(y) for p, y in zip(preds, mnist.y_test[:50])]) >= 0.94
