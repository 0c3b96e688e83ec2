"""edge-bench: the matrix, its report formats and schema, the recommendation, the baseline gate.

Structure and honesty facts only: no timed assertions (the machine is shared and noisy).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess

import jsonschema
import pytest

from benchmarks.baseline import compare
from benchmarks.cold_start import measure as cold_start
from benchmarks.overhead import measure as overhead
from benchmarks.recommend import recommend
from benchmarks.report import SCHEMA_PATH
from edge.bundle import resolve
from tests.conftest import run_cli

FAST = ["--runs", "15", "--warmup", "2", "--threads", "1", "--no-keras"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = run_cli("edge-bench", "digits", *FAST, "--recommend", "--max-drop", "0.5", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), out


def test_json_report_validates_against_its_schema(report):
    data, out = report
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.validate(data, schema)
    jsonschema.validate(json.loads((out / "report.json").read_text()), schema)
    assert data["device"]["cores"] >= 1 and data["device"]["versions"]["ai-edge-litert"]


def test_every_accelerator_row_is_measured_or_skipped_with_its_reason(report):
    """On a machine with a GPU, an Edge TPU or an OpenVINO build these rows are measured; elsewhere each says why."""
    rows = {r["config"]["id"]: r for r in report[0]["rows"]}
    for key in ("digits/tflite-fp32/gpu", "digits/tflite-int8/edgetpu", "digits/onnx-int8/cuda",
                "digits/onnx-int8/tensorrt", "digits/onnx-fp32/openvino"):
        row = rows[key]
        assert row["status"] in ("ok", "skipped"), (key, row)
        if row["status"] == "skipped":
            assert len(row["reason"]) > 10, key
        else:
            assert row["p50_ms"] > 0 and row["runs"] >= 1, key


def test_rows_carry_latency_accuracy_and_coverage(report):
    rows = {r["config"]["id"]: r for r in report[0]["rows"] if r["status"] == "ok"}
    assert {"digits/tflite-int8/xnnpack/t1", "digits/tflite-int8/builtin/t1", "digits/onnx-int8/cpu/t1",
            "digits/onnx-fp32/cpu/t1", "digits/tflite-fp32/xnnpack/t1"} <= set(rows)
    for r in rows.values():
        assert r["runs"] == 15 and r["min_ms"] <= r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] <= r["max_ms"]
        assert r["stopped_by"] == "runs" and r["p50_ci_ms"][0] <= r["p50_ms"] <= r["p50_ci_ms"][1]
        assert r["p90_ci_ms"][1] is None or r["p90_ci_ms"][0] <= r["p90_ms"] <= r["p90_ci_ms"][1]
        assert r["accuracy"] >= 0.95 and 0.98 <= r["agreement"] <= 1.0 and r["peak_rss_bytes"] > 0
    # A delegate that ran nothing shows up as such: XNNPACK-off rows delegate 0 nodes.
    assert rows["digits/tflite-int8/builtin/t1"]["coverage"]["delegated"] == 0
    on = rows["digits/tflite-int8/xnnpack/t1"]["coverage"]
    assert 0 < on["delegated"] < on["nodes"] and on["fallback_ops"]
    assert rows["digits/onnx-int8/cpu/t1"]["coverage"]["by_provider"] == {"CPUExecutionProvider":
                                                                          rows["digits/onnx-int8/cpu/t1"]["coverage"]["nodes"]}


def test_openvino_rows_are_measured_with_accuracy_and_agreement(report):
    """OpenVINO reads the bundle's TFLite and ONNX files itself; its rows sit beside the others."""
    pytest.importorskip("openvino")
    rows = {r["config"]["id"]: r for r in report[0]["rows"]}
    for fmt in ("tflite-int8", "tflite-fp32", "onnx-int8", "onnx-fp32"):
        r = rows[f"digits/{fmt}/openvino-cpu/t1"]
        assert r["status"] == "ok", r
        assert r["runtime"].startswith("openvino") and r["accuracy"] >= 0.95 and r["agreement"] >= 0.98


@pytest.mark.slow
def test_openvino_on_the_mask_bundle():
    pytest.importorskip("openvino")
    proc = run_cli("edge-bench", "mask", "--formats", "tflite-int8", "onnx-int8", "tflite-fp32", *FAST, "--json",
                   timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = {r["config"]["id"]: r for r in json.loads(proc.stdout)["rows"]}
    ov = [rows[f"mask/{fmt}/openvino-cpu/t1"] for fmt in ("tflite-int8", "onnx-int8")]
    for r, ref in zip(ov, (rows["mask/tflite-int8/xnnpack/t1"], rows["mask/onnx-int8/cpu/t1"])):
        assert r["status"] == "ok" and abs(r["accuracy"] - ref["accuracy"]) <= 0.03 and r["agreement"] >= 0.95


def test_per_op_time_from_the_profilers_and_honest_where_there_is_none(report):
    rows = {r["config"]["id"]: r for r in report[0]["rows"] if r["status"] == "ok"}
    ort = rows["digits/onnx-int8/cpu/t1"]["per_op"]
    assert ort["available"] and ort["source"].startswith("onnxruntime") and ort["nodes"] > 5
    assert 0.99 <= sum(o["share"] for o in ort["top_ops"]) + 1e-9 or len(ort["top_ops"]) == 8
    assert ort["top_ops"][0]["share"] >= ort["top_ops"][-1]["share"] and ort["top_nodes"][0]["where"] == \
        "CPUExecutionProvider"
    tfl = rows["digits/tflite-int8/xnnpack/t1"]["per_op"]
    assert tfl["available"] is False and "not exposed by this runtime" in tfl["reason"]
    assert tfl["partitions"]["delegate_partitions"] >= 1 and tfl["partitions"]["cpu_ops"]
    if "digits/onnx-int8/openvino-cpu/t1" in rows:
        assert rows["digits/onnx-int8/openvino-cpu/t1"]["per_op"]["top_ops"][0]["ms"] > 0
    assert "## Per-op time" in (report[1] / "report.md").read_text()


def test_recommendation_is_the_fastest_row_within_budget(report):
    data = report[0]
    rec = data["recommendation"][0]
    ok = [r for r in data["rows"] if r["status"] == "ok"]
    ref = max(r["accuracy"] for r in ok if r["config"]["format"] == "tflite-fp32")
    within = [r for r in ok if (ref - r["accuracy"]) * 100 <= 0.5]
    fastest = min(within, key=lambda r: r["p50_ms"])
    if "indistinguishable" in rec:  # a tie in speed is broken by size, then memory, and said so
        assert fastest["config"]["id"] in rec["indistinguishable"] and "indistinguishable" in rec["why"]
        tied = [r for r in within if r["config"]["id"] in rec["indistinguishable"]]
        best = min(tied, key=lambda r: (r["size_bytes"], r["peak_rss_bytes"], r["p50_ms"]))
        assert rec["pick"] == best["config"]["id"]
    else:
        assert rec["pick"] == fastest["config"]["id"]
    assert rec["runner_up"]["id"] != rec["pick"] and "runner-up" in rec["why"]


def test_recommend_rules_out_fast_rows_that_lose_accuracy():
    def row(i, fmt, p50, acc):
        return {"status": "ok", "p50_ms": p50, "accuracy": acc,
                "config": {"id": i, "label": "m", "format": fmt, "backend": "tflite"}}
    rows = [row("fp32", "tflite-fp32", 3.2, 0.95), row("int8", "tflite-int8", 1.0, 0.90),
            row("fp16", "tflite-fp16", 3.0, 0.949)]
    rec = recommend(rows, 0.5)[0]
    assert rec["pick"] == "fp16" and rec["excluded_faster"][0]["id"] == "int8"
    assert rec["runner_up"]["id"] == "fp32"


def test_recommend_breaks_a_statistical_tie_by_size_then_memory():
    def row(i, p50, ci, size, rss):
        return {"status": "ok", "p50_ms": p50, "p50_ci_ms": ci, "accuracy": 0.95, "size_bytes": size,
                "peak_rss_bytes": rss, "config": {"id": i, "label": "m", "format": "tflite-int8", "backend": "tflite"}}
    ref = {**row("ref", 3.0, [2.9, 3.1], 9, 9), "config": {"id": "ref", "label": "m", "format": "tflite-fp32",
                                                          "backend": "tflite"}}
    tied = [ref, row("a", 1.00, [0.98, 1.03], 900, 50), row("b", 1.01, [0.99, 1.02], 300, 60),
            row("c", 1.02, [1.00, 1.04], 300, 40)]
    rec = recommend(tied, 0.5)[0]
    assert rec["pick"] == "c" and set(rec["indistinguishable"]) == {"a", "b", "c"}
    assert "indistinguishable" in rec["why"] and "file size" in rec["why"]
    apart = [ref, row("a", 1.00, [0.98, 1.01], 900, 50), row("b", 1.10, [1.08, 1.12], 300, 60)]
    rec = recommend(apart, 0.5)[0]
    assert rec["pick"] == "a" and "indistinguishable" not in rec and not rec["runner_up"]["indistinguishable"]
    # Stretched by the machine's range, the published intervals overlap; rows of one run moved together, so
    # the choice between them is made on their own intervals.
    stretched = [ref, {**apart[1], "p50_ci_ms": [0.93, 1.06], "p50_ci_own_ms": [0.98, 1.01]},
                 {**apart[2], "p50_ci_ms": [1.03, 1.17], "p50_ci_own_ms": [1.08, 1.12]}]
    rec = recommend(stretched, 0.5)[0]
    assert rec["pick"] == "a" and "indistinguishable" not in rec and not rec["runner_up"]["indistinguishable"]


def test_csv_markdown_and_html_are_written(report):
    _, out = report
    rows = list(csv.DictReader(io.StringIO((out / "report.csv").read_text())))
    assert any(r["id"] == "digits/tflite-int8/xnnpack/t1" and float(r["p50_ms"]) > 0 for r in rows)
    md = (out / "report.md").read_text()
    assert "| digits/tflite-int8/xnnpack/t1 |" in md and "Recommendation for digits" in md
    page = (out / "report.html").read_text()
    assert 'id="latency-plot"' in page and 'id="accuracy-plot"' in page and "<script" not in page
    assert 'id="telemetry-plot"' in page and 'class="p50-ci"' in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed")
def test_html_report_renders_in_headless_chromium(report, tmp_path):
    _, out = report
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(["chromium", *flags, "--dump-dom", (out / "report.html").as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-500:]
    assert dom.stdout.count("<circle") > 10 and "latency-plot" in dom.stdout and "accuracy-plot" in dom.stdout
    assert "telemetry-plot" in dom.stdout
    shot = tmp_path / "page.png"
    subprocess.run(["chromium", *flags, f"--screenshot={shot}", "--window-size=1200,1400",
                    (out / "report.html").as_uri()], capture_output=True, timeout=120, check=True)
    import cv2

    img = cv2.imread(str(shot))
    assert img is not None and img.std() > 5  # not a blank page


def test_baseline_gate(report, tmp_path):
    data, out = report
    assert compare(data, data, 10)["regressions"] == []
    fast = json.loads(json.dumps(data))
    for r in fast["rows"]:
        if r["status"] == "ok":
            r["p50_ms"] /= 1000
            r["p50_ci_ms"] = [v / 1000 for v in r["p50_ci_ms"]]
    result = compare(data, fast, 10)
    assert result["compared"] >= 5 and all("slower than baseline" in x for x in result["regressions"])
    assert len(compare(fast, data, 10)["faster_than_band"]) == result["compared"]
    (tmp_path / "old.json").write_text(json.dumps(fast))
    proc = run_cli("edge-bench", "digits", *FAST, "--formats", "tflite-int8", "--baseline", str(tmp_path / "old.json"))
    assert proc.returncode == 3 and "regression" in proc.stderr


def test_baseline_flags_only_separated_intervals():
    def rep(p50, ci):
        return {"rows": [{"status": "ok", "p50_ms": p50, "p50_ci_ms": ci, "config": {"id": "x"}}]}
    base = rep(1.0, [0.95, 1.05])
    assert compare(rep(1.2, [1.0, 1.4]), base, 10)["regressions"] == []  # +20 % but overlapping: not flagged
    assert compare(rep(1.2, [1.0, 1.4]), base, 10)["changes"][0]["note"].startswith("slower than the band")
    assert compare(rep(1.25, [1.17, 1.3]), base, 10)["regressions"]  # 1.17 > 1.05 x 1.1
    assert compare(rep(1.15, [1.12, 1.2]), base, 10)["regressions"] == []  # separate, but inside the band
    old_style = {"rows": [{"status": "ok", "p50_ms": 1.0, "config": {"id": "x"}}]}  # a report before intervals
    assert compare(rep(1.25, [1.17, 1.3]), old_style, 10)["regressions"]


def test_default_stopping_rule_interleaves_configurations_in_rounds():
    proc = run_cli("edge-bench", "digits", "--formats", "tflite-int8", "onnx-int8", "--threads", "1",
                   "--xnnpack-only", "--no-keras", "--budget-seconds", "2", "--warmup", "5", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    ok = [r for r in data["rows"] if r["status"] == "ok" and r["config"]["backend"] != "openvino"]
    assert len(ok) == 2 and data["settings"]["runs"] is None and "order-statistic" in data["settings"]["ci_method"]
    for r in ok:
        assert r["stopped_by"] in ("ci", "budget") and r["rounds"] >= 2 and r["replicas"] == 3
        assert r["runs"] >= 100 if r["stopped_by"] == "ci" else r["timed_s"] >= 2
        lo, hi = r["p50_ci_ms"]
        assert lo <= r["p50_ms"] <= hi
    (a0, a1), (b0, b1) = (r["timed_span"] for r in ok)
    assert a0 < b1 and b0 < a1  # the two were timed in the same stretch of time, round by round
    assert "stopped by" in proc.stderr


def test_bare_model_files_and_keras_reference(tmp_path):
    root = resolve("digits")
    proc = run_cli("edge-bench", str(root / "model_int8.tflite"), str(root / "model.keras"), "--runs", "5",
                   "--warmup", "1", "--threads", "1", "--xnnpack-only", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["config"]["id"]: r for r in json.loads(proc.stdout)["rows"]}
    assert rows["model_int8.tflite/tflite/xnnpack/t1"]["status"] == "ok"
    keras = rows["model.keras/keras/predict"]
    assert keras["status"] == "ok" and keras["runtime"].startswith("keras")


def test_cold_start_and_overhead_probes():
    r = cold_start("digits", runs=1)
    assert r["runs"] == 1 and r["median_total_s"] > 0 and r["tensorflow_imported"] is False
    o = overhead(blocks=2, runs=50)
    assert o["blocks"] == 2 and o["runs_per_block"] == 50 and o["format"] == "tflite-int8"
    # the ratio is the two medians' ratio, and the block ratios bracket the spread (no timing is asserted)
    assert o["ratio"] == pytest.approx(o["harness_p50_ms"] / o["bare_invoke_p50_ms"], abs=1e-3)
    assert o["block_ratio_p10"] <= o["block_ratio_p90"]
    assert o["overhead_pct"] == pytest.approx((o["ratio"] - 1) * 100, abs=0.02)


@pytest.mark.slow
def test_calibrate_sweep_covers_every_combination():
    proc = run_cli("edge-bench", "calibrate", "digits", "--sizes", "20", "--methods", "MinMax", "Entropy",
                   "--limit-eval", "100", "--runs", "10", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    combos = {(r["runtime"], r["method"], r["granularity"]) for r in result["rows"]}
    assert combos == {(rt, m, g) for g in ("per-channel", "per-tensor")
                      for rt, m in (("tflite", "MinMax"), ("onnx", "MinMax"), ("onnx", "Entropy"))}
    for r in result["rows"]:
        assert r["calibration_size"] == 20 and 0 < r["accuracy"] <= 1 and r["p50_ms"] > 0 and r["sqnr_db"] > 10
    assert result["eval_samples"] == 100 and result["best"] in result["rows"]


def test_batch_throughput_and_external_dataset(tmp_path):
    import numpy as np

    with np.load(resolve("digits") / "eval_sample.npz") as d:
        np.savez(tmp_path / "eval.npz", x=d["x"][:64], y=d["y"][:64])
    proc = run_cli("edge-bench", "digits", *FAST, "--xnnpack-only", "--formats", "tflite-int8", "onnx-int8",
                   "--batch", "8", "--dataset", str(tmp_path / "eval.npz"), "--json")
    assert proc.returncode == 0, proc.stderr
    ok = [r for r in json.loads(proc.stdout)["rows"] if r["status"] == "ok"]
    assert len(ok) == 4  # TFLite, ONNX Runtime and OpenVINO on each file
    for r in ok:
        assert r["eval_samples"] == 64 and r["throughput_ips"] > 0


def test_fingerprint_warns_about_governor_and_throttling():
    from benchmarks.fingerprint import fingerprint, warnings

    info = fingerprint()
    assert info["cores"] >= 1 and info["cpu_model"] and info["python"]
    w = warnings({"governor": "ondemand"}, {"throttled": "throttled=0x0"}, {"throttled": "throttled=0x50005"})
    assert any("'ondemand'" in x for x in w) and any("after the run" in x for x in w)
    assert warnings({"governor": "performance"}, {"throttled": "throttled=0x0"}, None) == []


def test_two_bundles_with_one_name_get_distinct_ids(tmp_path):
    """A model before and after a change share a manifest name; the report must still tell them apart."""
    from benchmarks.configs import build_matrix

    copy = tmp_path / "digits-v2" / "bundle"
    shutil.copytree(resolve("digits"), copy)
    configs = build_matrix(["digits", str(copy)], threads=[1], keras_reference=False, xnnpack_off=False)
    ids = [c.id for c in configs]
    assert len(ids) == len(set(ids))
    assert any("[digits-v2]" in i for i in ids) and any(not i.startswith(ids[0].split("/")[0] + "[") for i in ids)


def test_little_memory_keeps_fewer_configurations_live(monkeypatch):
    """On a 1 GB board not every worker can stay loaded: configurations join the rounds as others finish."""
    import benchmarks.rounds as rounds
    from benchmarks.configs import build_matrix
    from benchmarks.runner import Settings

    configs = [c for c in build_matrix(["digits"], threads=[1], keras_reference=False, xnnpack_off=False)
               if not c.skipped and c.backend == "tflite"]
    monkeypatch.setattr(rounds, "_mem_available", lambda: 1)  # no room: one at a time
    settings = Settings(runs=20, warmup=1)
    rows = rounds.run_rounds(configs, settings)
    assert settings.max_live == 1 and [r["status"] for r in rows] == ["ok"] * len(configs)
    spans = [r["timed_span"] for r in rows]
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # one after the other


def test_offline_scenario_times_whole_batches_and_reports_images_per_second():
    proc = run_cli("edge-bench", "digits", "--scenario", "offline", "--batch", "16", "--formats", "tflite-int8",
                   "onnx-int8", "--xnnpack-only", "--no-keras", "--runs", "20", "--warmup", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["settings"]["scenario"] == "offline" and data["settings"]["batch"] == 16
    ok = [r for r in data["rows"] if r["status"] == "ok"]
    assert ok and all(r["config"]["threads"] == ok[0]["config"]["threads"] for r in ok)  # all cores, one count
    for r in ok:
        assert r["scenario"] == "offline" and r["throughput_ips"] == pytest.approx(16000 / r["p50_ms"])
        lo, hi = r["throughput_ci_ips"]
        assert lo <= r["throughput_ips"] <= hi and r["accuracy"] >= 0.95


def test_back_to_back_runs_edge_bench_twice_and_checks_each_p50_against_the_others_interval(tmp_path):
    import sys

    proc = subprocess.run([sys.executable, "-m", "benchmarks.back_to_back", "--json", "--out", str(tmp_path), "--",
                           "digits", "--formats", "tflite-int8", "--threads", "1", "--xnnpack-only", "--no-keras",
                           "--runs", "30", "--warmup", "2"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    pair = result["pairs"][0]
    first, second = (json.loads((tmp_path / "pair-1" / n / "report.json").read_text()) for n in ("first", "second"))
    by_id = {r["config"]["id"]: r for r in second["rows"] if r["status"] == "ok"}
    assert [r["id"] for r in pair["watched"]] == ["digits/tflite-int8/xnnpack/t1"]
    for row in pair["rows"]:
        old = next(r for r in first["rows"] if r["config"]["id"] == row["id"])
        new = by_id[row["id"]]
        (a, b), (c, d) = old["p50_ci_ms"], new["p50_ci_ms"]
        assert row["mutual"] == (a <= new["p50_ms"] <= b and c <= old["p50_ms"] <= d)
    assert result["watched_rows"] == 1 and len(pair["reference_loop_p50_ms"]) == 2
    failed = subprocess.run([sys.executable, "-m", "benchmarks.back_to_back", "--out", str(tmp_path / "x"), "--",
                             "digits", "--formats", "no-such-format"], capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1 and failed.stderr.strip().splitlines()[-1].startswith("error: edge-bench digits")
