"""Device profiles and the files edge-flash renders from them (systemd-analyze checks the unit when present)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys

import pytest
import yaml

from edge.errors import EdgeSightError
from edge.kiosk.config import ConfigError, load_config
from firmware_configs.profile import PROFILES_DIR, load_profile
from firmware_configs.render import render
from tests.conftest import error_lines, require_tool, run_cli


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
    with pytest.raises(EdgeSightError, match="EDGESIGHT_WIFI_PSK"):
        render(profile, "rpi4-kiosk", tmp_path / "nopsk", environ={})
    files = render(profile, "rpi4-kiosk", tmp_path, environ={"EDGESIGHT_WIFI_PSK": "s3cret-psk"})
    assert {k for k in files if "/" not in k} == {"config.txt", "user-data", "network-config",
                                                  "edgesight-kiosk.service", "kiosk.yaml", "meta-data"}
    assert "edgesight/manifest.json" in files  # the wheelhouse (test_wheelhouse.py)
    user_data = files["user-data"].read_text()
    assert user_data.startswith("#cloud-config") and "s3cret-psk" not in user_data
    doc = yaml.safe_load(user_data)
    assert "packages" not in doc and "package_update" not in doc and "npm" not in user_data  # offline
    assert doc["runcmd"][0][:3] == ["python3", "/usr/local/lib/edgesight/firstboot.py", "install"]
    assert "--system-site-packages" in doc["runcmd"][0]  # the OS's python3-picamera2 for the CSI camera
    kiosk = base64.b64decode(doc["write_files"][0]["content"]).decode()
    assert kiosk == files["kiosk.yaml"].read_text()
    cfg = load_config(files["kiosk.yaml"])
    assert cfg.source == "picamera2" and cfg.outputs.gpio.enabled and cfg.outputs.http.host == "127.0.0.1"
    assert cfg.bundle == "/var/lib/edgesight/bundles/mask"  # the copy first boot checked against the manifest
    net = yaml.safe_load(files["network-config"].read_text())
    assert net["wifis"]["wlan0"]["access-points"]["door"]["password"] == "s3cret-psk"
    unit = files["edgesight-kiosk.service"].read_text()
    for line in ("Type=notify", "WatchdogSec=30", "Restart=on-failure", "NoNewPrivileges=true", "PrivateTmp=true",
                 "ProtectSystem=strict", "DevicePolicy=closed"):
        assert line in unit
    assert "gpu_mem=128" in files["config.txt"].read_text()
    require_tool("systemd-analyze")
    proc = subprocess.run(["systemd-analyze", "verify", str(files["edgesight-kiosk.service"])],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def test_coral_profile_gets_udev_rules(tmp_path):
    profile = load_profile("rpi5-kiosk").model_copy(update={"accelerator": "coral-usb"})
    files = render(profile, "rpi5-kiosk", tmp_path, environ={})
    assert "1a6e" in files["99-edgesight-coral.rules"].read_text()
    assert "plugdev" in files["edgesight-kiosk.service"].read_text()


def _disk_image(path, config_txt: str = "dtparam=audio=on\n", mib: int = 513) -> int:
    """A real disk image: an MBR with one FAT32 (0x0c) partition at 1 MiB, made with mkfs.vfat, like Raspberry Pi OS
    (whose bootfs is 512 MiB)."""
    import struct

    start, total = 2048, mib * 2048
    with open(path, "wb") as f:
        f.truncate(total * 512)
        mbr = bytearray(512)
        mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x0C, b"\0\0\0", start, total - start)
        mbr[510:512] = b"\x55\xaa"
        f.write(mbr)
    subprocess.run(["mkfs.vfat", "-F", "32", "--offset", str(start), "-n", "bootfs", str(path),
                    str((total - start) // 2)], check=True, capture_output=True)
    cfg = path.parent / "config.txt"
    cfg.write_text(config_txt)
    subprocess.run(["mcopy", "-i", f"{path}@@{start * 512}", str(cfg), "::/config.txt"], check=True)
    return start * 512


def test_write_into_a_real_disk_image_without_root(tmp_path):
    require_tool("mkfs.vfat", "mcopy")
    img = tmp_path / "raspios.img"
    offset = _disk_image(img)
    proc = run_cli("edge-flash", "write", "rpi4-kiosk", "--image", str(img), "--json")
    assert proc.returncode == 0, proc.stderr
    changes = json.loads(proc.stdout)["changes"]
    assert "created: user-data" in changes and "updated: config.txt" in changes
    read = subprocess.run(["mtype", "-i", f"{img}@@{offset}", "::/config.txt"], capture_output=True, text=True).stdout
    assert read.startswith("dtparam=audio=on") and "gpu_mem=128" in read and read.count("edgesight begin") == 1
    again = run_cli("edge-flash", "write", "rpi4-kiosk", "--image", str(img), "--json")
    assert all(c.startswith("unchanged") for c in json.loads(again.stdout)["changes"])  # idempotent
    unit = subprocess.run(["mtype", "-i", f"{img}@@{offset}", "::/edgesight-kiosk.service"], capture_output=True,
                          text=True).stdout
    assert "WatchdogSec=30" in unit
    manifest = json.loads(subprocess.run(["mtype", "-i", f"{img}@@{offset}", "::/edgesight/manifest.json"],
                                         capture_output=True, text=True).stdout)
    wheel = next(e for e in manifest["files"] if e["path"].startswith("wheels/numpy-"))
    data = subprocess.run(["mtype", "-i", f"{img}@@{offset}", f"::/edgesight/{wheel['path']}"],
                          capture_output=True).stdout
    assert hashlib.sha256(data).hexdigest() == wheel["sha256"] and len(data) == wheel["size_bytes"]


def test_write_says_when_the_wheelhouse_does_not_fit(tmp_path):
    require_tool("mkfs.vfat", "mcopy")
    img = tmp_path / "small.img"
    _disk_image(img, mib=80)
    proc = run_cli("edge-flash", "write", "rpi4-kiosk", "--image", str(img))
    assert proc.returncode == 1
    assert "the wheelhouse takes" in error_lines(proc, "edge-flash")[0] and "MB free" in proc.stderr


def test_write_refuses_foreign_files_unless_forced(tmp_path):
    boot = tmp_path / "bootfs"
    boot.mkdir()
    (boot / "config.txt").write_text("arm_64bit=1\n")
    (boot / "user-data").write_text("#cloud-config\nhostname: theirs\n")  # the OS image's own first-boot file
    proc = run_cli("edge-flash", "write", "rpi4-kiosk", "--boot", str(boot))
    assert proc.returncode == 1 and "--force" in error_lines(proc, "edge-flash")[0]
    assert "theirs" in (boot / "user-data").read_text()
    forced = run_cli("edge-flash", "write", "rpi4-kiosk", "--boot", str(boot), "--force")
    assert forced.returncode == 0 and "mask-kiosk-01" in (boot / "user-data").read_text()
    assert (boot / "config.txt").read_text().startswith("arm_64bit=1")


def test_jetson_gets_a_power_mode_unit(tmp_path):
    files = render(load_profile("jetson-orin-nano"), "jetson-orin-nano", tmp_path, environ={})
    unit = files["edgesight-jetson-clocks.service"].read_text()
    assert "nvpmodel -m 0" in unit and "jetson_clocks" in unit and "Before=edgesight-kiosk.service" in unit
    assert "picamera2" not in files["user-data"].read_text()  # a USB camera: no Pi camera stack


@pytest.mark.parametrize("keys", [[], ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBexample kiosk-admin"]])
def test_user_data_passes_cloud_inits_own_schema(tmp_path, keys):
    require_tool("cloud-init")
    profile = load_profile("rpi4-kiosk")
    profile = profile.model_copy(update={"user": profile.user.model_copy(update={"ssh_keys": keys})})
    files = render(profile, "rpi4-kiosk", tmp_path, environ={})
    proc = subprocess.run(["cloud-init", "schema", "--config-file", str(files["user-data"])], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_lan_kiosk_gets_its_own_token_never_in_the_profile(tmp_path):
    """token_file in the profile: a new token per device, the operator's copy 0600, the device's on the boot
    partition until first boot installs it (0600, the kiosk user's) where the kiosk config looks for it."""
    profile_path = tmp_path / "door.yaml"
    profile_path.write_text("board: rpi4\nhostname: door-lan-01\nkiosk:\n  outputs:\n    http: {enabled: true, host: "
                            "0.0.0.0, token_file: /etc/edgesight/http-token, live: {enabled: true}}\n")
    tokens = tmp_path / "tokens"
    proc = run_cli("edge-flash", "render", str(profile_path), "--out", str(tmp_path / "boot"), "--tokens", str(tokens),
                   "--json")
    assert proc.returncode == 0, proc.stderr
    files = {k: tmp_path / "boot" / k for k in json.loads(proc.stdout)["files"]}
    token = files["edgesight-http-token"].read_text().strip()
    operator = tokens / "door-lan-01.token"
    assert operator.read_text().strip() == token and len(token) >= 40
    assert operator.stat().st_mode & 0o777 == 0o600 and tokens.stat().st_mode & 0o777 == 0o700
    assert token not in profile_path.read_text() and token not in files["user-data"].read_text()
    assert token not in files["kiosk.yaml"].read_text()
    doc = yaml.safe_load(files["user-data"].read_text())
    install = next(c for c in doc["runcmd"] if "edgesight-http-token" in str(c))
    assert "install -D -m 0600 -o edgesight -g edgesight" in install[2] and "/etc/edgesight/http-token" in install[2]
    assert doc["runcmd"].index(install) < doc["runcmd"].index(["systemctl", "enable", "--now",
                                                               "edgesight-kiosk.service"])
    cfg = load_config(files["kiosk.yaml"])
    assert cfg.outputs.http.token_file == "/etc/edgesight/http-token"
    assert cfg.outputs.mqtt.outbox_path.startswith("/var/lib/edgesight/")  # the home directory is read-only there
    again = run_cli("edge-flash", "render", str(profile_path), "--out", str(tmp_path / "again"), "--tokens",
                    str(tokens))
    assert again.returncode == 0 and (tmp_path / "again" / "edgesight-http-token").read_text().strip() == token
    require_tool("cloud-init")
    proc = subprocess.run(["cloud-init", "schema", "--config-file", str(files["user-data"])],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    loopback = render(load_profile("rpi4-kiosk"), "rpi4-kiosk", tmp_path / "plain", environ={}, tokens_dir=tokens)
    assert "edgesight-http-token" not in loopback and "no HTTP token" in loopback["user-data"].read_text()


def test_camera_rotation_reaches_the_kiosk_and_a_missing_accelerator_is_refused(tmp_path):
    from pydantic import ValidationError

    from firmware_configs.profile import Profile

    profile = load_profile("rpi4-kiosk")
    turned = profile.model_copy(update={"camera": profile.camera.model_copy(update={"rotation": 180})})
    files = render(turned, "rpi4-kiosk", tmp_path, environ={})
    assert yaml.safe_load(files["kiosk.yaml"].read_text())["rotate"] == 180
    data = profile.model_dump(mode="json")
    with pytest.raises(ValidationError, match="disagree"):
        Profile.model_validate({**data, "camera": {**data["camera"], "rotation": 90},
                                "kiosk": {**data["kiosk"], "rotate": 270}})
    with pytest.raises(ValidationError, match="accelerator"):
        Profile.model_validate({**data, "accelerator": "hailo"})  # nothing would load it: not offered
