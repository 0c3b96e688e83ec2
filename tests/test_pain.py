"""Pain pipeline on real faces (a synthetic grimace: a PIPELINE CHECK, not pain data): features, heads,
splits, the paper's table, fusion into one model and int8 conversion."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli


@pytest.fixture(scope="module")
def fixture_set(tmp_path_factory):
    from train.datasets.fetch import fetch_detectors
    from train.pain.fixture import build_pain_fixture
    from train.synth.faces import iter_face_photos

    fetch_detectors()
    out = tmp_path_factory.mktemp("pain")
    photos = [p for p in iter_face_photos(megamind=False)][:16]
    info = build_pain_fixture(photos, out, per_photo=2, size=64)
    assert info["people"] >= 10 and "PIPELINE CHECK" in (out / "README.txt").read_text()
    return out


def test_subject_split_keeps_people_apart(fixture_set):
    from train.pain.data import load_pain_folder, split

    data = load_pain_folder(fixture_set)
    tr, te, desc = split(data, "subject")
    assert not {data.subjects[i] for i in tr} & {data.subjects[i] for i in te} and "subject-wise" in desc
    tr, te, desc = split(data, "random")
    assert len(te) == len(data.y) // 2 and "random" in desc


def test_eight_row_table_with_every_metric(fixture_set, tmp_path):
    proc = run_cli("edge-train", "pain", "--data", str(fixture_set), "--out", str(tmp_path), "--weights", "random",
                   "--size", "48", "--dnn-epochs", "3", "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    rows = summary["rows"]
    assert [(r["backbone"], r["head"]) for r in rows] == [(b, h) for b in ("densenet121", "resnet50")
                                                          for h in ("svm", "knn", "lr", "dnn")]
    for r in rows:
        assert r["tp"] + r["tn"] + r["fp"] + r["fn"] == summary["n_test"]
        assert all(0 <= r[k] <= 1 for k in ("accuracy", "precision", "recall", "f1"))
    with open(tmp_path / "pain_table.csv") as f:
        header = next(csv.reader(f))
    assert header == ["backbone", "head", "tp", "tn", "fp", "fn", "accuracy", "precision", "recall", "f1", "roc_auc"]
    table = (tmp_path / "pain_table.md").read_text()
    assert "subject-wise" in table and "PIPELINE CHECK" in table
    assert len(list(tmp_path.glob("confusion_*.png"))) == 8


def test_features_are_cached_by_backbone_weights_and_images(fixture_set, tmp_path):
    from train.pain.data import load_pain_folder
    from train.pain.features import cache_key, extract

    files = load_pain_folder(fixture_set).files[:6]
    first, cached = extract("mobilenet_v2", "facemask", files, size=48, progress=False, cache=tmp_path)
    again, cached_again = extract("mobilenet_v2", "facemask", files, size=48, progress=False, cache=tmp_path)
    assert not cached and cached_again and np.array_equal(first, again) and first.shape == (6, 1280)
    assert cache_key("mobilenet_v2", "facemask", 48, files) != cache_key("mobilenet_v2", "facemask", 64, files)


@pytest.mark.parametrize("head", ["lr", "dnn"])
def test_fused_model_equals_its_head_and_converts_to_int8(fixture_set, tmp_path, head):
    from edge.bundle import load_bundle
    from train.recipes.pain import PainConfig, train_pain

    out = tmp_path / "run"
    summary = train_pain(PainConfig(data=fixture_set, out=out, backbones=["mobilenet_v2"], heads=[head],
                                    weights="facemask", size=64, dnn_epochs=5, bundle=f"mobilenet_v2:{head}",
                                    progress=False))
    assert summary["bundle"]["fusion_max_abs_diff"] < 1e-4
    m = load_bundle(out / "bundle").manifest
    assert m.task == "pain" and m.labels == ["no_pain", "pain"] and "PIPELINE CHECK" in m.provenance.notes
    if head == "dnn":
        proc = run_cli("edge-convert", str(out / "bundle"), "--formats", "tflite-int8", "--calibration-size", "32",
                       "--json", timeout=600)  # measured on the bundle's own subject-wise held-out sample
        assert proc.returncode == 0, proc.stderr
        converted = load_bundle(out / "bundle").manifest.file("tflite-int8").metrics
        assert converted.agreement is not None and converted.n_samples == summary["n_test"]


def test_fused_densenet_converts_through_the_int8_rewrite(fixture_set, tmp_path):
    """DenseNet's BN after every concat and its shared-scale concats are what the int8 rewrite is for."""
    from edge.bundle import load_bundle
    from train.recipes.pain import PainConfig, train_pain

    out = tmp_path / "run"
    summary = train_pain(PainConfig(data=fixture_set, out=out, backbones=["densenet121"], heads=["dnn"],
                                    weights="random", size=32, dnn_epochs=2, bundle="densenet121:dnn",
                                    progress=False))
    proc = run_cli("edge-convert", str(out / "bundle"), "--formats", "tflite-int8", "--calibration-size", "16",
                   "--json", timeout=600)  # measured on the bundle's own subject-wise held-out sample
    assert proc.returncode == 0, proc.stderr
    rewrite = json.loads(proc.stdout)["int8_rewrite"]
    # 58 dense layers + 3 transitions + the final BN; 58 convs + 3 transition convs + the stem's BN
    assert rewrite["bn_to_depthwise"] == 62 and rewrite["equalized_producers"] == 62
    assert rewrite["max_abs_diff"] < 1e-3
    assert "float-exact rewrite" in (out / "bundle" / "parity.md").read_text()
    metrics = load_bundle(out / "bundle").manifest.file("tflite-int8").metrics
    assert metrics.n_samples == summary["n_test"] and metrics.agreement is not None


def test_linear_svm_folds_into_the_backbone(fixture_set, tmp_path):
    from edge.bundle import load_bundle
    from train.recipes.pain import PainConfig, train_pain

    summary = train_pain(PainConfig(data=fixture_set, out=tmp_path, backbones=["mobilenet_v2"], heads=["linsvm"],
                                    weights="facemask", size=64, bundle="mobilenet_v2:linsvm", progress=False))
    assert summary["bundle"]["head"] == "fused" and summary["bundle"]["fusion_max_abs_diff"] < 1e-4
    assert load_bundle(tmp_path / "bundle").manifest.head is None


@pytest.mark.parametrize("head,kind", [("knn", "knn"), ("svm", "svm-rbf")])
def test_knn_and_kernel_svm_ship_as_a_chained_onnx_head(fixture_set, tmp_path, head, kind):
    """The model file outputs features, head.onnx (skl2onnx) scores them; every format runs through the chain."""
    from edge.bundle import load_bundle
    from edge.classifier import Classifier
    from edge.errors import BundleError
    from edge.media import read_image
    from edge.preprocess import prepare_dataset
    from train.recipes.pain import PainConfig, train_pain

    summary = train_pain(PainConfig(data=fixture_set, out=tmp_path, backbones=["mobilenet_v2"], heads=[head],
                                    weights="facemask", size=64, bundle=f"mobilenet_v2:{head}", progress=False))
    assert summary["bundle"]["head"] == kind and summary["bundle"]["fusion_max_abs_diff"] < 1e-4
    bundle = tmp_path / "bundle"
    m = load_bundle(bundle).manifest
    assert m.head.kind == kind and m.head.n_features == 1280 and (bundle / m.head.path).is_file()
    proc = run_cli("edge-convert", str(bundle), "--formats", "tflite-int8", "onnx-fp32", "--calibration-size", "32",
                   "--json", timeout=600)  # the bundle's subject-wise held-out sample, not a new split
    assert proc.returncode == 0, proc.stderr
    m = load_bundle(bundle).manifest
    assert m.head is not None  # conversion keeps the chain
    for fmt in ("tflite-int8", "onnx-fp32"):
        metrics = m.file(fmt).metrics
        assert metrics.n_samples == summary["n_test"] and metrics.agreement >= 0.7, (fmt, metrics)
    assert m.file("onnx-fp32").metrics.agreement == 1.0  # fp32 features give the head the very same input
    images = [read_image(p) for p in sorted((fixture_set / "pain").iterdir())[:3]]
    clf = Classifier(bundle)
    try:
        probs = clf.probabilities(clf.prepare(images))
    finally:
        clf.close()
    assert probs.shape == (3, 2) and np.allclose(probs.sum(1), 1.0, atol=1e-5)
    bench = run_cli("edge-bench", str(bundle), "--formats", "onnx-fp32", "--threads", "1", "--runs", "3",
                    "--warmup", "1", "--no-keras", "--json", timeout=300)
    assert bench.returncode == 0, bench.stderr
    row = next(r for r in json.loads(bench.stdout)["rows"] if r.get("status") == "ok")
    sample = np.load(bundle / "eval_sample.npz")
    clf = Classifier(bundle, fmt="onnx-fp32")
    try:  # scored through the head, as the runtime does, not an argmax over 1,280 features
        x = prepare_dataset(sample["x"], m.preprocess, m.input.layout)
        expected = float((clf.probabilities(x).argmax(1) == sample["y"]).mean())
    finally:
        clf.close()
    assert row["head"]["kind"] == kind and row["eval_samples"] == len(sample["y"])
    assert abs(row["accuracy"] - expected) < 1e-9
    (bundle / m.head.path).write_bytes((bundle / m.head.path).read_bytes() + b"x")
    with pytest.raises(BundleError, match="head.size_bytes"):
        Classifier(bundle)


def test_sustained_monitor_raises_once_per_episode():
    from edge.monitor import SustainedMonitor

    m = SustainedMonitor(threshold=0.7, sustain_s=2.0)
    events = [m.update(1, s, t) for t, s in [(0, 0.8), (1, 0.9), (2.5, 0.75), (3, 0.9), (4, 0.2), (5, 0.8),
                                             (7.1, 0.8)]]
    raised = [e for e in events if e]
    assert len(raised) == 2 and raised[0]["duration_s"] == 2.5 and raised[1]["since_s"] == 5
    assert m.update(2, 0.95, 0.0) is None  # another face has its own clock


def test_edge_run_pain_bundle_per_face_and_monitor_events(fixture_set, tmp_path):
    from edge.sources import SAMPLE_CLIP
    from train.recipes.pain import PainConfig, train_pain

    train_pain(PainConfig(data=fixture_set, out=tmp_path, backbones=["mobilenet_v2"], heads=["lr"],
                          weights="facemask", size=64, bundle="mobilenet_v2:lr", progress=False))
    conv = run_cli("edge-convert", str(tmp_path / "bundle"), "--data", str(fixture_set), "--formats", "tflite-int8",
                   "--calibration-size", "32", timeout=600)
    assert conv.returncode == 0, conv.stderr
    proc = run_cli("edge-run", str(tmp_path / "bundle"), "--source", str(SAMPLE_CLIP), "--json", "--monitor",
                   "--threshold", "0.0", "--sustain", "0.5")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    faces = [x for x in lines if "box" in x]
    events = [x for x in lines if x.get("event") == "sustained"]
    assert faces and {x["label"] for x in faces} <= {"no_pain", "pain"}
    assert events and all(e["duration_s"] >= 0.5 for e in events)  # threshold 0: every settled face qualifies

    # The kiosk runs the same bundle in monitor mode: alerts go to JSON lines and the SQLite log.
    cfg, db = tmp_path / "pain.yaml", tmp_path / "alerts.db"
    cfg.write_text(f"bundle: {tmp_path / 'bundle'}\nrealtime: false\ndisplay: {{mode: headless}}\n"
                   f"outputs:\n  sqlite: {{path: {db}}}\n")
    refused = run_cli("edge-kiosk", "--config", str(cfg), "--max-frames", "5")
    assert refused.returncode == 1 and "monitor.enabled" in refused.stderr
    cfg.write_text(cfg.read_text() + "monitor: {enabled: true, threshold: 0.01, sustain_s: 0.2}\n")
    proc = run_cli("edge-kiosk", "--config", str(cfg), "--max-frames", "60", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    alerts = [x for x in lines if x.get("event") == "sustained"]
    rows = sqlite3.connect(db).execute("SELECT label, duration_s FROM alerts").fetchall()
    assert alerts and len(rows) == len(alerts) == lines[-1]["summary"]["alerts"]["pain"]
    assert all(label == "pain" and d >= 0.2 for label, d in rows)


@pytest.mark.slow
def test_a_backbone_trained_on_the_training_people_loads_as_weights(fixture_set, tmp_path):
    proc = run_cli("edge-train", "pain-backbone", "--data", str(fixture_set), "--out", str(tmp_path / "bb"),
                   "--backbone", "mobilenet_v2", "--size", "32", "--epochs", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    weights = Path(report["weights"])
    assert weights.is_file() and "NOT ImageNet" in report["what"] and report["n_test"] > 0
    from train.pain.data import load_pain_folder, split

    data = load_pain_folder(fixture_set)
    _, test_idx, desc = split(data, "subject", 0.5, 42)
    assert report["split"] == desc and report["n_test"] == len(test_idx)  # the same people held out as `pain`
    # The file is the backbone's own weights: `edge-train pain --weights FILE` loads them at another size.
    from train.pain.backbones import build_backbone

    random_a = build_backbone("mobilenet_v2", None, 48)
    trained = build_backbone("mobilenet_v2", str(weights), 48)
    x = np.random.default_rng(0).integers(0, 255, (2, 48, 48, 3)).astype(np.float32)
    assert not np.allclose(np.asarray(random_a(x)), np.asarray(trained(x)))
    again = build_backbone("mobilenet_v2", str(weights), 48)
    assert np.allclose(np.asarray(trained(x)), np.asarray(again(x)), atol=1e-5)
