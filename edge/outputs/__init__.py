"""Kiosk outputs by name, built from the config. A missing vendor library (gpiozero) is a log line, not a crash."""

from __future__ import annotations

import logging

from edge.outputs.base import KioskStats, Output

log = logging.getLogger(__name__)


def build_outputs(settings, stats: KioskStats) -> list[Output]:
    """`settings` is the config's `outputs` section (edge.kiosk.config.OutputSettings)."""
    from edge.outputs.eventlog import SQLiteEventLog
    from edge.outputs.gpio import GpioOutput
    from edge.outputs.http import HttpOutput
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
    if settings.http.enabled:
        outs.append(HttpOutput(stats, settings.http.host, settings.http.port))
    return outs


__all__ = ["KioskStats", "Output", "build_outputs"]
