"""Frame sources on real files, reconnect under injected faults, newest-frame capture, picamera2 normalisation.

The Pi camera is absent here: picamera2 is replaced by a fake module with the same calls
(Picamera2, create_video_configuration, configure, start, capture_array, stop, close).
"""

from __future__ import annotations

import sys
import time
import types

import cv2
import numpy as np
import pytest

from edge.errors import BackendUnavailable, SourceError
from edge.sources import (
    ImagesSource,
    LatestFrame,
    NullSource,
    OpenCVSource,
    Picamera2Source,
    ReconnectingSource,
    open_source,
    parse_source,
    to_bgr,
)


@pytest.fixture()
def clip(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for k in range(12):
        writer.write(np.full((48, 64, 3), k * 20, np.uint8))
    writer.release()
    return path


def _drain(source, limit=1000):
    frames = []
    while len(frames) < limit:
        frame = source.read()
        if frame is None:
            break
        frames.append(frame)
    return frames


def test_video_file_source_reads_every_frame_then_ends(clip):
    src = open_source(str(clip))
    assert isinstance(src, OpenCVSource)
    frames = _drain(src)
    src.close()
    assert len(frames) == 12 and frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8


def test_loop_source_plays_forever(clip):
    src = open_source(f"loop:{clip}")
    frames = _drain(src, limit=40)
    assert len(frames) == 40 and src.loops == 3
    src.close()


def test_images_source_skips_unreadable_files(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((10, 12), 7, np.uint8))
    (tmp_path / "3.png").write_bytes(b"broken")
    src = open_source(str(tmp_path))
    assert isinstance(src, ImagesSource)
    frames = _drain(src)
    assert len(frames) == 3 and frames[0].shape == (10, 12, 3) and src.skipped == 1


def test_null_source_paces_black_frames():
    src = NullSource(32, 24, fps=100)
    src.open()
    t0 = time.monotonic()
    frames = [src.read() for _ in range(10)]
    assert all(f.shape == (24, 32, 3) and not f.any() for f in frames)
    assert time.monotonic() - t0 >= 0.08  # paced, not a busy loop


@pytest.mark.parametrize("spec,kind,target", [("camera", OpenCVSource, 0), ("camera:2", OpenCVSource, 2),
                                              ("3", OpenCVSource, 3),
                                              ("rtsp://127.0.0.1/stream", OpenCVSource, "rtsp://127.0.0.1/stream"),
                                              ("null", NullSource, None), ("picamera2", Picamera2Source, None),
                                              ("picamera2:swap-rb", Picamera2Source, None)])
def test_source_names_parse_to_the_device_they_name(spec, kind, target):
    source = parse_source(spec)
    assert type(source) is kind
    if kind is OpenCVSource:
        assert source.target == target  # the camera index or the stream URL OpenCV will open
    if kind is Picamera2Source:
        assert source.swap_rb == spec.endswith("swap-rb")


def test_bad_source_names_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="no such file or folder"):
        parse_source("/nope/video.avi")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SourceError, match="not a video"):
        parse_source(str(tmp_path / "notes.txt"))


class Flaky:
    """Fault injection behind the FrameSource protocol: raises every `every` reads, fails `open` when told."""

    name = "flaky"

    def __init__(self, every=5, fail_opens=0):
        self.every, self.fail_opens, self.reads, self.opens = every, fail_opens, 0, 0

    def open(self):
        self.opens += 1
        if self.fail_opens:
            self.fail_opens -= 1
            raise SourceError("camera unplugged")

    def read(self):
        self.reads += 1
        if self.reads % self.every == 0:
            raise OSError("USB read failed")
        return np.full((4, 4, 3), self.reads, np.uint8)

    def close(self):
        pass


def test_reconnect_recovers_with_growing_backoff():
    sleeps = []
    src = ReconnectingSource(Flaky(every=5, fail_opens=3), max_backoff=2.0, sleep=sleeps.append)
    src.open()  # the first open fails and says so
    assert src.status.startswith("unavailable: camera unplugged")
    got = [f for f in (src.read() for _ in range(30)) if f is not None]
    assert sleeps[:3] == [0.5, 1.0, 2.0]  # exponential, capped
    assert len(got) >= 20 and src.reconnects >= 4 and src.source.opens >= 5
    assert all(f.shape == (4, 4, 3) for f in got)


def test_latest_frame_keeps_only_the_newest():
    src = NullSource(8, 8, fps=500)
    grabber = LatestFrame(src).start()
    time.sleep(0.2)  # the consumer is slow: many frames arrive meanwhile
    first = grabber.get()
    second = grabber.get()
    grabber.stop()
    assert first is not None and second is not None and second[0] > first[0]
    assert grabber.dropped > 10  # superseded frames were dropped, not queued


def test_latest_frame_ends_with_a_finite_source(clip):
    grabber = LatestFrame(OpenCVSource(str(clip))).start()
    seen = 0
    while grabber.get(timeout=2) is not None:
        seen += 1
    grabber.stop()
    assert 1 <= seen <= 12 and grabber.finished


@pytest.fixture()
def fake_picamera2(monkeypatch):
    calls = {}

    class Picamera2:
        def __init__(self, index):
            calls["index"] = index

        def create_video_configuration(self, main):
            return {"main": main}

        def configure(self, config):
            calls["config"] = config

        def start(self):
            calls["started"] = True

        def capture_array(self, stream):
            frame = np.zeros((48, 64, 4), np.uint8)  # XRGB8888 arrives as B, G, R, X in memory
            frame[..., 0], frame[..., 2], frame[..., 3] = 10, 200, 255
            return frame

        def stop(self):
            calls["stopped"] = True

        def close(self):
            calls["closed"] = True

    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=Picamera2))
    return calls


def test_picamera2_frames_are_normalised_to_bgr(fake_picamera2):
    src = Picamera2Source(width=64, height=48)
    src.open()
    frame = src.read()
    src.close()
    assert frame.shape == (48, 64, 3) and frame[0, 0].tolist() == [10, 0, 200]
    assert fake_picamera2["config"]["main"] == {"size": (64, 48), "format": "XRGB8888"}
    assert fake_picamera2["started"] and fake_picamera2["closed"]
    swapped = Picamera2Source(swap_rb=True)
    swapped.open()
    assert swapped.read()[0, 0].tolist() == [200, 0, 10]


def test_picamera2_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(BackendUnavailable, match="system-site-packages"):
        Picamera2Source().open()


def test_to_bgr_shapes():
    assert to_bgr(np.zeros((5, 6), np.uint8)).shape == (5, 6, 3)
    assert to_bgr(np.zeros((5, 6, 4), np.uint8)).shape == (5, 6, 3)


def test_rotated_source_turns_frames_and_keeps_the_cameras_health():
    import cv2

    from edge.sources.rotated import RotatedSource, rotated

    class Camera:
        name, status, reconnects = "cam", "ok", 3

        def open(self):
            pass

        def read(self):
            return np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)

        def close(self):
            pass

    cam = Camera()
    assert rotated(cam, 0) is cam
    turned = rotated(cam, 90)
    frame = turned.read()
    assert frame.shape == (3, 2, 3) and np.array_equal(frame, cv2.rotate(cam.read(), cv2.ROTATE_90_CLOCKWISE))
    assert np.array_equal(rotated(cam, 180).read(), cam.read()[::-1, ::-1])
    assert turned.status == "ok" and turned.reconnects == 3 and turned.name == "cam rotated 90"
    with pytest.raises(ValueError, match="rotate: 45"):
        RotatedSource(cam, 45)
