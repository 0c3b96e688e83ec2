"""The bundle contract: manifest validation, schema file, hashes, label/shape checks."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from edge.bundle import MANIFEST_NAME, builtin_names, json_schema, load_bundle, parse_manifest, resolve
from edge.classifier import Classifier
from edge.errors import BundleError, EdgeSightError

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "edge" / "schema" / "manifest.schema.json"


def _manifest(root: Path) -> dict:
    return json.loads((root / MANIFEST_NAME).read_text())


def test_committed_schema_matches_the_model():
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema(), "run `make schema` after changing edge/bundle.py"


@pytest.mark.parametrize("name", ["digits", "fashion"])
def test_builtin_bundles_validate_and_verify(name):
    assert name in builtin_names()
    bundle = load_bundle(name)
    jsonschema.validate(_manifest(bundle.root), json.loads(SCHEMA_FILE.read_text()))
    bundle.verify_all()
    formats = {f.format for f in bundle.manifest.files}
    assert {"keras", "tflite-fp32", "tflite-int8", "onnx-fp32", "onnx-int8"} <= formats
    assert bundle.default_format() == "tflite-int8"
    prov = bundle.manifest.provenance
    assert prov.seed == 42 and prov.epochs and prov.library_versions.get("keras") and prov.created


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda m: m.update(extra_field=1), "extra_field"),
        (lambda m: m.pop("labels"), "labels"),
        (lambda m: m.update(pipeline="cats"), "pipeline"),
        (lambda m: m.update(task=""), "task"),
        (lambda m: m["input"].update(shape="28x28"), "input.shape"),
        (lambda m: m["files"][1].update(sha256="nothex"), "files.1.sha256"),
        (lambda m: m["files"].append(dict(m["files"][1])), "format listed more than once"),
        (lambda m: m.update(default_format="tflite-fp16"), "default_format"),
        (lambda m: m["preprocess"].update(scale=-1), "preprocess.scale"),
    ],
)
def test_invalid_manifests_name_the_field(digits_copy, mutate, field):
    data = _manifest(digits_copy)
    mutate(data)
    with pytest.raises(BundleError, match="invalid manifest") as info:
        parse_manifest(json.dumps(data))
    assert field in str(info.value)
    assert "\n" not in str(info.value)


def test_future_schema_version_is_refused_with_advice(digits_copy):
    data = _manifest(digits_copy)
    data["schema"] = 2
    with pytest.raises(BundleError, match="schema 2 is not supported.*upgrade"):
        parse_manifest(json.dumps(data))


def test_not_json_is_a_clear_error():
    with pytest.raises(BundleError, match="not valid JSON"):
        parse_manifest("{ nope")


def test_modified_model_file_is_refused(digits_copy):
    path = digits_copy / "model_int8.tflite"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"sha256 does not match manifest files\[tflite-int8\]"):
        Classifier(load_bundle(digits_copy))
    # The other files are untouched and still load.
    Classifier(load_bundle(digits_copy), fmt="onnx-int8")


def test_truncated_model_file_is_refused(digits_copy):
    path = digits_copy / "model_fp32.onnx"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(BundleError, match="truncated or replaced"):
        Classifier(load_bundle(digits_copy), fmt="onnx-fp32")


def test_label_count_must_match_the_model_output(digits_copy):
    data = _manifest(digits_copy)
    data["labels"] = data["labels"][:9]
    (digits_copy / MANIFEST_NAME).write_text(json.dumps(data))
    with pytest.raises(BundleError, match="labels: the manifest lists 9 labels but the tflite-int8 model outputs 10"):
        Classifier(load_bundle(digits_copy))


def test_quantization_in_manifest_must_match_the_model(digits_copy):
    data = _manifest(digits_copy)
    entry = next(f for f in data["files"] if f["format"] == "tflite-int8")
    entry["input_quant"]["zero_point"] += 3
    (digits_copy / MANIFEST_NAME).write_text(json.dumps(data))
    with pytest.raises(BundleError, match="input_quant does not match"):
        Classifier(load_bundle(digits_copy))


def test_keras_format_is_not_for_the_edge_runtime():
    with pytest.raises(EdgeSightError, match="Keras needs TensorFlow"):
        Classifier("digits", fmt="keras")


def test_resolve_lists_builtins_for_unknown_names(tmp_path):
    with pytest.raises(BundleError, match="built-ins: digits, face-verifier, fashion, mask"):
        resolve("no-such-bundle")
    with pytest.raises(BundleError, match="no manifest.json here"):
        resolve(tmp_path)
    assert resolve(resolve("digits") / MANIFEST_NAME) == resolve("digits")


def _mutated_manifests():
    from hypothesis import strategies as st

    leaves = st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=True) | st.text(max_size=20)
    values = st.recursive(leaves, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                                                            max_size=4), max_leaves=10)
    return st.tuples(st.sampled_from(["replace", "delete", "add"]), st.integers(0, 10_000), values)


def test_manifest_parser_never_fails_with_anything_but_a_bundle_error():
    """Property: whatever a manifest field becomes, parsing yields a Manifest or one BundleError naming the problem."""
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings

    base = json.loads((resolve("digits") / MANIFEST_NAME).read_text())

    def paths(node, prefix=()):
        yield prefix
        if isinstance(node, dict):
            for k, v in node.items():
                yield from paths(v, (*prefix, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from paths(v, (*prefix, i))

    all_paths = [p for p in paths(base) if p]

    @settings(max_examples=300, deadline=None)
    @given(_mutated_manifests())
    def check(mutation):
        how, pick, value = mutation
        doc = json.loads(json.dumps(base))
        path = all_paths[pick % len(all_paths)]
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if how == "replace":
            parent[path[-1]] = value
        elif how == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent["x_extra"] = value
        try:
            parse_manifest(json.dumps(doc), "manifest.json")
        except BundleError as exc:
            assert str(exc).strip() and "\n" not in str(exc)  # one line, whatever was wrong

    check()
