"""Kiosk events on MQTT against Debian's real mosquitto, started by each test on a free loopback port."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from edge.geometry import BBox
from edge.mask_pipeline import FaceVerdict, FrameResult
from tests.services import Kiosk, Mosquitto, free_port, http_get, need, wait_until

paho = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt not installed (edgesight[mqtt])")
OUTAGE_S = 30.0  # the bar: the broker away for 30 s mid-run


class Watcher:
    """A consumer as a real one is built: a persistent session (clean_session=False), QoS 1, subscribing again
    on every connect, reconnecting by itself; it keeps every message it is given, duplicates included."""

    def __init__(self, port: int, topics: list[str], tls: dict | None = None, auth: tuple | None = None) -> None:
        self.messages: list[tuple[float, str, str, bool]] = []  # (time, topic, payload, retained)
        self.lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"watcher-{port}", clean_session=False)
        self.client.on_connect = lambda c, _u, _f, _rc, _p: c.subscribe([(t, 1) for t in topics])
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 1)
        if tls:
            self.client.tls_set(**tls)
        if auth:
            self.client.username_pw_set(*auth)
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()

    def _on_message(self, _c, _u, m) -> None:
        with self.lock:
            self.messages.append((time.time(), m.topic, m.payload.decode(), bool(m.retain)))

    def payloads(self, suffix: str) -> list[str]:
        with self.lock:
            return [p for _, t, p, _ in self.messages if t.endswith(suffix)]

    def events(self) -> list[dict]:
        return [json.loads(p) for p in self.payloads("/events")]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def unique_in_order(events: list[dict]) -> list[dict]:
    """What a consumer keeps: the first delivery of each event id (QoS 1 may deliver one twice)."""
    seen, out = set(), []
    for e in events:
        if e["id"] not in seen:
            seen.add(e["id"])
            out.append(e)
    return out


def settings(port: int, tmp, **extra):
    from edge.kiosk.config import MqttSettings

    return MqttSettings(enabled=True, port=port, device="door-1", outbox_path=str(tmp / "outbox.db"), keepalive=5,
                        **extra)


def person(track: int) -> FrameResult:
    return FrameResult(track, [FaceVerdict(BBox(10, 20, 90, 90), "WithMask", 0.9, track, "WithMask", 0.93, True)], True)


def test_outbox_keeps_order_across_a_restart_and_bounds_its_size(tmp_path):
    from edge.outputs.outbox import Outbox

    box = Outbox(tmp_path / "o.db", max_backlog=100, keep_sent_days=1)
    ids = [box.add("person", {"n": i}, now=1000.0 + i) for i in range(5)]
    first = box.pending(0, 3)
    assert [s for s, _ in first] == [1, 2, 3] and json.loads(first[0][1]) == {"seq": 1, "id": ids[0],
                                                                              "type": "person", "time": 1000.0, "n": 0}
    box.mark_sent([1, 2], now=1000.0)
    box.close()
    box = Outbox(tmp_path / "o.db", max_backlog=100, keep_sent_days=1)  # a kiosk restarted: nothing forgotten
    assert [json.loads(m)["id"] for _, m in box.pending(0, 10)] == ids[2:] and box.backlog() == 3
    for i in range(120):
        box.add("person", {"n": i})
    assert box.prune(now=1000.0 + 2 * 86400) == 23 and box.backlog() == 100 and box.dropped == 23
    assert [r[0] for r in box.rows()][:1] == [26]  # sent rows past keep_sent_days and the oldest unsent are gone
    box.close()


def test_state_changes_are_events_even_with_no_broker(tmp_path):
    from edge.outputs.base import KioskStats
    from edge.outputs.mqtt import MqttOutput

    stats = KioskStats()
    out = MqttOutput(settings(free_port(), tmp_path), stats)  # nothing listens there
    try:
        for status in ("ok", "unavailable: no frame", "unavailable: no frame (2)", "ok", "ok"):
            stats.camera_status = status
        stats.log_status = "degraded: database or disk is full"
        stats.log_status = "ok"
        out.handle(person(7), None)
        wait_until(lambda: out.last_error, 10, "a failed connection attempt")
        kinds = [json.loads(m) for _, m in out.outbox.pending(0, 10)]
        assert [(k["type"], k.get("subject"), k.get("state")) for k in kinds] == [
            ("state", "camera", "lost"), ("state", "camera", "back"), ("state", "event_log", "degraded"),
            ("state", "event_log", "ok"), ("person", None, None)]
        assert kinds[-1]["verdict"] == "WithMask" and kinds[-1]["track_id"] == 7 and kinds[-1]["device"] == "door-1"
        assert stats.mqtt_connected is False and stats.mqtt_backlog == 5 and "refused" in out.last_error.lower()
    finally:
        out.close()


def test_every_person_arrives_once_in_order_across_a_30s_broker_outage(tmp_path):
    """The bar: the real kiosk (edge-kiosk on the sample clip) and the real broker, stopped for 30 s mid-run."""
    broker = Mosquitto(tmp_path / "broker").start()
    watcher = Watcher(broker.port, ["edgesight/door-1/#", "homeassistant/#"])
    http_port = free_port()
    outbox, events_db = tmp_path / "outbox.db", tmp_path / "events.db"
    kiosk = Kiosk(tmp_path, {"outputs": {
        "jsonl": {"enabled": False}, "sqlite": {"path": str(events_db)},
        "http": {"enabled": True, "port": http_port},
        "mqtt": {"enabled": True, "port": broker.port, "device": "door-1", "keepalive": 5,
                 "outbox_path": str(outbox)}}})

    def metric(name: str) -> float:
        text = http_get(f"http://127.0.0.1:{http_port}/metrics")[2].decode()
        return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))

    try:
        kiosk.wait_healthy(http_port)
        wait_until(lambda: sum(e["type"] == "person" for e in watcher.events()) >= 2, 60, "two people on MQTT")
        frames_before = metric("edgesight_frames_total")
        broker.stop()
        down_at = time.time()
        time.sleep(OUTAGE_S / 2)
        assert metric("edgesight_mqtt_connected") == 0
        time.sleep(OUTAGE_S / 2)
        backlog = metric("edgesight_mqtt_backlog")
        frames_during = metric("edgesight_frames_total") - frames_before
        broker.start()
        up_at = time.time()
        wait_until(lambda: metric("edgesight_mqtt_connected") == 1 and metric("edgesight_mqtt_backlog") == 0, 60,
                   "the backlog sent after the restart")
        wait_until(lambda: any(e["time"] > up_at for e in watcher.events() if e["type"] == "person"), 60,
                   "a person counted after the restart")
    finally:
        summary = kiosk.stop()
    try:
        wait_until(lambda: watcher.payloads("/availability")[-1:] == ["offline"], 20, "availability offline at stop")
    finally:
        watcher.close()
        broker.stop()

    assert summary["frames"] > 0 and frames_during > 2 * OUTAGE_S  # the kiosk kept working without its broker
    assert backlog >= 1  # people were counted while the broker was away, and waited in the outbox
    db = sqlite3.connect(outbox)
    rows = db.execute("SELECT id, type, time, sent_at FROM outbox ORDER BY seq").fetchall()
    assert rows and all(sent is not None for *_, sent in rows)  # every event acknowledged by the broker
    people = [r for r in rows if r[1] == "person"]
    logged = sqlite3.connect(events_db).execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert len(people) == sum(summary["people"].values()) == logged  # kiosk, outbox and event log agree
    received = watcher.events()
    kept = [e for e in unique_in_order(received) if e["type"] == "person"]
    assert [e["id"] for e in kept] == [r[0] for r in people]  # every counted person exactly once, in order
    assert [e["seq"] for e in kept] == sorted(e["seq"] for e in kept)
    during = [r for r in people if down_at < r[2] < up_at]
    assert during, "no person counted during the outage"
    availability = watcher.payloads("/availability")
    first_online = availability.index("online")
    went_offline = availability.index("offline", first_online)
    assert "online" in availability[went_offline:-1] and availability[-1] == "offline"  # online/offline/online
    discovery = {json.loads(p)["unique_id"]: json.loads(p) for p in watcher.payloads("/config")}
    assert set(discovery) == {"edgesight_door-1_with_mask", "edgesight_door-1_without_mask", "edgesight_door-1_alerts"}
    assert discovery["edgesight_door-1_with_mask"]["state_topic"] == "edgesight/door-1/state"
    state = json.loads(watcher.payloads("/state")[-1])
    assert set(state["people"]) == {"WithMask", "WithoutMask"}
    print(f"\noutage {OUTAGE_S:.0f} s: {len(people)} people ({len(during)} while the broker was down), "
          f"{len(received)} event deliveries for {len(rows)} events ({len(received) - len(unique_in_order(received))}"
          f" duplicates removed by id), {frames_during:.0f} frames during the outage; availability "
          f"{' -> '.join(availability)}", file=sys.stderr)


def _certificates(root):
    """A throw-away CA and a server certificate for 127.0.0.1, made with `cryptography`."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = dt.datetime.now(dt.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("edgesight test CA")).issuer_name(name("edgesight test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False).sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    files = {"ca.pem": ca.public_bytes(pem), "server.pem": cert.public_bytes(pem),
             "server.key": key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL,
                                             serialization.NoEncryption())}
    for fname, data in files.items():
        (root / fname).write_bytes(data)
    return {k: root / k for k in files}


def test_tls_with_a_throwaway_ca_and_a_password(tmp_path):
    from edge.outputs.base import KioskStats
    from edge.outputs.mqtt import MqttOutput

    tmp_path.joinpath("broker").mkdir()
    certs = _certificates(tmp_path / "broker")
    passwd = tmp_path / "broker" / "passwd"
    subprocess.run([need("mosquitto_passwd", "mosquitto"), "-b", "-c", str(passwd), "kiosk", "s3cret-pw"],
                   check=True, capture_output=True)
    passwd.chmod(0o600)
    broker = Mosquitto(tmp_path / "broker", anonymous=False, extra=f"password_file {passwd}\ncafile {certs['ca.pem']}\n"
                       f"certfile {certs['server.pem']}\nkeyfile {certs['server.key']}\n").start()
    (tmp_path / "pw").write_text("s3cret-pw\n")
    (tmp_path / "wrong").write_text("guess\n")
    watcher = Watcher(broker.port, ["edgesight/door-1/events"], tls={"ca_certs": str(certs["ca.pem"])},
                      auth=("kiosk", "s3cret-pw"))
    from edge.errors import EdgeSightError

    outs = []
    try:
        with pytest.raises(EdgeSightError, match="TLS files"):  # a config error at start-up, not in a thread's log
            MqttOutput(settings(broker.port, tmp_path / "z", tls=True, ca_file=str(tmp_path / "missing.pem")),
                       KioskStats())
        stats = KioskStats()
        untrusted = MqttOutput(settings(broker.port, tmp_path / "a", tls=True, username="kiosk",
                                        password_file=str(tmp_path / "pw")), stats)  # the system CAs: not ours
        outs.append(untrusted)
        wait_until(lambda: untrusted.last_error, 15, "the TLS handshake to fail")
        assert "certificate" in untrusted.last_error.lower() and not stats.mqtt_connected
        untrusted.close()

        stats = KioskStats()
        refused = MqttOutput(settings(broker.port, tmp_path / "b", tls=True, ca_file=str(certs["ca.pem"]),
                                      username="kiosk", password_file=str(tmp_path / "wrong")), stats)
        outs.append(refused)
        refused.handle(person(1), None)
        wait_until(lambda: refused.last_error, 15, "the broker to refuse the password")
        assert "refused" in refused.last_error and stats.mqtt_backlog == 1
        refused.close()

        stats = KioskStats()
        good = MqttOutput(settings(broker.port, tmp_path / "c", tls=True, ca_file=str(certs["ca.pem"]),
                                   username="kiosk", password_file=str(tmp_path / "pw")), stats)
        outs.append(good)
        for track in (1, 2, 3):
            good.handle(person(track), None)
        wait_until(lambda: len(watcher.events()) >= 3, 20, "three events over TLS")
        assert [e["track_id"] for e in unique_in_order(watcher.events())] == [1, 2, 3]
        assert stats.mqtt_connected and stats.mqtt_sent == 3
    finally:
        for out in outs:
            out.close()
        watcher.close()
        broker.stop()


def test_last_will_says_offline_when_the_kiosk_dies(tmp_path):
    broker = Mosquitto(tmp_path / "broker").start()
    watcher = Watcher(broker.port, ["edgesight/door-1/availability"])
    script = (f"import time\nfrom edge.kiosk.config import MqttSettings\nfrom edge.outputs.base import KioskStats\n"
              f"from edge.outputs.mqtt import MqttOutput\n"
              f"MqttOutput(MqttSettings(enabled=True, port={broker.port}, device='door-1', "
              f"outbox_path={str(tmp_path / 'o.db')!r}, keepalive=5), KioskStats())\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        wait_until(lambda: watcher.payloads("/availability")[-1:] == ["online"], 30, "online")
        proc.kill()  # no clean goodbye: only the broker's last will can say it
        proc.wait()
        wait_until(lambda: watcher.payloads("/availability")[-1:] == ["offline"], 15, "the last will")
    finally:
        if proc.poll() is None:
            proc.kill()
        watcher.close()
        broker.stop()
