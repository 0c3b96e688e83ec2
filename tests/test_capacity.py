"""edge-bench capacity: N camera streams through the kiosk's pipeline; structure and honesty, no timing asserted."""

from __future__ import annotations

import json

from tests.conftest import run_cli


def test_capacity_reports_latency_per_stream_count_and_the_largest_held(tmp_path):
    proc = run_cli("edge-bench", "capacity", "--source", "sample", "--target-fps", "15", "--seconds", "2",
                   "--max-streams", "2", "--out", str(tmp_path), "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["scenario"] == "MultiStream" and r["target_fps"] == 15 and 1 <= len(r["levels"]) <= 2
    for n, level in enumerate(r["levels"], start=1):
        assert level["streams"] == n and level["frames"] == 30 * n
        assert level["processed"] + level["dropped"] <= level["frames"] and level["processed"] > 0
        assert level["p50_ci_ms"][0] <= level["p50_ms"] <= level["p90_ms"] <= level["max_ms"]
        assert level["held"] == (level["dropped"] == 0)
    held = [lv["streams"] for lv in r["levels"] if lv["held"]]
    assert r["max_streams_held"] == (max(held) if held and held == list(range(1, len(held) + 1)) else 0)
    md = (tmp_path / "capacity.md").read_text()
    assert f"without dropping frames: {r['max_streams_held']}" in md and "stream(s)" in proc.stderr
