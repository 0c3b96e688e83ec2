"""Parity metrics and the CI gate, on numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from convert.gates import accuracy_failures, decide
from convert.parity import SQNR_CAP_DB, compare, sqnr_db
from edge.bundle import Metrics


def test_sqnr_known_values():
    ref = np.array([1.0, -1.0, 1.0, -1.0])
    assert sqnr_db(ref, ref) == SQNR_CAP_DB
    assert math.isclose(sqnr_db(ref, ref * 1.1), 20.0, abs_tol=1e-9)  # noise 1 % of signal power
    assert math.isclose(sqnr_db(ref, ref + 1.0), 0.0, abs_tol=1e-9)


def test_compare_reports_agreement_drop_and_the_collapsing_class():
    labels = ["a", "b", "c"]
    y = np.array([0, 0, 1, 1, 2, 2])
    ref = np.eye(3)[[0, 0, 1, 1, 2, 2]]
    q = np.eye(3)[[0, 0, 1, 1, 0, 0]]  # class c collapses into a
    m = compare(ref, q, y, labels)
    assert m.accuracy == pytest.approx(4 / 6) and m.agreement == pytest.approx(4 / 6)
    assert m.accuracy_drop_pp == pytest.approx(100 * 2 / 6, abs=1e-3)
    assert m.per_class_accuracy == {"a": 1.0, "b": 1.0, "c": 0.0}
    assert m.max_abs_diff == 1.0


def test_gate_budgets():
    metrics = {"keras": Metrics(accuracy=0.990, n_samples=100), "tflite-int8": Metrics(accuracy=0.980, n_samples=100),
               "onnx-int8": Metrics(accuracy=0.989, n_samples=100)}
    assert accuracy_failures(metrics, 0.5, None) == [
        "tflite-int8: accuracy 0.9800 is 1.00 pp below fp32 0.9900 (budget 0.5 pp)"]
    assert accuracy_failures(metrics, 2.0, None) == []
    fails = accuracy_failures(metrics, None, 0.995)
    assert len(fails) == 1 and fails[0].startswith("tflite-int8")
    assert accuracy_failures(metrics, None, None) == []


def test_every_gate_is_decided_once_with_its_status():
    from edge.bundle import ModelFile

    metrics = {"keras": Metrics(accuracy=0.990, n_samples=100), "tflite-int8": Metrics(accuracy=0.989, n_samples=100)}
    entries = {"tflite-int8": ModelFile(path="m.tflite", format="tflite-int8", sha256="0" * 64, size_bytes=40_960)}
    ok = decide(metrics, entries, 0.5, None, 64)
    assert ok["status"] == "pass" and ok["failures"] == [] and ok["max_size_kb"] == 64
    big = decide(metrics, entries, 0.5, None, 1)
    assert big["status"] == "fail" and big["failures"] == ["tflite-int8: 40.0 KB is over the 1 KB size budget"]
    assert decide(metrics, entries, None, None, None)["status"] == "not set"
    unlabelled = {"keras": Metrics(n_samples=10, agreement=1.0), "tflite-int8": Metrics(n_samples=10, agreement=0.9)}
    blind = decide(unlabelled, entries, 0.5, None, None)
    assert blind["status"] == "pass" and "no labels" in blind["note"]
