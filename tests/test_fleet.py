"""The fleet's Prometheus config, alert rules and Grafana dashboard: promtool (Debian's prometheus package)
checks and unit-tests them, and a real Prometheus scrapes a running kiosk with its token."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest
import yaml

from tests.conftest import run_cli
from tests.services import Kiosk, Prometheus, free_port, need, wait_until

LABELS = 'device="door-1", fleet="edgesight", instance="door-1:8080", job="edgesight"'


def _fleet(tmp_path, *args: str) -> dict:
    proc = run_cli("edge-flash", "fleet", "--out", str(tmp_path / "fleet"), "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_rules_and_dashboard_use_only_the_metrics_the_kiosk_serves():
    from edge.errors import EdgeSightError
    from edge.outputs.base import KioskStats
    from edge.outputs.metrics import METRIC_NAMES, metrics_text
    from firmware_configs.fleet import _m, alert_rules, dashboard_exprs, grafana_dashboard

    served = set(re.findall(r"^# TYPE (\S+)", metrics_text(KioskStats()), re.M))
    assert served == METRIC_NAMES  # the table is what /metrics serves
    exprs = [r["expr"] for r in alert_rules()["groups"][0]["rules"]] + dashboard_exprs(grafana_dashboard())
    used = {n for e in exprs for n in re.findall(r"\bedgesight_[a-z_]+", e)}
    assert used <= METRIC_NAMES and len(used) >= 10
    with pytest.raises(EdgeSightError, match="not a metric the kiosk serves"):
        _m("edgesight_frames")


def test_promtool_accepts_the_config_and_the_rules_fire_as_meant(tmp_path):
    promtool = need("promtool", "prometheus")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tokens / "door-2.token").write_text("t" * 43 + "\n")
    out = tmp_path / "fleet"
    result = _fleet(tmp_path, "--target", "door-1=10.0.0.1:8080", "--target", "door-2.local", "--tokens", str(tokens),
                    "--credentials-dir", str(out / "tokens"), "--fps-floor", "8")
    assert result["kiosks"] == ["door-1", "door-2"] and result["with_token"] == ["door-2"]
    assert (out / "tokens" / "door-2.token").stat().st_mode & 0o777 == 0o600
    for kind, name in (("config", "prometheus.yml"), ("rules", "edgesight-rules.yml")):
        proc = subprocess.run([promtool, "check", kind, str(out / name)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    jobs = yaml.safe_load((out / "prometheus.yml").read_text())["scrape_configs"]
    assert [j["job_name"] for j in jobs] == ["edgesight", "edgesight-door-2"]
    assert jobs[1]["authorization"]["credentials_file"] == str(out / "tokens" / "door-2.token")

    # promtool's rule unit tests: the alerts fire when they should, and not before
    series = {"up": "1 1 0 0 0 0 0 0 0 0", "edgesight_camera_up": "1 1 1 1 0 0 0 0 0 0",
              "edgesight_fps": "15 15 15 15 0 0 0 0 0 0",
              "edgesight_start_time_seconds": "100 100 100 100 100 100 200 200 300 300"}
    tests = {"rule_files": [str(out / "edgesight-rules.yml")], "evaluation_interval": "30s", "tests": [{
        "interval": "30s",
        "input_series": [{"series": f"{name}{{{LABELS}}}", "values": values} for name, values in series.items()],
        "alert_rule_test": [
            {"eval_time": "1m", "alertname": "EdgesightKioskDown", "exp_alerts": []},
            {"eval_time": "2m", "alertname": "EdgesightKioskDown", "exp_alerts": [_alert("critical", {
                "summary": "Kiosk door-1 is down", "description": "Prometheus has not reached door-1:8080 for a "
                "minute (powered off, network, or the service stopped)."})]},
            {"eval_time": "2m30s", "alertname": "EdgesightCameraUnavailable", "exp_alerts": []},  # 30 s: not yet
            {"eval_time": "3m", "alertname": "EdgesightCameraUnavailable", "exp_alerts": [_alert("critical", {
                "summary": "Camera unavailable on door-1", "description": "The kiosk has had no frames from its "
                "camera for over a minute; it keeps reconnecting."})]},
            {"eval_time": "4m", "alertname": "EdgesightFpsLow", "exp_alerts": []},  # low FPS with the camera down
            {"eval_time": "4m", "alertname": "EdgesightWatchdogRestarts", "exp_alerts": [_alert("warning", {
                "summary": "door-1 restarted 2 times in 30 minutes", "description": "The kiosk process keeps "
                "starting again: the systemd watchdog (a hung loop) or a crash (journalctl -u edgesight-kiosk)."})]},
        ]}]}
    (tmp_path / "rules-test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    proc = subprocess.run([promtool, "test", "rules", str(tmp_path / "rules-test.yml")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _alert(severity: str, annotations: dict) -> dict:
    labels = dict(kv.replace('"', "").split("=") for kv in LABELS.split(", "))
    return {"exp_labels": {**labels, "severity": severity}, "exp_annotations": annotations}


def test_a_real_prometheus_scrapes_a_running_kiosk_with_its_token(tmp_path):
    need("prometheus", "prometheus")
    port = free_port()
    tokens = tmp_path / "tokens"
    tokens.mkdir(mode=0o700)
    token = "fleet-" + "k" * 40
    (tokens / "door-1.token").write_text(token + "\n")
    (tokens / "door-1.token").chmod(0o600)
    kiosk = Kiosk(tmp_path, {"outputs": {"jsonl": {"enabled": False}, "sqlite": {"path": str(tmp_path / "ev.db")},
                                         "http": {"enabled": True, "host": "0.0.0.0", "port": port,
                                                  "token_file": str(tokens / "door-1.token")}}})
    out = tmp_path / "fleet"
    _fleet(tmp_path, "--target", f"door-1=127.0.0.1:{port}", "--target", f"tokenless=127.0.0.1:{port}", "--tokens",
           str(tokens), "--credentials-dir", str(out / "tokens"), "--rules-path", str(out / "edgesight-rules.yml"),
           "--scrape-interval", "1s")
    prom = None
    try:
        kiosk.wait_healthy(port)
        prom = Prometheus(tmp_path, out / "prometheus.yml")

        def value(query: str) -> float | None:
            result = prom.api(f"/api/v1/query?query={query}")["result"]
            return float(result[0]["value"][1]) if result else None

        wait_until(lambda: (value('edgesight_frames_total{device="door-1"}') or 0) > 0, 60, "a scraped frame count")
        assert value('up{device="door-1"}') == 1
        wait_until(lambda: value('up{device="tokenless"}') is not None, 30, "the tokenless job's first scrape")
        assert value('up{device="tokenless"}') == 0  # the same kiosk without the token: 401, so down
        first = value('edgesight_frames_total{device="door-1"}')
        time.sleep(2.5)
        assert value('edgesight_frames_total{device="door-1"}') > first  # live numbers, not a one-off
        assert value('edgesight_camera_up{device="door-1"}') == 1

        def rules_evaluated() -> list | None:
            rules = prom.api("/api/v1/rules")["groups"][0]["rules"]
            return rules if all(r["health"] == "ok" for r in rules) else None

        rules = wait_until(rules_evaluated, 30, "every rule evaluated without error")
        assert {r["name"] for r in rules} >= {"EdgesightKioskDown", "EdgesightCameraUnavailable",
                                              "EdgesightEventLogDegraded", "EdgesightFpsLow",
                                              "EdgesightWatchdogRestarts"}
        firing = {r["name"] for r in rules if r["state"] != "inactive"}
        assert "EdgesightCameraUnavailable" not in firing and "EdgesightKioskDown" in firing  # tokenless is down
        dashboard = json.loads((out / "grafana-dashboard.json").read_text())
        from urllib.parse import quote

        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                expr = target["expr"].replace("$device", ".*")
                prom.api(f"/api/v1/query?query={quote(expr)}")  # every panel's query is valid PromQL
        names = set(prom.api("/api/v1/label/__name__/values"))
        assert {"edgesight_fps", "edgesight_stage_latency_ms", "edgesight_start_time_seconds"} <= names
    finally:
        if prom is not None:
            prom.stop()
        kiosk.stop()
