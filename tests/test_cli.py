"""The console scripts as users run them: JSON lines, exit codes, and one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge.bundle import MANIFEST_NAME, describe_file, load_bundle, write_manifest
from tests.conftest import BIN, REPO, error_lines, run_cli

SAMPLE = REPO / "edge" / "samples" / "digits_paper.jpg"


def _assert_one_line_error(proc, prog: str, pattern: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = error_lines(proc, prog)
    assert len(lines) == 1, proc.stderr
    assert pattern in lines[0], lines[0]


def test_edge_run_json_lines_follow_the_contract():
    proc = run_cli("edge-run", "digits", "--source", str(SAMPLE), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["label"] for r in rows] == list("31415926")
    for r in rows:
        assert set(r) == {"source", "frame", "box", "label", "score", "latency_ms"}
        assert isinstance(r["source"], str) and r["frame"] == 0
        assert len(r["box"]) == 4 and all(isinstance(v, int) for v in r["box"])
        assert 0 < r["score"] <= 1 and r["latency_ms"] > 0


def test_edge_run_folder_and_video(tmp_path, fashion):
    import cv2

    folder = REPO / "edge" / "samples" / "fashion"
    proc = run_cli("edge-run", "fashion", "--source", str(folder), "--json", "--format", "onnx-int8")
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and len(rows) == 10 and all(r["box"] is None for r in rows)
    truth = [Path(r["source"]).name.split("_", 1)[0] for r in rows]
    correct = sum(fashion.labels[int(t)] == r["label"] for t, r in zip(truth, rows))
    assert correct >= 8
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (28, 28), isColor=False)
    for k in range(4):
        writer.write(fashion.x_test[k, :, :, 0])
    writer.release()
    proc = run_cli("edge-run", "fashion", "--source", str(video), "--json")
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and [r["frame"] for r in rows] == [0, 1, 2, 3]


def test_edge_run_human_output_and_list():
    proc = run_cli("edge-run", "digits", "--source", str(SAMPLE))
    assert proc.returncode == 0 and proc.stdout.count("label=") == 8
    proc = run_cli("edge-run", "--list", "--json")
    names = {json.loads(line)["name"] for line in proc.stdout.splitlines()}
    assert {"digits", "fashion"} <= names


def test_missing_source_file():
    _assert_one_line_error(run_cli("edge-run", "digits", "--source", "/nope/x.jpg"), "edge-run",
                           "no such file or folder")


def test_unknown_bundle():
    _assert_one_line_error(run_cli("edge-run", "no-such-model", "--source", str(SAMPLE)), "edge-run",
                           "no such bundle folder or built-in bundle")


@pytest.mark.parametrize("payload", [b"", b"\xff\xd8\xff\xe0 not really a jpeg" * 10, b"GIF89a"],
                         ids=["empty", "corrupt", "gif"])
def test_unreadable_image(tmp_path, payload):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(payload)
    _assert_one_line_error(run_cli("edge-run", "digits", "--source", str(bad)), "edge-run", str(bad))


def test_bad_image_in_a_folder_is_reported_and_the_rest_run(tmp_path):
    shutil.copy(SAMPLE, tmp_path / "a.jpg")
    (tmp_path / "b.png").write_bytes(b"\x89PNG broken")
    proc = run_cli("edge-run", "digits", "--source", str(tmp_path), "--json")
    assert proc.returncode == 1 and len(proc.stdout.splitlines()) == 8
    assert len(error_lines(proc, "edge-run")) == 1 and "b.png" in proc.stderr


def test_tampered_model_is_refused(digits_copy):
    (digits_copy / "model_int8.tflite").write_bytes(b"\0" * 100)
    _assert_one_line_error(run_cli("edge-run", str(digits_copy), "--source", str(SAMPLE)), "edge-run",
                           "does not match manifest")


@pytest.mark.parametrize("fmt,damage", [
    ("tflite-int8", lambda b: b[: len(b) // 3]),
    ("tflite-int8", lambda b: b[:4] + b"XXXX" + b[8:]),
    ("tflite-fp32", lambda b: np.random.default_rng(1).bytes(len(b))),
    ("onnx-int8", lambda b: b[: len(b) // 2]),
    ("onnx-fp32", lambda b: b"\x08\x07" + np.random.default_rng(2).bytes(5000)),
], ids=["tflite-truncated", "tflite-bad-identifier", "tflite-random", "onnx-truncated", "onnx-garbage"])
def test_corrupt_model_with_a_matching_hash_fails_cleanly(digits_copy, fmt, damage):
    """Someone re-hashed a damaged file: the runtime still refuses it with one line, no crash."""
    bundle = load_bundle(digits_copy)
    entry = bundle.manifest.file(fmt)
    path = digits_copy / entry.path
    path.write_bytes(damage(path.read_bytes()))
    files = [describe_file(digits_copy, f.path, f.format) if f.format == fmt else f for f in bundle.manifest.files]
    write_manifest(digits_copy, bundle.manifest.model_copy(update={"files": files}))
    proc = run_cli("edge-run", str(digits_copy), "--source", str(SAMPLE), "--format", fmt)
    _assert_one_line_error(proc, "edge-run", "")
    assert any(word in proc.stderr for word in ("TFLite", "ONNX", "truncated", "flatbuffer"))


def test_broken_manifest_names_the_field(digits_copy):
    data = json.loads((digits_copy / MANIFEST_NAME).read_text())
    del data["preprocess"]["color"]
    (digits_copy / MANIFEST_NAME).write_text(json.dumps(data))
    _assert_one_line_error(run_cli("edge-run", str(digits_copy), "--source", str(SAMPLE)), "edge-run",
                           "preprocess.color")


def test_edge_bench_human_table():
    proc = run_cli("edge-bench", "digits", "--runs", "5", "--warmup", "1", "--threads", "1", "--no-keras",
                   "--xnnpack-only", "--formats", "tflite-int8", "onnx-int8")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:5] == ["id", "size_kb", "load_ms", "first_ms", "p50_ms"]
    assert any(line.startswith("digits/tflite-int8/xnnpack/t1 ") for line in lines)
    assert any(line.startswith("digits/onnx-int8/cuda: skipped:") for line in lines)
    assert "[1/" in proc.stderr  # progress goes to stderr, the table to stdout


@pytest.mark.parametrize("prog", ["edge-run", "edge-bench", "edge-convert", "edge-train"])
def test_every_cli_explains_itself(prog):
    proc = run_cli(prog, "--help")
    assert proc.returncode == 0 and "--json" in proc.stdout and "example" in proc.stdout


def workflow_steps(path: Path, inputs: dict[str, str], workdir: Path) -> list[subprocess.CompletedProcess]:
    """Run a GitHub workflow's own `run` steps here, as the runner would: its env with `${{ inputs.x || 'd' }}`
    resolved from `inputs` (else the default), bash -e, a step summary file; the Install step is checked, not run
    (it would reinstall this package)."""
    import re

    import yaml

    job = next(iter(yaml.safe_load(path.read_text())["jobs"].values()))

    def resolve(value: str) -> str:
        m = re.fullmatch(r"\$\{\{\s*inputs\.(\w+)\s*\|\|\s*'([^']*)'\s*\}\}", str(value))
        return inputs.get(m.group(1), m.group(2)) if m else str(value)

    env = {**os.environ, **{k: resolve(v) for k, v in job["env"].items()},
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "GITHUB_STEP_SUMMARY": str(workdir / "summary.md")}
    results = []
    for step in job["steps"]:
        if "run" not in step:
            continue
        if step["name"] == "Install":
            assert '"${EDGESIGHT}[convert]"' in step["run"] and env["EDGESIGHT"] in (".", inputs.get("edgesight"))
            continue
        results.append(subprocess.run(["bash", "-e", "-c", step["run"]], cwd=workdir, env=env, capture_output=True,
                                      text=True, timeout=900))
    return results


def test_the_ci_workflow_steps_gate_a_real_conversion(digits_copy, tmp_path):
    """The convert-models workflow's own steps, parsed from the file and run here on the digits bundle: it passes,
    then fails on the size budget, and the job summary holds the parity table each time."""
    import yaml

    workflow = REPO / ".github/workflows/convert-models.yml"
    doc = yaml.safe_load(workflow.read_text())
    triggers = doc[True] if True in doc else doc["on"]  # YAML 1.1 reads the key `on` as True
    assert all(p.startswith(("edge/models/", ".github/")) for p in triggers["push"]["paths"])
    assert triggers["workflow_dispatch"]["inputs"]["edgesight"]["default"] == "."  # this checkout, not an index
    steps = next(iter(doc["jobs"].values()))["steps"]
    assert any(s.get("uses", "").startswith("actions/upload-artifact") for s in steps)
    for budget_kb, code in (("1024", 0), ("10", 3)):  # digits int8 is about 885 KB
        work = tmp_path / f"kb{budget_kb}"
        work.mkdir()
        convert, summary = workflow_steps(workflow, {"model": str(digits_copy), "max_size_kb": budget_kb}, work)
        assert convert.returncode == code, convert.stderr[-2000:]
        report = json.loads((work / "converted-report.json").read_text())
        assert report["gate"]["status"] == ("pass" if code == 0 else "fail")
        assert summary.returncode == 0 and "| tflite-int8 |" in (work / "summary.md").read_text()
    assert "size budget" in convert.stderr and "Gate: fail" in (work / "summary.md").read_text()
    written = json.loads((work / "converted" / "parity.json").read_text())["gate"]
    assert written["status"] == "fail" and written["max_size_kb"] == 10.0
    assert written["failures"] == report["gate"]["failures"] and "size budget" in written["failures"][0]
