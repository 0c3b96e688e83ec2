"""The many-devices bench playbook, run for real: two inventory names on localhost (connection local) with
different settings, each running edge-bench, reports fetched, `edge-bench compare` rendering them, and the
compare page opened in headless Chromium with its plots."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import BIN, REPO

PLAYBOOK = REPO / "firmware_configs/ansible/bench.yml"
pytestmark = pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-core not installed ([dev])")


def _env() -> dict:
    return {**os.environ, "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0", "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}


def test_bench_playbook_syntax_and_lint():
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(PLAYBOOK), "--syntax-check"],
                          capture_output=True, text=True, env=_env(), cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if (BIN / "ansible-lint").exists():
        lint = subprocess.run([str(BIN / "ansible-lint"), str(PLAYBOOK)], capture_output=True, text=True,
                              cwd=REPO / "firmware_configs/ansible", timeout=300)
        assert lint.returncode == 0, lint.stdout + lint.stderr


def test_bench_playbook_runs_two_devices_and_compares_them(tmp_path):
    py = sys.executable
    pythonpath = os.environ.get("PYTHONPATH", "")
    env = {"PYTHONPATH": f"{REPO}:{pythonpath}" if pythonpath else str(REPO)}
    inventory = tmp_path / "inventory.yml"
    common = {"ansible_connection": "local", "ansible_python_interpreter": py}
    # Two "devices" on this machine with different settings: one pinned to a single core, one not.
    inventory.write_text(json.dumps({"bench": {"hosts": {
        "pinned": {**common, "edgesight_bench_prefix": ["taskset", "-c", "0"]}, "free": common}}}))
    reports = tmp_path / "reports"
    extra = {"edgesight_bench_hosts": "bench", "edgesight_bench_command": [py, "-m", "benchmarks.cli"],
             "edgesight_bench_args": ["digits", "--formats", "tflite-int8", "--threads", "1", "--xnnpack-only",
                                      "--no-keras", "--runs", "60", "--warmup", "2"],
             "edgesight_bench_environment": env, "edgesight_bench_remote_dir": str(tmp_path / "remote"),
             "edgesight_bench_reports": str(reports), "edgesight_bench_reference": "free",
             "edgesight_bench_compare_command": [py, "-m", "benchmarks.cli", "compare"]}
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOK), "-e",
                           json.dumps(extra)], capture_output=True, text=True, env=_env(), cwd=REPO, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    for host in ("pinned", "free"):
        report = json.loads((reports / host / "report.json").read_text())
        assert report["tool"] == "edge-bench" and any(r["status"] == "ok" for r in report["rows"])
    pinned = json.loads((reports / "pinned" / "report.json").read_text())
    assert pinned["device"]["usable_cores"] == 1  # the setting really differed
    result = json.loads((reports / "compare" / "compare.json").read_text())
    assert [d["name"] for d in result["devices"]] == ["pinned", "free"] and result["reference"] == "free"
    entry = next(e for e in result["entries"] if e["id"] == "digits/tflite-int8/xnnpack/t1")
    assert entry["devices"]["free"]["speedup_vs_reference"] == 1.0
    assert entry["devices"]["pinned"]["p50_ci_ms"][0] <= entry["devices"]["pinned"]["p50_ms"]
    assert entry["devices"]["pinned"]["accuracy"] == entry["devices"]["free"]["accuracy"]
    assert "| digits/tflite-int8/xnnpack/t1 |" in (reports / "compare" / "compare.md").read_text()
    assert "pinned" in (reports / "compare" / "compare.csv").read_text()
    _opens_in_chromium(reports / "compare" / "compare.html", tmp_path)


def _opens_in_chromium(page, tmp_path):
    from tests.browser import Browser, chromium

    if chromium() is None:
        pytest.skip("Debian chromium not installed")
    browser = Browser(tmp_path / "profile")
    try:
        browser.goto(page.as_uri())
        bars = browser.wait_for("document.querySelectorAll('#compare-plot rect.bar').length")
        width = browser.evaluate("document.getElementById('compare-plot').getBoundingClientRect().width")
        dots = browser.evaluate("document.querySelectorAll('#compare-accuracy-plot circle').length")
        shot = browser.screenshot(tmp_path / "compare.png")
    finally:
        browser.close()
    import cv2

    img = cv2.imread(str(shot))
    assert bars >= 2 and width > 100 and dots >= 2 and img is not None and img.std() > 5
