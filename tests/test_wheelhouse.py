"""The card's wheelhouse: real wheels from pip for aarch64 CPython 3.11 (the first run downloads about 120 MB from the
package index into ~/.cache/edgesight/wheelhouse; later runs reuse it), a manifest whose hashes are the files',
and the first-boot script that refuses a card whose files were altered. Installing it on ARM: test_pi_check.py."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import pytest
import yaml

from edge.errors import EdgeSightError
from firmware_configs.profile import load_profile
from firmware_configs.render import TEMPLATES, render
from firmware_configs.wheelhouse import TARGETS, bundle_refs, detector_names
from tests.conftest import error_lines, run_cli

FIRSTBOOT = TEMPLATES / "edgesight-firstboot.py"


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    out = tmp_path_factory.mktemp("boot")
    proc = run_cli("edge-flash", "render", "rpi4-kiosk", "--out", str(out), "--json", timeout=900)
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(proc.stdout)


def _firstboot(*args):
    return subprocess.run([sys.executable, str(FIRSTBOOT), *args], capture_output=True, text=True)


def test_the_manifest_lists_every_file_with_its_hash(card):
    out, result = card
    manifest = json.loads((out / "edgesight/manifest.json").read_text())
    on_card = sorted(p.relative_to(out / "edgesight").as_posix() for p in (out / "edgesight").rglob("*")
                     if p.is_file() and p != out / "edgesight/manifest.json")
    assert on_card == sorted(e["path"] for e in manifest["files"])
    for e in manifest["files"]:
        data = (out / "edgesight" / e["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == e["sha256"] and len(data) == e["size_bytes"]
    assert manifest["target"] == "cp311-manylinux_2_36_aarch64" and manifest["python"] == "3.11"
    wheels = [e["path"] for e in manifest["files"] if e["kind"] == "wheel"]
    assert any(w.startswith("wheels/edgesight-0.1.0-py3-none-any") for w in wheels)
    assert any(w.startswith("wheels/pip-") for w in wheels)  # Raspberry Pi OS Lite has no ensurepip
    native = [w for w in wheels if not w.endswith("-none-any.whl")]
    assert native and all("aarch64" in w for w in native)
    versions = manifest["versions"]
    assert versions["ai-edge-litert"].split(".")[0] == "2"  # glibc 2.36's tags, not only manylinux2014 (1.4.0)
    assert {"gpiozero", "paho-mqtt", "onnxruntime", "numpy"} <= set(versions)
    assert not {"tensorflow", "tensorflow-cpu", "keras"} & set(versions)
    detectors = {e["path"] for e in manifest["files"] if e["kind"] == "detector"}
    # the default detector and its second look's confirming model (FaceMesh only where mesh_threshold is set)
    assert detectors == {"detectors/face_detection_short_range.tflite", "detectors/face_detection_full_range.tflite"}
    bundles = {e["path"].split("/")[1] for e in manifest["files"] if e["kind"] == "bundle"}
    assert bundles == {"mask", "face-verifier"}
    summary = result["wheelhouse"]
    assert summary["size_mb"] == round(manifest["total_bytes"] / 1e6, 1) and summary["size_mb"] < 512
    assert summary["versions"] == versions


def test_first_boot_refuses_an_altered_card(card, tmp_path):
    out, _ = card
    assert _firstboot("verify", "--card", str(out / "edgesight")).returncode == 0
    copy = tmp_path / "edgesight"
    shutil.copytree(out / "edgesight", copy)
    wheel = next((copy / "wheels").glob("numpy-*.whl"))
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte flipped
    wheel.write_bytes(bytes(data))
    proc = _firstboot("verify", "--card", str(copy))
    assert proc.returncode == 1 and "sha256 does not match" in proc.stderr and wheel.name in proc.stderr
    assert len(error_lines(proc, "edgesight-firstboot")) == 1
    installed = _firstboot("install", "--card", str(copy), "--dest", str(tmp_path / "state"), "--venv",
                           str(tmp_path / "venv"))
    assert installed.returncode == 1 and not (tmp_path / "venv").exists()  # nothing installed from a bad card
    wheel.unlink()
    assert "missing" in _firstboot("verify", "--card", str(copy)).stderr


@pytest.mark.skipif(not shutil.which("cloud-init"), reason="cloud-init (Debian package) not installed")
def test_offline_user_data_passes_cloud_inits_schema(card):
    out, _ = card
    proc = subprocess.run(["cloud-init", "schema", "--config-file", str(out / "user-data")], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = yaml.safe_load((out / "user-data").read_text())
    script = next(f for f in doc["write_files"] if f["path"] == "/usr/local/lib/edgesight/firstboot.py")
    import base64

    assert base64.b64decode(script["content"]) == FIRSTBOOT.read_bytes()
    enable = doc["runcmd"].index(["systemctl", "enable", "--now", "edgesight-kiosk.service"])
    assert doc["runcmd"][0][2] == "install" and enable == len(doc["runcmd"]) - 1


def test_an_index_install_is_still_possible(tmp_path):
    path = tmp_path / "own.yaml"
    path.write_text("board: rpi5\nhostname: own-01\ninstall: {source: index, package: 'acme-edgesight[pi]==1.2', "
                    "index_url: 'https://pypi.acme.example/simple'}\n")
    files = render(load_profile(path), "own", tmp_path / "boot", environ={})
    assert not any(k.startswith("edgesight/") for k in files)
    doc = yaml.safe_load(files["user-data"].read_text())
    assert doc["packages"] == ["python3-venv", "python3-picamera2"] and "npm" not in files["user-data"].read_text()
    assert ["/opt/edgesight/bin/pip", "install", "--upgrade", "--index-url", "https://pypi.acme.example/simple",
            "acme-edgesight[pi]==1.2"] in doc["runcmd"]
    assert load_profile(path).kiosk.bundle == "mask" and "bundle: mask" in files["kiosk.yaml"].read_text()
    if shutil.which("cloud-init"):
        proc = subprocess.run(["cloud-init", "schema", "--config-file", str(files["user-data"])],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    legacy = tmp_path / "legacy.yaml"  # before `install`, a top-level package meant the index
    legacy.write_text("board: rpi4\nhostname: old-01\npackage: edgesight\n")
    assert load_profile(legacy).install.model_dump() == {"source": "index", "package": "edgesight",
                                                         "index_url": None}


def test_a_wheelhouse_carries_this_project_only(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("board: rpi4\nhostname: x-01\ninstall: {package: somethingelse}\n")
    with pytest.raises(EdgeSightError, match="set install.source: index"):
        render(load_profile(path), "p", tmp_path / "boot", environ={})
    path.write_text("board: rpi4\nhostname: x-01\ninstall: {source: pypi}\n")
    proc = run_cli("edge-flash", "validate", str(path))
    assert proc.returncode == 1 and "install.source" in proc.stderr


def test_detector_files_follow_the_kiosks_detector():
    from edge.detectors import parse_spec

    assert detector_names(parse_spec("haar")) == []
    assert detector_names(parse_spec("res10")) == ["res10-ssd", "res10-ssd-prototxt"]
    assert detector_names(parse_spec("blazeface:model=back-camera+haar")) == ["blazeface-back-camera"]
    assert bundle_refs(load_profile("rpi4-kiosk")) == ["mask", "face-verifier"]
    assert TARGETS["jetson-orin-nano"].python == "3.10" and TARGETS["rpi5"].platforms()[-1] == "manylinux2014_aarch64"
