"""Train -> bundle -> convert (all six formats) -> gate -> run, on a tiny real model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.bundle import load_bundle
from edge.classifier import Classifier
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist):
    from train.recipes.grey28 import Grey28Config, train_grey28

    out = tmp_path_factory.mktemp("run")
    # No augmentation: on 1,500 images and 2 epochs its randomness is the signal, not the recipe.
    summary = train_grey28(Grey28Config(dataset="mnist", out=out, model="simple", epochs=2, limit_train=1500,
                                        limit_test=300, eval_sample=60, verbose=0, augment="none"), dataset=mnist)
    return out, summary


@pytest.fixture(scope="module")
def converted(trained, tmp_path_factory):
    from convert.bundle_convert import ConvertConfig, convert_bundle

    out = tmp_path_factory.mktemp("conv") / "bundle"
    result = convert_bundle(trained[0] / "bundle", ConvertConfig(out=out, calibration_size=40, limit_eval=200,
                                                                 progress=False))
    return result


def test_training_writes_figures_history_and_a_bundle(trained):
    out, summary = trained
    for name in ("curves.png", "confusion.png", "predictions.png", "history.csv", "best.keras",
                 "train_report.json", "bundle/model.keras", "bundle/manifest.json", "bundle/eval_sample.npz"):
        assert (out / name).is_file(), name
    assert any((out / "logs").rglob("*tfevents*"))
    assert summary["epochs_run"] == 2 and summary["test_accuracy"] > 0.7
    assert len((out / "history.csv").read_text().splitlines()) == 3
    m = load_bundle(out / "bundle").manifest
    assert m.task == "digits" and m.file("keras").metrics.accuracy == pytest.approx(summary["test_accuracy"])
    assert m.provenance.epochs == 2 and "8,000/2,000" in m.provenance.split


def test_edge_train_json_prints_exactly_one_object(tmp_path):
    proc = run_cli("edge-train", "digits", "--model", "simple", "--epochs", "1", "--limit-train", "300",
                   "--limit-test", "100", "--eval-sample", "20", "--out", str(tmp_path / "r"), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["epochs_run"] == 1 and summary["n_test"] == 100 and "val_accuracy" in proc.stderr
    assert (tmp_path / "r" / "bundle" / "manifest.json").is_file()


def test_the_paper_model_has_887530_parameters():
    from train.models.digits import build_advanced

    assert build_advanced().count_params() == 887_530


def test_conversion_records_every_format_with_parity(converted):
    bundle = load_bundle(converted.bundle)
    bundle.verify_all()
    formats = [f.format for f in bundle.manifest.files]
    assert formats == ["keras", "tflite-fp32", "tflite-fp16", "tflite-dynamic", "tflite-int8", "onnx-fp32",
                       "onnx-int8"]
    keras_acc = bundle.manifest.file("keras").metrics.accuracy
    for entry in bundle.manifest.files[1:]:
        m = entry.metrics
        assert m.n_samples == 60 and m.sqnr_db is not None and m.agreement is not None  # the bundle's eval sample
        assert abs(m.accuracy_drop_pp - (keras_acc - m.accuracy) * 100) < 1e-6
        assert set(m.per_class_accuracy) == set(bundle.manifest.labels)
    fp32 = bundle.manifest.file("tflite-fp32").metrics
    assert fp32.max_abs_diff < 1e-4 and fp32.agreement == 1.0
    assert bundle.manifest.file("onnx-fp32").metrics.max_abs_diff < 1e-4
    int8 = bundle.manifest.file("tflite-int8")
    assert int8.input_quant.dtype == "int8" and int8.output_quant.dtype == "int8"
    assert int8.metrics.agreement > 0.9 and int8.metrics.sqnr_db > 15
    report = json.loads((converted.bundle / "parity.json").read_text())
    assert report["schema"] == 1 and len(report["files"]) == 7
    assert "| tflite-int8 |" in (converted.bundle / "parity.md").read_text()


def test_converted_bundle_runs_on_the_edge_runtime(converted, mnist):
    """Every format, fed raw uint8 images through the manifest's preprocessing, agrees with fp32."""
    images = list(mnist.x_test[:80])
    reference = [p.label for p in Classifier(converted.bundle, fmt="tflite-fp32").classify(images)]
    for fmt in ("tflite-fp16", "tflite-dynamic", "tflite-int8", "onnx-fp32", "onnx-int8"):
        labels = [p.label for p in Classifier(converted.bundle, fmt=fmt).classify(images)]
        assert np.mean(np.array(labels) == np.array(reference)) >= 0.9, fmt


def test_gate_exit_code_and_keras_file_import(trained, tmp_path, mnist):
    out, _ = trained
    proc = run_cli("edge-convert", str(out / "bundle"), "--out", str(tmp_path / "gated"), "--formats",
                   "tflite-int8", "--calibration-size", "20", "--limit-eval", "100", "--min-relative", "1.5",
                   "--json")
    assert proc.returncode == 3, proc.stderr
    report = json.loads(proc.stdout)
    assert report["gate"]["status"] == "fail" and "gate failed: tflite-int8" in proc.stderr
    data = tmp_path / "mnist.npz"  # a user's data as arrays: the converter needs no dataset code
    np.savez_compressed(data, x_train=mnist.x_train[:500], y_train=mnist.y_train[:500], x_test=mnist.x_test[:200],
                        y_test=mnist.y_test[:200])
    proc = run_cli("edge-convert", str(out / "best.keras"), "--data", str(data), "--preprocess", "0-1", "--labels",
                   ",".join(mnist.labels), "--out", str(tmp_path / "imp"), "--formats", "tflite-fp32",
                   "--max-drop", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [f["format"] for f in json.loads(proc.stdout)["files"]] == ["keras", "tflite-fp32"]
    assert Path(tmp_path / "imp" / "model_fp32.tflite").is_file()
