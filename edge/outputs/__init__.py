"""Kiosk outputs by name, built from the config. A missing vendor library (gpiozero) is a log line, not a crash."""

from __future__ import annotations

import logging

from edge.outputs.base import KioskStats, Output

log = logging.getLogger(__name__)


def build_outputs(settings, stats: KioskStats) -> list[Output]:
    """`settings` is the config's `outputs` section (edge.kiosk.config.OutputSettings)."""
    from edge.outputs.eventlog import SQLiteEventLog
    from edge.outputs.gpio import GpioOutput
    from edge.outputs.jsonl import JsonLinesOutput

    outs: list[Output] = []
    if settings.jsonl.enabled:
        outs.append(JsonLinesOutput(every_frame=settings.jsonl.every_frame))
    if settings.sqlite.enabled:
        outs.append(SQLiteEventLog(settings.sqlite.path, save_faces=settings.sqlite.save_faces))
    if settings.gpio.enabled:
        g = settings.gpio
        try:
            outs.append(GpioOutput(g.green, g.red, g.buzzer, g.relay, g.door_open_s, g.pin_factory,
                                   alert_s=g.alert_s))
        except Exception as exc:  # noqa: BLE001 - no pins here (BadPinFactory ...) must not stop the kiosk
            log.warning("gpio output disabled: %s", exc)
    if settings.mqtt.enabled:
        from edge.outputs.mqtt import MqttOutput

        outs.append(MqttOutput(settings.mqtt, stats))
    if settings.http.enabled:
        outs.append(_http(settings, stats))
    return outs


def _http(settings, stats: KioskStats):
    """The HTTP output with its gate (token, limits) and, when enabled, the live page."""
    from edge.outputs.access import Gate, RateLimiter, check_bind, load_token
    from edge.outputs.http import HttpOutput

    h = settings.http
    token = load_token(h.token_file) if h.token_file else None
    check_bind(h.host, token)
    site = None
    if h.live.enabled:
        from edge.outputs.live import LiveView
        from edge.outputs.site import LiveSite

        live = LiveView(stats, fps=h.live.fps, quality=h.live.quality, width=h.live.width, privacy=h.live.privacy,
                        stream_faces=h.live.stream_faces)
        site = LiveSite(live, settings.sqlite.path if settings.sqlite.enabled else None, h.live.events,
                        h.live.max_viewers)
    return HttpOutput(stats, h.host, h.port, Gate(token, RateLimiter(h.rate_per_s, h.rate_burst)), site,
                      h.max_request_bytes)


__all__ = ["KioskStats", "Output", "build_outputs"]
