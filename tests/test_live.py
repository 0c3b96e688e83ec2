"""The live page and the HTTP gate: a real headless kiosk on the sample clip, real Chromium, real sockets."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import shutil
import socket
import threading
import time

import cv2
import numpy as np
import pytest

from edge.geometry import BBox
from edge.mask_pipeline import FaceVerdict, FrameResult
from tests.browser import Browser, chromium
from tests.conftest import clip_frames
from tests.services import Kiosk, free_port, http_get, wait_until

PROTECTED = ["/", "/metrics", "/api/status", "/api/events", "/snapshot.jpg", "/stream.mjpg", "/static/live.js",
             "/static/live.css", "/nope", "/static/../kiosk/config.py", "/healthz/../metrics"]


def _token_file(tmp_path, token="k3y-" + "x" * 40):
    path = tmp_path / "http-token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path, token


def _face(box=BBox(250, 150, 120, 120), first=False, track=1) -> FaceVerdict:
    return FaceVerdict(box, "WithMask", 0.97, track, "WithMask", 0.97, first)


def test_the_commented_default_config_is_the_defaults():
    from edge.kiosk.config import KioskConfig, load_config

    assert load_config() == KioskConfig()  # default.yaml (edge-kiosk --print-config) spells out every default


def test_lan_bind_needs_a_private_token_file(tmp_path):
    from edge.errors import EdgeSightError
    from edge.kiosk.config import KioskConfig
    from edge.outputs import build_outputs
    from edge.outputs.base import KioskStats

    with pytest.raises(ValueError, match="reachable from the network: set token_file"):
        KioskConfig.model_validate({"outputs": {"http": {"enabled": True, "host": "0.0.0.0"}}})
    path, _ = _token_file(tmp_path)
    path.chmod(0o644)
    cfg = KioskConfig.model_validate({"outputs": {"jsonl": {"enabled": False}, "sqlite": {"enabled": False},
                                                  "http": {"enabled": True, "host": "0.0.0.0", "port": 0,
                                                           "token_file": str(path)}}})
    with pytest.raises(EdgeSightError, match="readable by others.*chmod 600"):
        build_outputs(cfg.outputs, KioskStats())
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(EdgeSightError, match="at least 16"):
        build_outputs(cfg.outputs, KioskStats())


def test_gate_limits_size_rate_and_methods():
    from edge.outputs.access import Gate, RateLimiter
    from edge.outputs.base import KioskStats
    from edge.outputs.http import HttpOutput

    server = HttpOutput(KioskStats(), port=0, gate=Gate(None, RateLimiter(per_s=0.5, burst=5), limit_loopback=True),
                        max_request_bytes=1024)
    port = server.address[1]
    try:
        def request(method="GET", path="/metrics", headers=None, body=None) -> int:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request(method, path, body=body, headers=headers or {})
            status = conn.getresponse().status
            conn.close()
            return status

        assert request(headers={"X-Pad": "a" * 2000}) == 431
        assert request("POST", body=b"x" * 10) == 413
        assert request("DELETE") == 405
        codes = [request() for _ in range(6)]
        assert codes == [200] * 4 + [429] * 2  # 5 in the bucket; the DELETE took one, the refusals above none
    finally:
        server.close()


def test_live_view_encodes_only_while_watched_and_hides_faces():
    from edge.detectors import open_detector
    from edge.outputs.base import KioskStats
    from edge.outputs.live import LiveView
    from edge.outputs.live_worker import blur_faces, dim_frame
    from edge.sources import SAMPLE_CLIP

    frame = clip_frames(SAMPLE_CLIP, 30)[-1]  # the first visitor at the door
    box = open_detector("default").detect(frame)[0]
    result = FrameResult(0, [_face(box)], True)
    stats = KioskStats(camera_status="ok")
    live = LiveView(stats, fps=20)
    try:
        for _ in range(50):
            live.handle(result, frame)
        time.sleep(0.3)
        assert live.encoded == 0  # nobody watches: nothing encoded
        feeding = threading.Event()

        def camera() -> None:  # a 50 FPS kiosk loop
            while not feeding.wait(0.02):
                live.handle(result, frame)

        feeder = threading.Thread(target=camera)
        feeder.start()
        try:
            with live.watch():
                assert live.next_jpeg(0, timeout=60) is not None  # the encoder process has started
                t0, e0 = time.monotonic(), live.encoded
                jpegs = list(itertools.islice(live.stream(timeout=30), 10))
                made = live.encoded - e0
            assert len(jpegs) == 10 and all(j[:2] == b"\xff\xd8" for j in jpegs)
            assert made <= 20 * (time.monotonic() - t0) + 1  # the rate cap: 20 a second, not the camera's 50
            live._proc.kill()  # the encoder process dies: the next viewer still gets pictures from a new one
            assert len(list(itertools.islice(live.stream(timeout=30), 3))) == 3 and live.restarts == 1
        finally:
            feeding.set()
            feeder.join()
        time.sleep(0.2)
        done = live.encoded
        live.handle(result, frame)
        time.sleep(0.3)
        assert live.encoded == done  # the viewer left: encoding stopped
    finally:
        live.close()

    def face(img):
        return img[box.y:box.y + box.h, box.x:box.x + box.w]

    def detail(img):  # high-frequency energy inside the face box: what makes a face recognisable
        return cv2.Laplacian(cv2.cvtColor(face(img), cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()

    assert detail(dim_frame(frame)) < 0.05 * detail(frame)  # the whole frame: every face, found or not
    blurred = blur_faces(frame, result)
    assert len(np.unique(face(blurred).reshape(-1, 3), axis=0)) <= 36  # 6 x 6 cells of flat colour: no identity
    assert len(np.unique(face(frame).reshape(-1, 3), axis=0)) > 1000
    outside = np.ones(frame.shape[:2], bool)
    y0, x0 = max(box.y - box.h // 2, 0), max(box.x - box.w // 2, 0)
    outside[y0:box.y + box.h * 3 // 2, x0:box.x + box.w * 3 // 2] = False
    assert np.array_equal(blurred[outside], frame[outside])  # and only the face
    stats.camera_status = "unavailable: unplugged"
    card = LiveView(stats)
    try:  # the camera is down: the grey card says so, the last frame is not shown
        image = card.render(frame, result)
        assert np.all(image[:300] == 40) and image[-30:].std() > 5
    finally:
        card.close()
    stats.camera_status = "ok"
    shown = LiveView(stats, stream_faces=True)
    try:
        assert np.array_equal(shown.render(frame, FrameResult(0, [], True))[40:400, :500], frame[40:400, :500])
    finally:
        shown.close()


@pytest.mark.skipif(chromium() is None and os.environ.get("CI") != "true", reason="Debian chromium not installed")
def test_live_page_in_headless_chromium_and_token_on_a_lan_bind(tmp_path):
    assert chromium(), "chromium missing under CI=true"
    token_file, token = _token_file(tmp_path)
    port = free_port()
    kiosk = Kiosk(tmp_path, {"outputs": {"jsonl": {"enabled": False}, "sqlite": {"path": str(tmp_path / "ev.db")},
                                         "http": {"enabled": True, "host": "0.0.0.0", "port": port,
                                                  "token_file": str(token_file), "live": {"enabled": True}}}})
    base = f"http://127.0.0.1:{port}"
    browser = None
    try:
        kiosk.wait_healthy(port)
        assert http_get(base + "/healthz")[0] == 200  # open: a watchdog needs no token
        for path in PROTECTED:
            assert http_get(base + path)[0] == 401, path
            assert http_get(base + path, {"Authorization": "Bearer " + token[:-1] + "y"})[0] == 401, path
            assert http_get(base + path, {"Cookie": "edgesight_token=wrong-" + token})[0] == 401, path
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:  # a raw path http.client would fix
            s.sendall(b"GET /static/..%2f..%2foutputs%2fhttp.py HTTP/1.0\r\n\r\n")
            assert s.recv(64).startswith(b"HTTP/1.0 401")
        auth = {"Authorization": f"Bearer {token}"}
        code, headers, body = http_get(base + "/metrics", auth)
        assert code == 200 and b"edgesight_frames_total" in body
        assert http_get(base + "/static/..%2fhttp.py", auth)[0] == 404
        assert http_get(base + "/static/live.js", auth)[2].startswith(b"// The live page")
        code, headers, _ = http_get(base + "/?token=" + token)  # urllib follows the 303 without the cookie
        assert code == 401
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/?token=" + token)
        answer = conn.getresponse()
        assert answer.status == 303 and "HttpOnly" in answer.getheader("Set-Cookie")
        conn.close()
        wait_until(lambda: sum(json.loads(http_get(base + "/api/status", auth)[2])["today"]["people"].values()), 60,
                   "a counted person")

        browser = Browser(tmp_path / "chromium-profile")
        browser.goto(f"{base}/?token={token}")  # sets the cookie, then the page loads its stream and APIs with it
        browser.wait_for("document.getElementById('live').naturalWidth > 0 && "
                         "document.getElementById('fps').textContent !== '–'")
        r = json.loads(browser.evaluate("JSON.stringify(document.getElementById('live').getBoundingClientRect())"))
        def counted() -> int:
            return sum(json.loads(http_get(base + "/api/status", auth)[2])["since_start"]["people"].values())

        shots = []
        for i in range(2):
            before = counted()  # the second shot right after a new person is counted: someone with a box on it
            time.sleep(1.5)
            if i:
                wait_until(lambda n=before: counted() > n, 60, "another counted person", every=0.1)
            shots.append(cv2.imread(str(browser.screenshot(tmp_path / f"live-page-{i}.png"))))
        x0, y0, x1, y1 = (round(r["left"]), round(r["top"]), round(r["right"]), round(r["bottom"]))
        video = [s[y0:y1, x0:x1].astype(np.int16) for s in shots]
        assert video[0].std() > 10  # a picture, not a blank box
        assert np.abs(video[0] - video[1]).mean() > 1.0  # and it moves
        page = {k: int(browser.evaluate(f"document.getElementById('{k}').textContent"))
                for k in ("today-mask", "today-nomask")}
        api = json.loads(http_get(base + "/api/status", auth)[2])["today"]["people"]
        assert 1 <= sum(page.values()) <= sum(api.values())
        assert page["today-mask"] <= api.get("WithMask", 0) and page["today-nomask"] <= api.get("WithoutMask", 0)
        assert browser.evaluate("document.querySelectorAll('#events tbody tr').length") >= 1
        assert browser.evaluate("document.getElementById('h-camera').textContent") == "ok"
        if os.environ.get("EDGESIGHT_SHOTS"):
            shutil.copy(tmp_path / "live-page-1.png", os.environ["EDGESIGHT_SHOTS"])
    finally:
        if browser is not None:
            browser.close()
        summary = kiosk.stop()
    assert summary.get("frames", 0) > 0


def test_edge_bench_live_reports_the_viewer_ratio_with_an_interval(tmp_path):
    from tests.conftest import run_cli

    proc = run_cli("edge-bench", "live", "--blocks", "2", "--block-seconds", "1", "--warmup", "3", "--json",
                   "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert len(r["fps_none"]) == len(r["fps_viewer"]) == 2 and min(r["fps_none"] + r["fps_viewer"]) > 0
    lo, hi = r["ratio_ci95"]
    assert lo <= r["ratio"] <= hi and r["jpegs_made"] > 0 and r["jpegs_per_s_received"] > 0
    assert "paired ratio" in (tmp_path / "live.md").read_text()
