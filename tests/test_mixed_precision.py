"""Mixed-precision int8: named or measured float layers, in real TFLite and ONNX files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from convert.mixed_precision import Trial, better, layer_units, parse_keep_float
from edge.bundle import load_bundle
from edge.classifier import Classifier
from tests.conftest import error_lines, run_cli


def test_layer_names_map_to_nodes_without_collisions():
    # Keras 3 export scopes, as the shipped digits model has them: layer conv2d_1 is scope conv2d_1_2.
    nodes = ["m_1/conv2d_1/Relu;m_1/conv2d_1/BiasAdd", "m_1/conv2d_1_2/Relu", "m_1/max_pooling2d_1/MaxPool2d",
             "m_1/max_pooling2d_1_2/MaxPool2d", "m_1/dense_1/MatMul", "m_1/Sub", "StatefulPartitionedCall_1:0"]
    # A Subtract layer leaves an unscoped `Sub`, and the output op is named after the signature (its hint
    # is its input): both belong to the layer before them.
    hints = [*nodes[:-1], "m_1/Sub"]
    units = layer_units(["conv2d", "conv2d_1", "max_pooling2d", "dropout", "max_pooling2d_1", "dense", "subtract"],
                        nodes, hints)
    assert units == {"conv2d": [nodes[0]], "conv2d_1": [nodes[1]], "max_pooling2d": [nodes[2]],
                     "max_pooling2d_1": [nodes[3]], "dense": nodes[4:]}


def test_keep_float_values_and_what_counts_as_better():
    assert parse_keep_float(None) is None and parse_keep_float("none") is None
    assert parse_keep_float("AUTO") == "auto"
    assert parse_keep_float("conv1, bn1") == ("conv1", "bn1")
    base = Trial((), 0.97, 15.0)
    assert better(Trial(("a",), 0.98, 10.0), base)  # agreement first
    assert not better(Trial(("a",), 0.97, 15.2), base)  # a float layer for 0.2 dB is not worth its size
    assert better(Trial(("a",), 0.97, 16.0), base)


def _float_ops_tflite(path) -> list[str]:
    from edge.backends.tflite import load_interpreter_module

    interp = load_interpreter_module()[1].Interpreter(model_path=str(path))
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    return [op["op_name"] for op in interp._get_ops_details()
            if op["op_name"] == "CONV_2D" and tensors[op["outputs"][0]]["dtype"] == np.float32]


@pytest.mark.slow
def test_named_layers_stay_float_in_both_int8_files(tmp_path, mnist):
    import onnx

    out = tmp_path / "mixed"
    proc = run_cli("edge-convert", "digits", "--out", str(out), "--formats", "tflite-int8", "onnx-int8",
                   "--calibration-size", "20", "--limit-eval", "100", "--keep-float", "conv2d", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["mixed_precision"]["tflite-int8"]["float_layers"] == ["conv2d"]
    manifest = load_bundle(out).manifest
    for fmt in ("tflite-int8", "onnx-int8"):
        assert manifest.file(fmt).float_layers == ["conv2d"]
    # TFLite: one float conv inside a file that still takes and gives int8.
    assert _float_ops_tflite(out / "model_int8.tflite") == ["CONV_2D"]
    assert manifest.file("tflite-int8").input_quant.dtype == "int8"
    # ONNX: the first Conv reads float weights, the others dequantized int8 ones.
    graph = onnx.load(str(out / "model_int8.onnx")).graph
    producers = {o: n.op_type for n in graph.node for o in n.output}
    weight_src = [producers.get(n.input[1], "initializer") for n in graph.node if n.op_type == "Conv"]
    assert weight_src[0] == "initializer" and set(weight_src[1:]) == {"DequantizeLinear"}
    x = mnist.x_test[:20]
    for fmt in ("tflite-int8", "onnx-int8"):
        preds = [p.label for p in Classifier(out, fmt=fmt).classify(list(x))]
        assert np.mean(np.array(preds, dtype=int) == mnist.y_test[:20]) >= 0.9, fmt
    assert "Mixed precision, tflite-int8: float layers conv2d" in (out / "parity.md").read_text()


def test_an_unknown_layer_name_lists_the_real_ones(tmp_path):
    proc = run_cli("edge-convert", "digits", "--out", str(tmp_path / "x"), "--formats", "tflite-int8",
                   "--calibration-size", "10", "--limit-eval", "50", "--keep-float", "conv9")
    assert proc.returncode == 1
    (line,) = error_lines(proc, "edge-convert")
    assert "no layer named conv9" in line and "conv2d_1" in line


@pytest.mark.slow
def test_auto_measures_every_layer_and_keeps_only_what_earns_its_place(tmp_path):
    from convert.bundle_convert import ConvertConfig, convert_bundle

    # A target above 1 can never be met, so the search runs its full course.
    result = convert_bundle("digits", ConvertConfig(
        out=tmp_path / "auto", formats=("tflite-int8",), calibration_size=20, limit_eval=100, keep_float="auto",
        mixed_target=1.01, mixed_max_layers=2, selection_size=100, progress=False))
    mixed = result.report["mixed_precision"]["tflite-int8"]
    assert mixed["selected_on"].startswith("validation split")  # the bundle ships validation images to choose on
    trials = [Trial(tuple(t["layers"]), t["agreement"], t["sqnr_db"]) for t in mixed["trials"]]
    base, singles = trials[0], [t for t in trials if len(t.layers) == 1]
    assert base.layers == () and len(singles) >= 6  # every conv, dense, pool ... measured alone
    chosen = tuple(mixed["float_layers"])
    assert len(chosen) <= 2
    if chosen:
        winner = next(t for t in trials if t.layers == chosen)
        assert better(winner, base)
        assert load_bundle(result.bundle).manifest.file("tflite-int8").float_layers == list(chosen)
    else:
        assert not any(better(t, base) for t in singles)


@pytest.mark.slow
def test_float_io_keeps_an_int8_body_with_unrounded_scores(tmp_path, mnist):
    out = tmp_path / "floatio"
    proc = run_cli("edge-convert", "digits", "--out", str(out), "--formats", "tflite-int8", "--calibration-size",
                   "20", "--limit-eval", "100", "--int8-io", "float", "--keep-float", "probs", "--json")
    assert proc.returncode == 0, proc.stderr
    entry = load_bundle(out).manifest.file("tflite-int8")
    assert entry.input_quant is None and entry.output_quant is None and entry.float_layers == ["probs"]
    from edge.backends.tflite import load_interpreter_module

    interp = load_interpreter_module()[1].Interpreter(model_path=str(out / "model_int8.tflite"))
    tensors = {t["index"]: t["dtype"] for t in interp.get_tensor_details()}
    out_dtype = {op["op_name"]: tensors[op["outputs"][0]] for op in interp._get_ops_details()}
    assert out_dtype["CONV_2D"] == np.int8 and out_dtype["SOFTMAX"] == np.float32  # int8 body, float scores
    labels = [p.label for p in Classifier(out, fmt="tflite-int8").classify(list(mnist.x_test[:20]))]
    assert np.mean(np.array(labels, dtype=int) == mnist.y_test[:20]) >= 0.9


def test_prescreen_keeps_the_layers_that_make_the_most_error_in_graph_order():
    from convert.mixed_precision import prescreen

    units = {"conv1": ["a"], "bn1": ["b", "c"], "conv2": ["d"], "probs": ["e"]}
    errors = {"a": 0.1, "b": 0.2, "c": 3.0, "d": 1.5, "e": 0.05}
    assert prescreen(units, errors, keep=2) == ["bn1", "conv2"]


@pytest.mark.slow
def test_big_graphs_are_prescreened_by_per_op_error(tmp_path, monkeypatch):
    from convert import mixed_precision as mp
    from convert.bundle_convert import ConvertConfig, convert_bundle

    monkeypatch.setattr(mp, "PRESCREEN_ABOVE", 3)  # the digits model has 7 layers with ops; pretend that is big
    monkeypatch.setattr(mp, "PRESCREEN_KEEP", 2)
    result = convert_bundle("digits", ConvertConfig(
        out=tmp_path / "pre", formats=("tflite-int8", "onnx-int8"), calibration_size=20, limit_eval=100,
        keep_float="auto", mixed_target=1.01, mixed_max_layers=2, selection_size=64, progress=False))
    for fmt in ("tflite-int8", "onnx-int8"):  # one pre-screen, shared by both formats
        mixed = result.report["mixed_precision"][fmt]
        assert len(mixed["prescreened"]) == 2
        singles = [t["layers"][0] for t in mixed["trials"] if len(t["layers"]) == 1]
        assert sorted(singles) == sorted(mixed["prescreened"])  # whole-model trials only for the shortlist
