"""Hostile inputs through the real runtimes, each in a child process: no crash, no hang, one-line rejections."""

from __future__ import annotations

import json

from tests.conftest import run_cli


def test_reliability_benchmark_finds_no_crash_or_hang(tmp_path):
    proc = run_cli("edge-bench", "reliability", "--per-model", "14", "--http-requests", "800", "--out",
                   str(tmp_path), "--json", timeout=900)
    r = json.loads(proc.stdout)
    assert proc.returncode == 0, r["problems"]
    assert r["models_tried"] >= 4 * 14 and r["images_tried"] >= 20
    assert r["crashes"] == r["hangs"] == r["unclean"] == 0
    assert r["configs_rejected"] == r["configs_tried"]
    assert r["model_outcomes"]["rejected"] > r["models_tried"] // 2
    images = {x["file"]: x for x in r["results"]["images"]}
    assert images["bomb-65535x65535.png"]["outcome"] == "rejected" and "pixel limit" in images[
        "bomb-65535x65535.png"]["error"]
    assert images["sixteen-bit.png"]["outcome"] == images["rgba.png"]["outcome"] == "accepted"
    assert r["http"]["alive_after"] and set(r["http"]["statuses"]) <= {"200", "503", "404"}
    assert "| models tried |" in (tmp_path / "reliability.md").read_text()
