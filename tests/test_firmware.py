"""Device profiles and the files edge-flash renders from them (systemd-analyze checks the unit when present)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys

import pytest
import yaml

from edge.kiosk.config import ConfigError, load_config
from firmware_configs.profile import PROFILES_DIR, load_profile
from firmware_configs.render import render
from tests.conftest import error_lines, run_cli


@pytest.mark.parametrize("name", sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
def test_shipped_profiles_validate(name):
    proc = run_cli("edge-flash", "validate", name, "--json")
    assert proc.returncode == 0, proc.stderr and json.loads(proc.stdout)["valid"]


def test_profile_errors_name_their_line(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("board: rpi4\nhostname: Bad_Name\ncamera:\n  kind: csi\n  fps: 30\nkiosk:\n  threads: 0\n")
    with pytest.raises(ConfigError) as err:
        load_profile(bad)
    text = str(err.value)
    assert f"{bad}:2: hostname" in text and f"{bad}:5: camera.fps: unknown key" in text and f"{bad}:7: kiosk.threads" \
        in text
    proc = run_cli("edge-flash", "validate", str(bad))
    assert proc.returncode == 1 and len(error_lines(proc, "edge-flash")) == 1


def test_render_writes_a_first_boot_kiosk(tmp_path):
    profile = load_profile("rpi4-kiosk").model_copy(update={"venv": sys.prefix})
    profile = profile.model_copy(update={"network": profile.network.model_copy(update={"wifi_ssid": "door"})})
    with pytest.raises(Exception, match="EDGESIGHT_WIFI_PSK"):
        render(profile, "rpi4-kiosk", tmp_path / "nopsk", environ={})
    files = render(profile, "rpi4-kiosk", tmp_path, environ={"EDGESIGHT_WIFI_PSK": "s3cret-psk"})
    assert set(files) == {"config.txt", "user-data", "network-config", "edgesight-kiosk.service", "kiosk.yaml",
                          "meta-data"}
    user_data = files["user-data"].read_text()
    assert user_data.startswith("#cloud-config") and "s3cret-psk" not in user_data
    doc = yaml.safe_load(user_data)
    assert "python3-picamera2" in doc["packages"] and "--system-site-packages" in doc["runcmd"][0]
    kiosk = base64.b64decode(doc["write_files"][0]["content"]).decode()
    assert kiosk == files["kiosk.yaml"].read_text()
    cfg = load_config(files["kiosk.yaml"])
    assert cfg.source == "picamera2" and cfg.outputs.gpio.enabled and cfg.outputs.http.host == "127.0.0.1"
    net = yaml.safe_load(files["network-config"].read_text())
    assert net["wifis"]["wlan0"]["access-points"]["door"]["password"] == "s3cret-psk"
    unit = files["edgesight-kiosk.service"].read_text()
    for line in ("Type=notify", "WatchdogSec=30", "Restart=on-failure", "NoNewPrivileges=true", "PrivateTmp=true",
                 "ProtectSystem=strict", "DevicePolicy=closed"):
        assert line in unit
    assert "gpu_mem=128" in files["config.txt"].read_text()
    if shutil.which("systemd-analyze"):
        proc = subprocess.run(["systemd-analyze", "verify", str(files["edgesight-kiosk.service"])],
                              capture_output=True, text=True)
        assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def test_coral_profile_gets_udev_rules(tmp_path):
    profile = load_profile("rpi5-kiosk").model_copy(update={"accelerator": "coral-usb"})
    files = render(profile, "rpi5-kiosk", tmp_path, environ={})
    assert "1a6e" in files["99-edgesight-coral.rules"].read_text()
    assert "plugdev" in files["edgesight-kiosk.service"].read_text()
