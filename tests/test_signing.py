"""Signed bundles with real ed25519 keys generated in the test (keys never live in the repo)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from edge.errors import BundleError
from tests.conftest import error_lines, run_cli


@pytest.fixture()
def keys(tmp_path):
    proc = run_cli("edge-convert", "keygen", "--out", str(tmp_path / "keys"), "--json")
    assert proc.returncode == 0, proc.stderr
    k = json.loads(proc.stdout)
    assert os.stat(k["private_key"]).st_mode & 0o777 == 0o600
    return k


def test_sign_verify_and_refuse_altered_or_unsigned(digits_copy, keys, tmp_path):
    from edge.signing import verify_bundle

    with pytest.raises(BundleError, match="unsigned"):
        verify_bundle(digits_copy, keys["public_key"])
    assert run_cli("edge-convert", "sign", str(digits_copy), "--key", keys["private_key"]).returncode == 0
    ok = run_cli("edge-convert", "verify", str(digits_copy), "--key", keys["public_key"])
    assert ok.returncode == 0 and "verified: True" in ok.stdout
    run = run_cli("edge-run", str(digits_copy), "--source", "edge/samples/digits_paper.jpg", "--json",
                  "--trusted-key", keys["public_key"])
    assert run.returncode == 0 and run.stdout
    other = run_cli("edge-convert", "keygen", "--out", str(tmp_path / "other"), "--json")
    other_pub = json.loads(other.stdout)["public_key"]
    wrong = run_cli("edge-run", str(digits_copy), "--source", "edge/samples/digits_paper.jpg",
                    "--trusted-key", other_pub)
    assert wrong.returncode == 1 and "another key" in error_lines(wrong, "edge-run")[0]
    manifest = digits_copy / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"digits"', '"digitz"', 1))
    altered = run_cli("edge-run", str(digits_copy), "--source", "edge/samples/digits_paper.jpg",
                      "--trusted-key", keys["public_key"])
    assert altered.returncode == 1 and "altered" in error_lines(altered, "edge-run")[0]


def test_kiosk_refuses_an_unsigned_bundle(keys, tmp_path):
    from edge.kiosk.app import build_pipeline
    from edge.kiosk.config import KioskConfig

    bundle = tmp_path / "mask"
    from edge.bundle import resolve

    shutil.copytree(resolve("mask"), bundle)
    cfg = KioskConfig.model_validate({"bundle": str(bundle), "trusted_key": keys["public_key"]})
    with pytest.raises(BundleError, match="unsigned"):
        build_pipeline(cfg)
    from edge.signing import sign_bundle

    sign_bundle(bundle, keys["private_key"])
    assert build_pipeline(cfg).classifier.format == "tflite-int8"


def test_keygen_never_overwrites_and_bad_keys_are_one_line(keys, tmp_path):
    again = run_cli("edge-convert", "keygen", "--out", os.path.dirname(keys["private_key"]))
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    bad = run_cli("edge-convert", "sign", "digits", "--key", str(junk))
    assert bad.returncode == 1 and len(error_lines(bad, "edge-convert")) == 1
