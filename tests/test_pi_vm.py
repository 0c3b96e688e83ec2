"""First boot end to end in qemu-system-aarch64 with no network (firmware_configs/vm_check.py). About 8 minutes
beside a cached root file system (5 more to build it once): CI (CI=true) runs it; elsewhere `make test` leaves it
to `make pi-vm` or EDGESIGHT_PI_VM=1."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

# CI (CI=true) always runs it: the bar is a first boot proven on every change.
pytestmark = pytest.mark.skipif(os.environ.get("EDGESIGHT_PI_VM") != "1" and os.environ.get("CI") != "true",
                                reason="opt-in here: make pi-vm, or EDGESIGHT_PI_VM=1 (about 8 minutes); CI runs it")


@pytest.mark.slow
def test_a_written_card_boots_to_a_healthy_kiosk_offline(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "firmware_configs.vm_check", "--json", "--limit", "1500", "--keep",
                           str(tmp_path)], capture_output=True, text=True, timeout=3000, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.strip(), proc.stderr
    result = json.loads(proc.stdout)
    assert proc.returncode == 0 and result["ok"], proc.stderr
    assert " healthz=200 " in result["healthz"] and "kiosk active, /healthz answered" in result["milestones_seen"]
    console = (tmp_path / "console.log").read_text(errors="replace")
    assert "edgesight-firstboot: installed" in console and "DataSourceNoCloud" in console
