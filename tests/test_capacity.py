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


class _SlowPipeline:
    """A stream that needs 0.15 s per frame while frames arrive every 1/15 s: it must drop some."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.frames = seconds, 0

    def process(self, frame):
        import time

        self.frames += 1
        time.sleep(self.seconds)

    def reset(self) -> None:
        pass


def test_a_stream_that_falls_behind_counts_the_frames_it_dropped(monkeypatch):
    import time

    import numpy as np

    import benchmarks.capacity as cap
    import edge.face_pipeline as fp

    for seconds, must_drop in ((0.15, True), (0.0, False)):
        pipeline = _SlowPipeline(seconds)
        monkeypatch.setattr(fp, "build_face_pipeline", lambda settings, p=pipeline: p)
        monkeypatch.setattr(fp, "close_pipeline", lambda p: None)
        monkeypatch.setattr(cap, "_load_frames", lambda source: [np.zeros((4, 4, 3), np.uint8)] * 3)
        r = cap.run_stream(fp.FacePipelineSettings().model_dump_json(), "sample", 15.0, 1.0, lambda: time.time())
        assert r["frames"] == 15 and r["processed"] + r["dropped"] == 15 and len(r["latency_ms"]) == r["processed"]
        if must_drop:
            assert r["dropped"] >= 5 and min(r["latency_ms"]) >= 140  # each verdict waited for its 0.15 s
