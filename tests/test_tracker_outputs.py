"""Tracker, kiosk outputs (real SQLite, real HTTP, gpiozero's mock pins) and the kiosk config."""

from __future__ import annotations

import io
import json
import sqlite3
import urllib.error
import urllib.request

import numpy as np
import pytest

from edge.crops import face_crop
from edge.geometry import BBox
from edge.mask_pipeline import FaceVerdict, FrameResult
from edge.tracker import IoUTracker, TrackerConfig, match


def verdict(label="WithMask", settled=True, first=False, track=1, box=BBox(10, 10, 80, 80)):
    return FaceVerdict(box, label, 0.9, track, label if settled else None, 0.9, first)


def test_match_pairs_by_best_iou_and_ignores_weak_overlap():
    tracks = [BBox(0, 0, 100, 100), BBox(300, 0, 100, 100)]
    dets = [BBox(305, 5, 100, 100), BBox(5, 0, 100, 100), BBox(900, 900, 10, 10)]
    assert sorted(match(tracks, dets, 0.3)) == [(0, 1), (1, 0)]


def test_tracker_keeps_ids_counts_once_and_forgets_after_max_missed():
    tr = IoUTracker(TrackerConfig(max_missed=2, smooth_frames=4, settle_frames=3))
    first = tr.update([BBox(100, 100, 80, 80)])[0]
    for dx in (4, 8, 12):
        assert tr.update([BBox(100 + dx, 100, 80, 80)])[0].id == first.id
    for p in ([0.9, 0.1], [0.2, 0.8], [0.8, 0.2]):
        tr.vote(first, np.array(p))
    assert tr.settled(first) and first.smoothed().argmax() == 0  # one odd frame does not flip the verdict
    other = tr.update([BBox(400, 100, 80, 80)])[0]
    assert other.id != first.id
    for _ in range(3):
        tr.update([BBox(400, 100, 80, 80)])
    assert [t.id for t in tr.tracks] == [other.id]  # the first person left 4 frames ago (> max_missed 2)


def test_face_crop_is_square_and_pads_at_the_border():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    box = BBox(600, 440, 60, 40)
    crop = face_crop(frame, box, margin=0.15)
    side = round(60 * 1.3)
    assert crop.shape == (side, side, 3)
    x0, y0 = round(630 - side / 2), round(460 - side / 2)  # the square's corner in the frame
    inside_w, inside_h = 640 - x0, 480 - y0
    np.testing.assert_array_equal(crop[:inside_h, :inside_w], frame[y0:, x0:])  # the frame's own pixels
    for col in range(inside_w, side):  # beyond the right edge: the edge column, replicated
        np.testing.assert_array_equal(crop[:inside_h, col], frame[y0:, 639])
    for row in range(inside_h, side):  # below the bottom edge: the bottom row, replicated
        np.testing.assert_array_equal(crop[row, :inside_w], frame[479, x0:])


def test_sqlite_log_writes_one_row_per_person_and_no_pixels_by_default(tmp_path):
    from edge.outputs.eventlog import SQLiteEventLog

    frame = np.zeros((480, 640, 3), np.uint8)
    log = SQLiteEventLog(tmp_path / "events.db")
    log.handle(FrameResult(0, [verdict(first=True), verdict("WithoutMask", first=True, track=2)], True), frame)
    log.handle(FrameResult(1, [verdict(first=False)], True), frame)  # same person again: not a new row
    log.close()
    rows = sqlite3.connect(tmp_path / "events.db").execute(
        "SELECT track_id, verdict, confidence, face_jpeg FROM events ORDER BY id").fetchall()
    assert rows == [(1, "WithMask", 0.9, None), (2, "WithoutMask", 0.9, None)]
    with_faces = SQLiteEventLog(tmp_path / "faces.db", save_faces=True)
    with_faces.handle(FrameResult(0, [verdict(first=True)], True), frame)
    blob = with_faces._db.execute("SELECT face_jpeg FROM events").fetchone()[0]
    assert blob[:2] == b"\xff\xd8"  # a JPEG


def test_jsonl_prints_people_not_every_frame_unless_asked():
    out = io.StringIO()
    from edge.outputs.jsonl import JsonLinesOutput

    JsonLinesOutput(stream=out).handle(FrameResult(3, [verdict(first=True), verdict(track=2)], True), None)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert len(lines) == 1
    assert {"source", "frame", "box", "label", "score", "latency_ms"} <= set(lines[0])
    assert lines[0]["label"] == "WithMask" and lines[0]["event"] == "person"


def test_http_healthz_and_prometheus_metrics_on_localhost():
    from edge.outputs.base import KioskStats
    from edge.outputs.http import HttpOutput

    stats = KioskStats()
    server = HttpOutput(stats, port=0)
    base = f"http://127.0.0.1:{server.address[1]}"
    try:
        assert server.address[0] == "127.0.0.1"
        with pytest.raises(urllib.error.HTTPError) as err:  # no frame yet: unhealthy
            urllib.request.urlopen(base + "/healthz", timeout=5)
        assert err.value.code == 503
        stats.camera_status = "ok"
        stats.record(FrameResult(0, [verdict(first=True)], True, {"total_ms": 12.5}))
        body = json.loads(urllib.request.urlopen(base + "/healthz", timeout=5).read())
        assert body["status"] == "ok" and body["frames"] == 1
        metrics = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
        assert 'edgesight_people_total{verdict="WithMask"} 1' in metrics
        assert "edgesight_frames_total 1" in metrics and 'edgesight_frame_latency_ms{quantile="0.5"} 12.500' in metrics
    finally:
        server.close()


def test_gpio_lights_buzzer_and_door_on_mock_pins():
    pytest.importorskip("gpiozero")
    from gpiozero import Device

    from edge.outputs.gpio import GpioOutput

    now = [100.0]
    gpio = GpioOutput(green=17, red=27, buzzer=22, relay=23, door_open_s=3, pin_factory="mock", clock=lambda: now[0])
    try:
        pin = Device.pin_factory.pin
        gpio.handle(FrameResult(0, [verdict("WithMask", first=True)], True), None)
        assert gpio.state == "allow" and pin(17).state and not pin(27).state and pin(23).state
        now[0] += 1
        gpio.handle(FrameResult(1, [], True), None)
        assert gpio.state == "idle" and not pin(17).state and pin(23).state  # the door stays open 3 s
        now[0] += 3
        gpio.handle(FrameResult(2, [], True), None)
        assert not pin(23).state
        gpio.handle(FrameResult(3, [verdict("WithoutMask", first=True, track=2)], True), None)
        assert gpio.state == "deny" and pin(27).state and not pin(17).state and not pin(23).state
        gpio.handle(FrameResult(4, [verdict("WithoutMask", settled=False)], True), None)
        assert gpio.state == "idle"  # an unsettled face does not switch anything
    finally:
        gpio.close()


def test_monitor_alerts_reach_every_output(tmp_path):
    """A pain bundle's sustained-score alert: a JSON line, an SQLite row, red LED + buzzer, a Prometheus counter."""
    pytest.importorskip("gpiozero")
    from gpiozero import Device

    from edge.monitor import SustainedMonitor, face_alerts
    from edge.outputs.base import KioskStats
    from edge.outputs.eventlog import SQLiteEventLog
    from edge.outputs.gpio import GpioOutput
    from edge.outputs.http import metrics_text
    from edge.outputs.jsonl import JsonLinesOutput

    monitor, labels = SustainedMonitor(threshold=0.7, sustain_s=1.0), ["no_pain", "pain"]
    face = verdict("pain", track=4)
    assert face.masked is None  # not a mask verdict: the mask outputs stay idle
    assert face_alerts(monitor, [face], labels, None, 10.0) == []
    alerts = face_alerts(monitor, [face], labels, None, 11.5)
    assert len(alerts) == 1 and alerts[0]["label"] == "pain" and alerts[0]["duration_s"] == 1.5
    assert face_alerts(monitor, [face], labels, None, 12.0) == []  # once per episode
    # a face settled on no_pain at 0.9 has pain 0.1: no alert, and its episode ends
    assert face_alerts(monitor, [verdict("no_pain", track=4)], labels, None, 13.0) == []

    now = [100.0]
    stream, stats = io.StringIO(), KioskStats()
    log = SQLiteEventLog(tmp_path / "ev.db")
    gpio = GpioOutput(green=17, red=27, buzzer=22, pin_factory="mock", clock=lambda: now[0], alert_s=5)
    outs = [JsonLinesOutput(stream=stream), log, gpio]
    try:
        quiet = FrameResult(0, [face], True)
        for out in outs:
            out.handle(quiet, None)
        assert gpio.state == "idle" and not Device.pin_factory.pin(27).state
        loud = FrameResult(1, [face], True, alerts=alerts)
        stats.record(loud)
        for out in outs:
            out.handle(loud, None)
        line = json.loads(stream.getvalue().splitlines()[-1])
        assert line["event"] == "sustained" and line["label"] == "pain" and line["track_id"] == 4
        assert log.alert_counts() == {"pain": 1} and log.counts() == {}
        assert gpio.state == "alert" and Device.pin_factory.pin(27).state and not Device.pin_factory.pin(17).state
        now[0] += 6
        gpio.handle(quiet, None)
        assert gpio.state == "idle" and not Device.pin_factory.pin(27).state
        assert 'edgesight_alerts_total{label="pain"} 1' in metrics_text(stats)
    finally:
        for out in outs:
            out.close()


def test_a_track_that_left_through_the_frame_edge_is_not_handed_to_the_next_person():
    tr = IoUTracker(TrackerConfig(max_missed=10))
    leaving = BBox(550, 240, 90, 100)  # touching the right edge of a 640x480 frame
    (first,) = tr.update([leaving], (640, 480))
    tr.update([], (640, 480))  # gone
    (second,) = tr.update([BBox(552, 238, 88, 102)], (640, 480))  # someone walks in at the same spot
    assert second.id != first.id
    inside = BBox(300, 200, 100, 100)
    (a,) = tr.update([inside], (640, 480))
    tr.update([], (640, 480))  # missed once in the middle of the frame: a detector miss, not an exit
    (b,) = tr.update([BBox(302, 201, 100, 100)], (640, 480))
    assert b.id == a.id


def test_a_lost_track_does_not_steal_a_newcomer_from_its_own_track():
    tr = IoUTracker(TrackerConfig(max_missed=10, iou_match=0.3))
    (old,) = tr.update([BBox(300, 200, 100, 100)])
    tr.update([])  # the old track is lost, its box stays at (300, 200)
    (new,) = tr.update([BBox(230, 200, 100, 100)])  # overlaps the lost box by 0.18: a new track
    assert new.id != old.id
    (moved,) = tr.update([BBox(280, 200, 100, 100)])  # now overlaps the lost box more than its own
    assert moved.id == new.id


def test_kiosk_config_defaults_and_errors_with_line_numbers(tmp_path):
    from edge.kiosk.config import ConfigError, load_config

    cfg = load_config()
    assert cfg.detector.type == "blazeface" and cfg.outputs.http.host == "127.0.0.1"
    bad = tmp_path / "kiosk.yaml"
    bad.write_text("source: camera:0\ndetector:\n  type: haar\n  min_face: 40\noutputs:\n  http:\n    port: -1\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    text = str(err.value)
    assert f"{bad}:4: detector.min_face: unknown key" in text
    assert f"{bad}:7: outputs.http.port" in text
    broken = tmp_path / "broken.yaml"
    broken.write_text("source: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken.yaml:\d+: not valid YAML"):
        load_config(broken)


def test_a_full_event_log_degrades_then_recovers_without_losing_rows(tmp_path):
    from edge.outputs.eventlog import SQLiteEventLog

    log = SQLiteEventLog(tmp_path / "full.db", save_faces=True)
    pages = log._db.execute("PRAGMA page_count").fetchone()[0]
    log._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own SQLITE_FULL, as on a full card
    frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)  # big, noisy JPEG crops
    for i in range(5):
        log.handle(FrameResult(i, [verdict(first=True, track=i, box=BBox(0, 0, 400, 400))], True), frame)
    assert log.status.startswith("degraded") and "full" in log.status and len(log.pending) == 5
    log._db.execute("PRAGMA max_page_count = 1000000")
    log.handle(FrameResult(9, [verdict(first=True, track=9)], True), frame)
    assert log.status == "ok" and not log.pending
    assert log._db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 6


def test_degraded_log_shows_in_health_and_metrics():
    from edge.outputs.base import KioskStats
    from edge.outputs.http import health, metrics_text

    stats = KioskStats(camera_status="ok")
    stats.record(FrameResult(0, [], True))
    stats.log_status = "degraded: database or disk is full"
    code, body = health(stats)
    assert code == 200 and body["status"] == "degraded" and "full" in body["event_log"]
    assert "edgesight_event_log_up 0" in metrics_text(stats)
