"""A fleet on one screen: the Prometheus scrape config, alert rules and a Grafana dashboard for a set of kiosks.

Every metric name comes from edge.outputs.metrics.METRICS, the table the kiosk's /metrics is rendered from;
`_m` refuses a name that is not in it, so a renamed metric breaks generation here (and its test) instead of
leaving a silent rule or an empty panel in the field.
"""

from __future__ import annotations

import configparser
import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from edge.errors import EdgeSightError
from edge.outputs.metrics import METRIC_NAMES, METRICS

FLEET = 'fleet="edgesight"'


def _m(name: str) -> str:
    if name not in METRIC_NAMES:
        raise EdgeSightError(f"{name} is not a metric the kiosk serves ({', '.join(sorted(METRIC_NAMES))})")
    return name


@dataclass(frozen=True)
class Target:
    device: str  # the `device` label: the kiosk's hostname
    address: str  # host:port Prometheus scrapes
    token: Path | None = None  # the operator's copy of the device's HTTP token (edge-flash render keeps it)


def parse_target(spec: str, port: int = 8080) -> Target:
    """host, host:port, or device=host:port."""
    device, _, address = spec.rpartition("=")
    host = address.rsplit(":", 1)[0] if ":" in address else address
    if not re.fullmatch(r"[A-Za-z0-9.-]+(:\d{1,5})?", address):
        raise EdgeSightError(f"--target {spec!r}: expected host, host:port or device=host:port")
    return Target(device or host.split(".")[0], address if ":" in address else f"{address}:{port}")


def inventory_targets(path: Path, group: str = "kiosks", port: int = 8080) -> list[Target]:
    """The hosts of an Ansible INI inventory's group (firmware_configs/ansible/inventory.example.ini)."""
    parser = configparser.ConfigParser(allow_no_value=True, delimiters=("=",), strict=False)
    parser.optionxform = str
    try:
        parser.read_string(path.read_text())
    except (OSError, configparser.Error) as exc:
        raise EdgeSightError(f"{path}: not a readable INI inventory ({exc})") from exc
    if not parser.has_section(group):
        raise EdgeSightError(f"{path}: no [{group}] group")
    targets = []
    for line in parser.options(group):
        host, *pairs = line.split()
        hostvars = dict(p.split("=", 1) for p in pairs if "=" in p)
        address = hostvars.get("ansible_host", host)
        targets.append(Target(host.split(".")[0], f"{address}:{hostvars.get('edgesight_http_port', port)}"))
    return targets


def with_tokens(targets: list[Target], tokens_dir: Path | None) -> list[Target]:
    if tokens_dir is None:
        return targets
    return [Target(t.device, t.address, tokens_dir / f"{t.device}.token" if (tokens_dir / f"{t.device}.token")
                   .is_file() else None) for t in targets]


def scrape_config(targets: list[Target], rules_path: str, credentials_dir: str, interval: str = "15s") -> dict:
    """One job per kiosk with a token (Prometheus sets credentials per job), one shared job for the rest."""
    jobs, open_targets = [], []
    for t in targets:
        static = {"targets": [t.address], "labels": {"fleet": "edgesight", "device": t.device}}
        if t.token is None:
            open_targets.append(static)
            continue
        jobs.append({"job_name": f"edgesight-{t.device}", "metrics_path": "/metrics",
                     "authorization": {"type": "Bearer", "credentials_file": f"{credentials_dir}/{t.device}.token"},
                     "static_configs": [static]})
    if open_targets:
        jobs.insert(0, {"job_name": "edgesight", "metrics_path": "/metrics", "static_configs": open_targets})
    return {"global": {"scrape_interval": interval, "evaluation_interval": interval}, "rule_files": [rules_path],
            "scrape_configs": jobs}


def _rule(name: str, expr: str, for_: str, severity: str, summary: str, description: str) -> dict:
    return {"alert": name, "expr": expr, "for": for_, "labels": {"severity": severity},
            "annotations": {"summary": summary, "description": description}}


def alert_rules(fps_floor: float = 5.0, stall_s: int = 30, restarts: int = 2, backlog: int = 100) -> dict:
    camera_up = f"on(instance) {_m('edgesight_camera_up')} == 1"
    rules = [
        _rule("EdgesightKioskDown", f"up{{{FLEET}}} == 0", "1m", "critical", "Kiosk {{ $labels.device }} is down",
              "Prometheus has not reached {{ $labels.instance }} for a minute (powered off, network, or the "
              "service stopped)."),
        _rule("EdgesightCameraUnavailable", f"{_m('edgesight_camera_up')} == 0", "1m", "critical",
              "Camera unavailable on {{ $labels.device }}",
              "The kiosk has had no frames from its camera for over a minute; it keeps reconnecting."),
        _rule("EdgesightEventLogDegraded", f"{_m('edgesight_event_log_up')} == 0", "1m", "warning",
              "Event log degraded on {{ $labels.device }}",
              "Writes to the SQLite event log fail (full or read-only card); rows wait in memory."),
        _rule("EdgesightFpsLow", f"{_m('edgesight_fps')} < {fps_floor} and {camera_up}", "5m", "warning",
              "{{ $labels.device }} runs at {{ $value | printf \"%.1f\" }} FPS",
              f"Below the floor of {fps_floor} FPS for 5 minutes with the camera up (thermal throttling, "
              "another process, a slower model)."),
        _rule("EdgesightFrameLoopStalled", f"time() - {_m('edgesight_last_frame_timestamp_seconds')} > {stall_s} and "
              f"{camera_up}", "1m", "critical", "Frame loop stalled on {{ $labels.device }}",
              f"No frame processed for over {stall_s} s while the camera says ok; systemd's watchdog should "
              "restart it."),
        _rule("EdgesightWatchdogRestarts", f"changes({_m('edgesight_start_time_seconds')}[30m]) >= {restarts}", "0m",
              "warning", "{{ $labels.device }} restarted {{ $value }} times in 30 minutes",
              "The kiosk process keeps starting again: the systemd watchdog (a hung loop) or a crash "
              "(journalctl -u edgesight-kiosk)."),
        _rule("EdgesightMqttBacklog", f"{_m('edgesight_mqtt_backlog')} > {backlog}", "10m", "warning",
              "{{ $labels.device }} has {{ $value }} MQTT events waiting",
              "The broker has been unreachable for a while; events wait in the kiosk's outbox, none are lost."),
    ]
    return {"groups": [{"name": "edgesight", "rules": rules}]}


def _panel(pid: int, title: str, kind: str, exprs: list[tuple[str, str]], unit: str, grid: tuple[int, int, int, int],
           **options) -> dict:
    x, y, w, h = grid
    return {"id": pid, "type": kind, "title": title, "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "fieldConfig": {"defaults": {"unit": unit, **options.pop("defaults", {})}, "overrides": []},
            "options": options, "targets": [{"refId": chr(65 + i), "expr": e, "legendFormat": legend}
                                            for i, (e, legend) in enumerate(exprs)]}


def _unit(name: str) -> str:
    return next(m.unit for m in METRICS if m.name == _m(name)) or "short"


def grafana_dashboard(fps_floor: float = 5.0) -> dict:
    sel = '{device=~"$device"}'
    up_colors = {"mappings": [{"type": "value", "options": {"0": {"text": "down", "color": "red"},
                                                            "1": {"text": "up", "color": "green"}}}]}
    panels = [
        _panel(1, "Kiosk reachable", "stat", [(f'up{{{FLEET},device=~"$device"}}', "{{device}}")], "none",
               (0, 0, 6, 4), defaults=up_colors),
        _panel(2, "Camera", "stat", [(f"{_m('edgesight_camera_up')}{sel}", "{{device}}")], "none", (6, 0, 6, 4),
               defaults=up_colors),
        _panel(3, "Event log", "stat", [(f"{_m('edgesight_event_log_up')}{sel}", "{{device}}")], "none",
               (12, 0, 6, 4), defaults=up_colors),
        _panel(4, "Restarts (24 h)", "stat", [(f"changes({_m('edgesight_start_time_seconds')}{sel}[24h])",
                                              "{{device}}")], "short", (18, 0, 6, 4)),
        _panel(5, "FPS", "timeseries", [(f"{_m('edgesight_fps')}{sel}", "{{device}}")], _unit("edgesight_fps"),
               (0, 4, 12, 8), defaults={"custom": {"thresholdsStyle": {"mode": "line"}}, "thresholds": {
                   "mode": "absolute", "steps": [{"color": "red", "value": None},
                                                 {"color": "green", "value": fps_floor}]}}),
        _panel(6, "People per hour", "timeseries",
               [(f"sum by (verdict) (increase({_m('edgesight_people_total')}{sel}[1h]))", "{{verdict}}")], "short",
               (12, 4, 12, 8)),
        _panel(7, "Time per stage (median)", "timeseries",
               [(f"{_m('edgesight_stage_latency_ms')}{sel}", "{{device}} {{stage}}")],
               _unit("edgesight_stage_latency_ms"), (0, 12, 12, 8)),
        _panel(8, "Frame latency p90", "timeseries",
               [(f'{_m("edgesight_frame_latency_ms")}{{device=~"$device",quantile="0.9"}}', "{{device}}")],
               _unit("edgesight_frame_latency_ms"), (12, 12, 12, 8)),
        _panel(9, "MQTT backlog", "timeseries", [(f"{_m('edgesight_mqtt_backlog')}{sel}", "{{device}}")], "short",
               (0, 20, 12, 8)),
        _panel(10, "Alerts per hour", "timeseries",
               [(f"sum by (label) (increase({_m('edgesight_alerts_total')}{sel}[1h]))", "{{label}}")], "short",
               (12, 20, 12, 8)),
    ]
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource", "pluginId": "prometheus",
                      "pluginName": "Prometheus"}],
        "title": "EdgeSight fleet", "uid": "edgesight-fleet", "tags": ["edgesight"], "timezone": "browser",
        "schemaVersion": 39, "version": 1, "refresh": "30s", "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{"name": "device", "label": "kiosk", "type": "query", "multi": True,
                                 "includeAll": True, "allValue": ".*", "refresh": 2,
                                 "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
                                 "query": f"label_values({_m('edgesight_frames_total')}, device)",
                                 "definition": f"label_values({_m('edgesight_frames_total')}, device)"}]},
        "panels": panels}


def dashboard_exprs(dashboard: dict) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def write_fleet(out: Path, targets: list[Target], fps_floor: float = 5.0, interval: str = "15s",
                rules_path: str = "edgesight-rules.yml", credentials_dir: str = "/etc/prometheus/edgesight") -> dict:
    """prometheus.yml, edgesight-rules.yml, grafana-dashboard.json and tokens/ (copies, mode 0600) in `out`."""
    if not targets:
        raise EdgeSightError("no kiosks: give --target HOST[:PORT], --inventory FILE or --profile NAME")
    out.mkdir(parents=True, exist_ok=True)
    files = {"prometheus.yml": yaml.safe_dump(scrape_config(targets, rules_path, credentials_dir, interval),
                                              sort_keys=False),
             "edgesight-rules.yml": yaml.safe_dump(alert_rules(fps_floor), sort_keys=False),
             "grafana-dashboard.json": json.dumps(grafana_dashboard(fps_floor), indent=2) + "\n"}
    written = {}
    for name, text in files.items():
        (out / name).write_text(text)
        written[name] = out / name
    from edge.outputs.access import write_token

    for t in targets:
        if t.token is not None:
            write_token(out / "tokens" / f"{t.device}.token", t.token.read_text().strip())
            written[f"tokens/{t.device}.token"] = out / "tokens" / f"{t.device}.token"
    return written
