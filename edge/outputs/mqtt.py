"""Kiosk events on MQTT (paho-mqtt): one JSON message per counted person, per alert and per state change.

Topics, for device D under prefix P (default edgesight):
  P/D/events        every event, QoS 1, in order; {"seq", "id", "type": person|alert|state, "time", ...}
  P/D/availability  retained "online" / "offline"; the last will says "offline" when the kiosk vanishes
  P/D/state         retained counters and health, for dashboards and Home Assistant's sensors
  homeassistant/sensor/edgesight_D/*/config   retained discovery for the counters

Nothing is lost: `handle` only writes the event to the SQLite outbox (edge.outputs.outbox); a publisher
thread of its own connects, sends unsent rows oldest first with QoS 1 (a window of WINDOW in flight) and
marks each sent on its PUBACK. A dropped connection forgets what was in flight and starts again from the
oldest unacknowledged row with a fresh client, so the order holds; what the broker had already passed on
arrives twice, with the same id. The frame loop never waits for the network.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time

import numpy as np

from edge.errors import EdgeSightError
from edge.mask_pipeline import FrameResult
from edge.outputs.base import KioskStats
from edge.outputs.outbox import Outbox

log = logging.getLogger(__name__)
WINDOW = 20  # QoS 1 messages in flight at once
STATE_EVERY_S = 5.0  # the retained state topic is refreshed at most this often (and at least every minute)
PRUNE_EVERY_S = 600.0
MAX_BACKOFF_S = 10.0  # reconnect attempts back off 0.5, 1, 2 ... up to this


def device_name(name: str | None) -> str:
    """A topic-safe device name: the configured one, else this machine's hostname."""
    raw = name or socket.gethostname().split(".")[0] or "kiosk"
    return re.sub(r"[^A-Za-z0-9_-]", "-", raw)[:64]


def _read_secret(path: str | None, what: str) -> str | None:
    if path is None:
        return None
    from pathlib import Path

    try:
        return Path(path).expanduser().read_text().strip()
    except OSError as exc:
        raise EdgeSightError(f"outputs.mqtt.{what}: cannot read {path} ({exc.strerror})") from exc


class MqttOutput:
    name = "mqtt"

    def __init__(self, settings, stats: KioskStats) -> None:
        """`settings` is the config's outputs.mqtt section (edge.kiosk.config.MqttSettings)."""
        try:
            import paho.mqtt.client  # noqa: F401
        except ImportError as exc:
            raise EdgeSightError("outputs.mqtt needs paho-mqtt: pip install 'edgesight[mqtt]'") from exc
        self.settings, self.stats = settings, stats
        self.device = device_name(settings.device)
        base = f"{settings.topic_prefix}/{self.device}"
        self.topics = {"events": f"{base}/events", "availability": f"{base}/availability", "state": f"{base}/state"}
        self._password = _read_secret(settings.password_file, "password_file")
        try:  # a missing CA or client key is a config error: say so at start-up, not in a thread's log
            self._client()
        except (OSError, ValueError) as exc:
            raise EdgeSightError(f"outputs.mqtt: TLS files: {exc}") from exc
        self.outbox = Outbox(settings.outbox_path, settings.max_backlog, settings.keep_sent_days)
        self.status = "ok"
        self.last_error: str | None = None
        self._camera_up: bool | None = None
        self._log_ok = True
        self._stop = threading.Event()
        self._wake = threading.Event()
        stats.mqtt_connected, stats.mqtt_backlog = False, self.outbox.backlog()
        stats.listeners.append(self._on_state)
        self._thread = threading.Thread(target=self._run, name="kiosk-mqtt", daemon=True)
        self._thread.start()

    # --- the frame loop's side: SQLite only ---------------------------------------------------------------
    def handle(self, result: FrameResult, frame: np.ndarray) -> None:
        for face in result.faces:
            if face.first_settled and face.smoothed_label is not None:
                self._event("person", {"track_id": face.track_id, "verdict": face.smoothed_label,
                                       "confidence": round(face.smoothed_score, 4), "box": face.box.as_list()})
        for a in result.alerts:
            self._event("alert", {"track_id": a["track_id"], "label": a["label"], "score": a["score"],
                                  "threshold": a["threshold"], "duration_s": a["duration_s"], "box": list(a["box"])})

    def _on_state(self, field: str, old: str, new: str) -> None:
        """KioskStats listener: camera lost / back, event log degraded / ok (each once per change)."""
        if field == "camera_status" and new != "starting":
            up, before = new == "ok", self._camera_up
            self._camera_up = up
            if before != up and not (before is None and up):
                self._event("state", {"subject": "camera", "state": "back" if up else "lost", "detail": new})
        elif field == "log_status":
            ok = new == "ok"
            if ok != self._log_ok:
                self._log_ok = ok
                self._event("state", {"subject": "event_log", "state": "ok" if ok else "degraded", "detail": new})

    def _event(self, kind: str, body: dict) -> None:
        self.outbox.add(kind, {"device": self.device, **body})
        self.status = self.outbox.status
        self.stats.mqtt_backlog = self.outbox.backlog()
        self._wake.set()

    # --- the publisher thread ----------------------------------------------------------------------------
    def _client(self):
        import paho.mqtt.client as mqtt

        s = self.settings
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"edgesight-{self.device}",
                             clean_session=True, protocol=mqtt.MQTTv311)
        client.will_set(self.topics["availability"], "offline", qos=1, retain=True)
        if s.username is not None:
            client.username_pw_set(s.username, self._password)
        if s.tls:
            client.tls_set(ca_certs=s.ca_file, certfile=s.cert_file, keyfile=s.key_file)
        client.max_inflight_messages_set(WINDOW)
        return client

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                client = self._client()
                client.connect(self.settings.host, self.settings.port, self.settings.keepalive)
            except (OSError, ValueError) as exc:  # refused, unreachable, TLS handshake (ssl.SSLError is an OSError)
                self._note_error(f"cannot connect to {self.settings.host}:{self.settings.port}: {exc}")
            else:
                try:
                    if _Session(self, client).run():
                        backoff = 0.5
                except Exception as exc:  # noqa: BLE001 - the publisher must outlive any one connection's fault
                    self._note_error(f"{type(exc).__name__}: {exc}")
            self.stats.mqtt_connected = False
            self._stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _note_error(self, message: str) -> None:
        if message != self.last_error:
            log.warning("mqtt: %s; events wait in the outbox (%d)", message, self.outbox.backlog())
        self.last_error = message

    def discovery(self) -> list[tuple[str, str]]:
        """Home Assistant MQTT discovery: (config topic, retained JSON) per counter."""
        from edge import __version__

        uid = f"edgesight_{self.device}"
        device = {"identifiers": [uid], "name": f"EdgeSight {self.device}", "manufacturer": "EdgeSight",
                  "model": self.stats.pipeline or "kiosk", "sw_version": __version__}
        sensors = {"with_mask": ("People with mask", "{{ value_json.people.WithMask | default(0) }}", "mdi:face-mask"),
                   "without_mask": ("People without mask", "{{ value_json.people.WithoutMask | default(0) }}",
                                    "mdi:face-mask-outline"),
                   "alerts": ("Alerts", "{{ value_json.alerts.values() | sum }}", "mdi:alert")}
        out = []
        for key, (name, template, icon) in sensors.items():
            config = {"name": name, "unique_id": f"{uid}_{key}", "object_id": f"{uid}_{key}",
                      "state_topic": self.topics["state"], "value_template": template,
                      "state_class": "total_increasing", "icon": icon,
                      "availability_topic": self.topics["availability"], "payload_available": "online",
                      "payload_not_available": "offline", "device": device}
            out.append((f"{self.settings.discovery_prefix}/sensor/{uid}/{key}/config", json.dumps(config)))
        return out

    def state(self) -> dict:
        """The retained state topic's content (counters since start, health); `time` is added when sent."""
        s = self.stats
        with s.lock:
            people, alerts = dict(s.people), dict(s.alerts)
        return {"people": people, "alerts": alerts, "fps": round(s.fps(), 1), "camera": s.camera_status,
                "event_log": s.log_status, "backlog": s.mqtt_backlog}

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=15)
        if self._on_state in self.stats.listeners:
            self.stats.listeners.remove(self._on_state)
        self.stats.mqtt_connected = False
        self.outbox.close()


class _Session:
    """One connection: CONNACK, online + discovery, then the outbox in order until the link or the kiosk ends.
    Single-threaded (client.loop), so paho's callbacks and this code never race."""

    FLUSH_ON_STOP_S = 3.0  # a stopping kiosk sends what is left for this long, then says offline

    def __init__(self, out: MqttOutput, client) -> None:
        self.out, self.client = out, client
        self.connected = self.closed = self.greeted = False
        self.refused: str | None = None
        self.inflight: dict[int, int] = {}  # mid -> seq
        self.acked: list[int] = []
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *_: setattr(self, "closed", True)
        client.on_publish = lambda _c, _u, mid, _rc, _p: self.acked.append(mid)

    def _on_connect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            self.refused = str(reason_code)
        else:
            self.connected = True

    def run(self) -> bool:
        """True when the broker accepted the connection (so the caller's back-off starts again small)."""
        out, client = self.out, self.client
        deadline, last_seq, state_at, state_sent, prune_at = time.monotonic() + 10, 0, 0.0, None, 0.0
        stop_deadline = None
        try:
            while True:
                rc = client.loop(timeout=0.05)
                if self.refused:  # CONNACK said no (bad password, not authorised); the broker then hangs up
                    out._note_error(f"broker refused the connection: {self.refused}")
                    return False
                if rc != 0 or self.closed:
                    out._note_error("connection lost")
                    return self.connected
                if not self.connected:
                    if time.monotonic() > deadline:
                        out._note_error("no CONNACK within 10 s")
                        return False
                    continue
                if not self.greeted:
                    self._hello()
                self._settle_acks()
                if len(self.inflight) < WINDOW:
                    for seq, message in out.outbox.pending(last_seq, WINDOW - len(self.inflight)):
                        info = client.publish(out.topics["events"], message, qos=1)
                        if info.rc != 0:
                            break
                        self.inflight[info.mid], last_seq = seq, seq
                now = time.monotonic()
                state = out.state()
                if now - state_at >= 60 or (now - state_at >= STATE_EVERY_S and state != state_sent):
                    client.publish(out.topics["state"], json.dumps({**state, "time": round(time.time(), 3)}), qos=0,
                                   retain=True)
                    state_at, state_sent = now, state
                if now - prune_at >= PRUNE_EVERY_S:
                    out.outbox.prune()
                    out.stats.mqtt_dropped, prune_at = out.outbox.dropped, now
                if out._stop.is_set():
                    stop_deadline = stop_deadline or now + self.FLUSH_ON_STOP_S
                    if (not self.inflight and not out.outbox.pending(last_seq, 1)) or now > stop_deadline:
                        self._goodbye()
                        return True
                elif not self.inflight:
                    out._wake.wait(0.1)  # idle: sleep until an event arrives (or 0.1 s for the keepalive)
                    out._wake.clear()
        finally:
            out.stats.mqtt_connected = False
            client.disconnect()

    def _hello(self) -> None:
        out = self.out
        self.client.publish(out.topics["availability"], "online", qos=1, retain=True)
        if out.settings.discovery:
            for topic, config in out.discovery():
                self.client.publish(topic, config, qos=1, retain=True)
        out.stats.mqtt_connected, out.last_error, self.greeted = True, None, True
        log.info("mqtt: connected to %s:%d", out.settings.host, out.settings.port)

    def _settle_acks(self) -> None:
        if not self.acked:
            return
        acked, self.acked = self.acked, []
        seqs = [self.inflight.pop(mid) for mid in acked if mid in self.inflight]
        self.out.outbox.mark_sent(seqs)
        self.out.stats.mqtt_sent += len(seqs)
        self.out.stats.mqtt_backlog = self.out.outbox.backlog()

    def _goodbye(self) -> None:
        """A clean stop: the retained availability says offline (the will only covers an unclean end)."""
        info = self.client.publish(self.out.topics["availability"], "offline", qos=1, retain=True)
        end = time.monotonic() + 2
        while not info.is_published() and time.monotonic() < end and self.client.loop(timeout=0.05) == 0:
            pass
