"""Bring your own model: a Keras, legacy .h5, SavedModel or ONNX classifier and an image folder, converted and
gated like the project's own bundles; `edge-train classify` on a folder; the CI workflow on a user's model.

The images are real: Fashion-MNIST test images (Debian's dataset-fashion-mnist, fetched by `make data`) of
three classes, written as a user's `imgs/train|test/<label>/*.png` folder at 32x32 RGB.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.bundle import load_bundle
from edge.classifier import Classifier
from tests.conftest import error_lines, run_cli

CLASSES = {0: "tshirt", 1: "trouser", 7: "sneaker"}
SIZE = 32


@pytest.fixture(scope="module")
def imgs(fashion, tmp_path_factory) -> Path:
    """A user's folder: train/ and test/ with one sub-folder per class."""
    root = tmp_path_factory.mktemp("user") / "imgs"
    for split, x, y, n in (("train", fashion.x_train, fashion.y_train, 150), ("test", fashion.x_test, fashion.y_test,
                                                                                    40)):
        for cls, label in CLASSES.items():
            folder = root / split / label
            folder.mkdir(parents=True)
            for i, img in enumerate(x[y == cls][:n]):
                rgb = cv2.cvtColor(cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR), cv2.COLOR_GRAY2BGR)
                cv2.imwrite(str(folder / f"{i:03d}.png"), rgb)
    return root


def _folder_arrays(root: Path, split: str):
    from edge.datasets import read_classes

    return read_classes(root / split, sorted(CLASSES.values()), (SIZE, SIZE), "rgb")


def _small_trunk():
    """Input and pooled features of a small CNN that normalises its own input with a Rescaling layer."""
    import keras

    inp = keras.Input((SIZE, SIZE, 3))
    h = keras.layers.Rescaling(1 / 255.0)(inp)
    for filters in (16, 32):
        h = keras.layers.Conv2D(filters, 3, activation="relu", padding="same")(h)
        h = keras.layers.MaxPooling2D()(h)
    return inp, keras.layers.GlobalAveragePooling2D()(h)


@pytest.fixture(scope="module")
def user_keras(imgs, tmp_path_factory) -> Path:
    """A small Functional CNN 'trained elsewhere': it normalises its own input with a Rescaling layer."""
    import keras

    keras.utils.set_random_seed(1)
    labels, x, y = _folder_arrays(imgs, "train")
    inp, h = _small_trunk()
    model = keras.Model(inp, keras.layers.Dense(len(labels), activation="softmax")(h))
    return _trained(model, x, y, "sparse_categorical_crossentropy", 8,
                    tmp_path_factory.mktemp("model") / "mymodel.keras")


def _trained(model, x, targets, losses, epochs: int, path: Path) -> Path:
    """The model fitted on the folder's training images, saved where a user would keep it."""
    model.compile("adam", losses)
    model.fit(x.astype("float32"), targets, epochs=epochs, batch_size=32, verbose=0)
    model.save(path)
    return path


def test_a_users_keras_model_and_folder_become_a_converted_bundle(user_keras, imgs, tmp_path):
    out = tmp_path / "b"
    proc = run_cli("edge-convert", str(user_keras), "--data", str(imgs), "--out", str(out), "--formats",
                   "tflite-int8", "onnx-int8", "--max-drop", "2", "--json", timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    rows = {r["format"]: r for r in report["files"]}
    assert set(rows) == {"keras", "tflite-int8", "onnx-int8"} and rows["keras"]["accuracy"] > 0.8
    assert rows["tflite-int8"]["agreement"] >= 0.98 and rows["onnx-int8"]["agreement"] >= 0.98
    m = load_bundle(out).manifest
    assert m.labels == sorted(CLASSES.values()) and m.input.shape == [SIZE, SIZE, 3]
    assert m.preprocess.scale == 1.0 and m.preprocess.color == "rgb"  # the model's Rescaling layer does it
    assert "carried by the model" in m.provenance.notes and m.calibration.n_samples > 0
    image = next((imgs / "test" / "trouser").glob("*.png"))
    run = run_cli("edge-run", str(out), "--source", str(image), "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[0])["label"] == "trouser"
    bench = run_cli("edge-bench", str(out), "--formats", "tflite-int8", "--threads", "1", "--runs", "20",
                    "--warmup", "2", "--no-keras", "--xnnpack-only", "--json")
    assert bench.returncode == 0, bench.stderr
    ok = [r for r in json.loads(bench.stdout)["rows"] if r["status"] == "ok"]
    assert ok and ok[0]["accuracy"] > 0.8


def test_legacy_h5_and_savedmodel_files_convert(user_keras, imgs, tmp_path):
    """A legacy .h5 loads as Keras (its Rescaling layer is found); a SavedModel is a serving signature Keras 3
    cannot load as layers: it goes through tf2onnx to ONNX int8, and takes a preset."""
    from convert.keras_io import load_keras

    model = load_keras(user_keras)
    model.save(tmp_path / "legacy.h5")
    model.export(str(tmp_path / "saved"))
    for source, fmt, extra in ((tmp_path / "legacy.h5", "tflite-int8", []),
                               (tmp_path / "saved", "onnx-int8", ["--preprocess", "raw"])):
        out = tmp_path / f"b-{source.stem}"
        proc = run_cli("edge-convert", str(source), "--data", str(imgs), "--out", str(out), "--formats", fmt,
                       *extra, "--json", timeout=900)
        assert proc.returncode == 0, (source, proc.stderr[-2000:])
        rows = {r["format"]: r for r in json.loads(proc.stdout)["files"]}
        assert rows[fmt]["agreement"] >= 0.98, source
        notes = load_bundle(out).manifest.provenance.notes
        assert ("carried by the model" in notes) == (not extra), notes


def test_what_users_get_wrong_is_a_one_line_error(user_keras, imgs, tmp_path):
    import shutil

    def convert(*args):
        proc = run_cli("edge-convert", *args, timeout=600)
        assert proc.returncode == 1 and len(error_lines(proc, "edge-convert")) == 1, proc.stderr[-1500:]
        assert "Traceback" not in proc.stderr
        return proc.stderr

    assert "give --data" in convert(str(user_keras), "--out", str(tmp_path / "x"))
    two = tmp_path / "two"
    for split in ("train", "test"):
        for label in ("tshirt", "trouser"):
            shutil.copytree(imgs / split / label, two / split / label)
    assert "the model gives 3 scores but the data has 2 classes" in convert(str(user_keras), "--data", str(two),
                                                                           "--out", str(tmp_path / "y"))
    one = tmp_path / "one" / "only"
    shutil.copytree(imgs / "train" / "tshirt", one)
    assert "at least two class folders" in convert(str(user_keras), "--data", str(one.parent), "--out",
                                                   str(tmp_path / "z"))


def test_an_onnx_model_from_another_exporter_converts_to_onnx_int8_with_parity(user_keras, imgs, tmp_path):
    """The user's CNN rebuilt by hand as an NCHW ONNX graph (PyTorch's layout, onnx.helper, not tf2onnx)."""
    onnx_path = tmp_path / "torchlike.onnx"
    _hand_made_onnx(user_keras, onnx_path)
    out = tmp_path / "b"
    missing = run_cli("edge-convert", str(onnx_path), "--data", str(imgs), "--out", str(out))
    assert missing.returncode == 1 and "--preprocess" in missing.stderr  # an ONNX graph cannot say its normalisation
    proc = run_cli("edge-convert", str(onnx_path), "--data", str(imgs), "--preprocess", "raw", "--out", str(out),
                   "--max-drop", "2", "--json", timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    rows = {r["format"]: r for r in report["files"]}
    assert report["reference"] == "onnx-fp32" and set(rows) == {"onnx-fp32", "onnx-int8"}
    assert rows["onnx-fp32"]["accuracy"] > 0.8 and rows["onnx-int8"]["agreement"] >= 0.98
    assert rows["onnx-int8"]["sqnr_db"] > 15 and rows["onnx-int8"]["size_bytes"] < rows["onnx-fp32"]["size_bytes"]
    m = load_bundle(out).manifest
    assert m.input.layout == "NCHW" and m.input.shape == [3, SIZE, SIZE] and m.default_format == "onnx-int8"
    labels, x, y = _folder_arrays(imgs, "test")
    pred = Classifier(out).classify(list(x[:, :, :, ::-1]))  # BGR images, as a camera gives them
    assert np.mean([p.index for p in pred] == y) > 0.8


def _hand_made_onnx(keras_path: Path, out: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from convert.keras_io import load_keras

    model = load_keras(keras_path)
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    dense = model.layers[-1]
    nodes, inits, prev = [], [], "image"
    nodes.append(helper.make_node("Mul", [prev, "k255"], ["scaled"]))
    inits.append(numpy_helper.from_array(np.array(1 / 255.0, np.float32), "k255"))
    prev = "scaled"
    for i, conv in enumerate(convs):
        w, b = conv.get_weights()
        inits += [numpy_helper.from_array(w.transpose(3, 2, 0, 1).copy(), f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes += [helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"]),
                  helper.make_node("MaxPool", [f"r{i}"], [f"p{i}"], kernel_shape=[2, 2], strides=[2, 2])]
        prev = f"p{i}"
    w, b = dense.get_weights()
    inits += [numpy_helper.from_array(w.T.copy(), "wd"), numpy_helper.from_array(b, "bd")]
    nodes += [helper.make_node("GlobalAveragePool", [prev], ["gap"]), helper.make_node("Flatten", ["gap"], ["flat"]),
              helper.make_node("Gemm", ["flat", "wd", "bd"], ["logits"], transB=1),
              helper.make_node("Softmax", ["logits"], ["probs"], axis=1)]
    graph = helper.make_graph(nodes, "torchlike", [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                                                  ["N", 3, SIZE, SIZE])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 3])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), out)


def test_edge_train_classify_makes_a_bundle_edge_convert_and_edge_run_use(imgs, tmp_path):
    run = tmp_path / "run"
    proc = run_cli("edge-train", "classify", "--data", str(imgs), "--out", str(run), "--size", "32", "--epochs",
                   "6", "--json", timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert summary["avg_acc"] > 0.8 and set(summary["per_class_accuracy"]) == set(CLASSES.values())
    assert all((run / f).is_file() for f in ("curves.png", "confusion.png", "train_report.json"))
    conv = run_cli("edge-convert", summary["bundle"], "--formats", "tflite-int8", "--json", timeout=900)
    assert conv.returncode == 0, conv.stderr[-2000:]
    assert {r["format"] for r in json.loads(conv.stdout)["files"]} == {"keras", "tflite-int8"}
    image = next((imgs / "test" / "sneaker").glob("*.png"))
    out = run_cli("edge-run", summary["bundle"], "--source", str(image), "--json")
    assert out.returncode == 0 and json.loads(out.stdout.splitlines()[0])["label"] == "sneaker"


APPLICATIONS = [("mobilenet_v2", "facemask", "-1..1"), ("mobilenet_v3_small", "none", None),
                ("efficientnet_b0", "none", None)]


@pytest.mark.slow
@pytest.mark.parametrize("backbone,weights,preset", APPLICATIONS)
def test_keras_applications_models_convert_with_their_preprocessing_found(imgs, tmp_path, backbone, weights, preset):
    """A user's keras.applications model on the folder: MobileNetV2 with the offline ImageNet base (no normalisation
    layer: the -1..1 preset must be named), MobileNetV3-Small and EfficientNet-B0 with random weights, briefly
    trained (they carry Rescaling: found, raw pixels in); each converts with its int8 agreement reported."""
    from train.models.transfer import build_classifier

    labels, x, y = _folder_arrays(imgs, "train")
    x96 = np.stack([cv2.resize(img, (96, 96)) for img in x])
    model, _ = build_classifier(backbone, (96, 96, 3), len(labels), weights)
    model.compile("adam", "sparse_categorical_crossentropy")
    scale = 1 / 127.5 if preset else 1.0  # what the user trained the model on
    model.fit(x96.astype("float32") * scale - (1.0 if preset else 0.0), y, epochs=1, batch_size=32, verbose=0)
    path = tmp_path / f"{backbone}.keras"
    model.save(path)
    out = tmp_path / "b"
    base = ["edge-convert", str(path), "--data", str(imgs), "--out", str(out), "--formats", "tflite-int8",
            "--limit-eval", "60", "--json"]
    if preset:
        refused = run_cli(*base, timeout=600)
        assert refused.returncode == 1 and "give --preprocess" in refused.stderr
        base += [f"--preprocess={preset}"]  # a value starting with "-" needs the = form
    proc = run_cli(*base, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {r["format"]: r for r in json.loads(proc.stdout)["files"]}
    assert 0 <= rows["tflite-int8"]["agreement"] <= 1 and rows["tflite-int8"]["sqnr_db"] is not None
    m = load_bundle(out).manifest
    assert m.input.shape == [96, 96, 3]
    assert (m.preprocess.scale, m.preprocess.mean) == ((1 / 127.5, [1.0]) if preset else (1.0, [0.0]))


@pytest.mark.slow
def test_edge_train_classify_transfers_from_the_offline_mobilenet_v2_base(imgs, tmp_path):
    proc = run_cli("edge-train", "classify", "--data", str(imgs), "--out", str(tmp_path / "run"), "--backbone",
                   "mobilenet_v2", "--weights", "facemask", "--size", "96", "--epochs", "3", "--json", timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert summary["preprocess"] == "-1..1" and summary["avg_acc"] > 0.7
    m = load_bundle(summary["bundle"]).manifest
    assert m.preprocess.scale == pytest.approx(1 / 127.5) and m.calibration.n_samples > 0


def test_the_ci_workflow_converts_a_users_model_and_folder(user_keras, imgs, tmp_path):
    from tests.conftest import REPO
    from tests.test_cli import workflow_steps

    convert, summary = workflow_steps(REPO / ".github/workflows/convert-models.yml",
                                      {"model": str(user_keras), "data": str(imgs), "max_size_kb": "512"}, tmp_path)
    assert convert.returncode == 0, convert.stderr[-2000:]
    report = json.loads((tmp_path / "converted-report.json").read_text())
    assert report["gate"]["status"] == "pass" and {"tflite-int8", "onnx-int8"} <= {r["format"] for r in
                                                                                   report["files"]}
    assert summary.returncode == 0 and "| onnx-int8 |" in (tmp_path / "summary.md").read_text()
    assert (tmp_path / "converted" / "manifest.json").is_file()


def _object_box(x: np.ndarray) -> np.ndarray:
    """Each image's garment extent (rows and columns with ink) as (top, left, bottom, right) in 0..1."""
    ink = x.max(axis=-1) > 30
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    first = lambda a: a.argmax(axis=1)  # noqa: E731
    last = lambda a: a.shape[1] - 1 - a[:, ::-1].argmax(axis=1)  # noqa: E731
    return np.stack([first(rows), first(cols), last(rows), last(cols)], axis=1).astype("float32") / (SIZE - 1)


@pytest.fixture(scope="module")
def two_head_keras(imgs, tmp_path_factory) -> Path:
    """A detector-like model trained elsewhere: a class distribution and a box regressor from one trunk."""
    import keras

    keras.utils.set_random_seed(2)
    labels, x, y = _folder_arrays(imgs, "train")
    inp, h = _small_trunk()
    scores = keras.layers.Dense(len(labels), activation="softmax", name="scores")(h)
    box = keras.layers.Dense(4, activation="sigmoid", name="box")(keras.layers.Dense(32, activation="relu")(h))
    model = keras.Model(inp, [scores, box])
    return _trained(model, x, [y, _object_box(x)], ["sparse_categorical_crossentropy", "mse"], 6,
                    tmp_path_factory.mktemp("model2") / "twohead.keras")


def test_a_two_output_model_converts_with_parity_per_output(two_head_keras, imgs, tmp_path):
    out = tmp_path / "b"
    proc = run_cli("edge-convert", str(two_head_keras), "--data", str(imgs), "--out", str(out), "--formats",
                   "tflite-fp32", "tflite-int8", "onnx-fp32", "onnx-int8", "--max-size-kb", "500", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["pipeline"] == "tensors" and manifest["labels"] == []
    assert [(o["name"], o["shape"], o["scores"]) for o in manifest["outputs"]] == [("scores", [3], True),
                                                                                 ("box", [4], False)]
    report = json.loads((out / "parity.json").read_text())
    rows = {r["format"]: r for r in report["files"]}
    assert set(rows) == {"keras", "tflite-fp32", "tflite-int8", "onnx-fp32", "onnx-int8"}
    for fmt, row in rows.items():
        per = {o["name"]: o for o in row["per_output"]}
        assert set(per) == {"scores", "box"}, fmt
        assert per["box"].get("agreement") is None  # a regressor has no top-1 to agree on
        assert "accuracy" not in row  # nothing invented: no labels are scored
        floor = 60 if fmt.endswith("fp32") or fmt == "keras" else 15
        assert min(o["sqnr_db"] for o in per.values()) > floor, (fmt, per)
        assert per["box"]["cosine"] > 0.99 and per["scores"]["agreement"] >= 0.95, (fmt, per)
        assert row["sqnr_db"] == min(o["sqnr_db"] for o in per.values())  # the summary is the worst output
    assert report["gate"]["status"] == "pass"
    md = (out / "parity.md").read_text()
    assert "| tflite-int8 | box |" in md and "| onnx-int8 | scores |" in md
    onnx_out = tmp_path / "from-onnx"  # the same model as an ONNX file of two outputs, as PyTorch would give it
    proc = run_cli("edge-convert", str(out / "model_fp32.onnx"), "--data", str(imgs), "--out", str(onnx_out),
                   "--preprocess", "raw", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {r["format"]: r for r in json.loads((onnx_out / "parity.json").read_text())["files"]}
    assert set(rows) == {"onnx-fp32", "onnx-int8"} and rows["onnx-fp32"]["sqnr_db"] == 300.0
    per = {o["name"]: o for o in rows["onnx-int8"]["per_output"]}
    assert set(per) == {"scores", "box"} and per["scores"]["agreement"] >= 0.95 and per["box"]["cosine"] > 0.99
    run = run_cli("edge-run", str(out), "--source", str(next((imgs / "test" / "tshirt").iterdir())))
    assert run.returncode != 0 and "tensors" in error_lines(run, "edge-run")[0]
    bench = run_cli("edge-bench", str(out), "--no-keras", "--formats", "tflite-int8", "onnx-int8", "--runs", "20",
                    "--threads", "1", "--json")
    assert bench.returncode == 0, bench.stderr[-1500:]
    rows = json.loads(bench.stdout)["rows"]
    measured = {r["config"]["format"] for r in rows if r["status"] == "ok"}
    assert measured == {"tflite-int8", "onnx-int8"}
    assert all(r.get("reason") for r in rows if r["status"] != "ok")  # a skipped delegate says why
