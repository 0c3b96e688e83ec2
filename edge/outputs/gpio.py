"""Lights, buzzer and door relay through gpiozero; tested with gpiozero's own mock pin factory.

States: idle (nobody settled in view: all off), allow (everyone in view masked: green on, relay
energised for `door_open_s` after the last masked frame), deny (anyone unmasked: red on, relay
off, two beeps once per unmasked person), alert (monitor mode, e.g. a pain bundle: a face's score sustained
above threshold; red on for `alert_s`, three long beeps once per alert; the relay is left alone).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from edge.errors import EdgeSightError
from edge.mask_pipeline import FrameResult

log = logging.getLogger(__name__)


def set_pin_factory(name: str) -> None:
    """`auto` leaves gpiozero's own choice (lgpio, rpigpio ... on a Pi); `mock` simulates pins anywhere."""
    from gpiozero import Device

    if name == "auto":
        return
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        Device.pin_factory = MockFactory()
        return
    import importlib

    modules = {"lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory"), "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
               "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory"), "native": ("gpiozero.pins.native", "NativeFactory")}
    if name not in modules:
        raise EdgeSightError(f"gpio.pin_factory: {name!r} is not one of auto, mock, {', '.join(modules)}")
    module, cls = modules[name]
    Device.pin_factory = getattr(importlib.import_module(module), cls)()


class GpioOutput:
    name = "gpio"

    def __init__(self, green: int | None = None, red: int | None = None, buzzer: int | None = None,
                 relay: int | None = None, door_open_s: float = 3.0, pin_factory: str = "auto",
                 clock: Callable[[], float] = time.monotonic, alert_s: float = 5.0) -> None:
        try:
            import gpiozero
        except ImportError as exc:
            raise EdgeSightError("gpio output needs gpiozero: pip install 'edgesight[pi]'") from exc
        set_pin_factory(pin_factory)
        self.green = gpiozero.LED(green) if green is not None else None
        self.red = gpiozero.LED(red) if red is not None else None
        self.buzzer = gpiozero.Buzzer(buzzer) if buzzer is not None else None
        self.relay = gpiozero.OutputDevice(relay) if relay is not None else None
        self.door_open_s, self._clock = door_open_s, clock
        self._open_until = self._alert_until = 0.0
        self.alert_s = alert_s
        self.state = "idle"

    def handle(self, result: FrameResult, frame: np.ndarray) -> None:
        verdicts = [f.masked for f in result.faces if f.masked is not None]
        now = self._clock()
        if result.alerts:
            self._alert_until = now + self.alert_s
            if self.buzzer:
                self.buzzer.beep(on_time=0.5, off_time=0.2, n=3, background=True)
        if now < self._alert_until:
            self.state = "alert"
        elif any(v is False for v in verdicts):
            self.state, self._open_until = "deny", 0.0
        elif verdicts:
            self.state, self._open_until = "allow", now + self.door_open_s
        else:
            self.state = "idle"
        if self.buzzer and any(f.first_settled and f.masked is False for f in result.faces):
            self.buzzer.beep(on_time=0.15, off_time=0.1, n=2, background=True)
        for device, on in ((self.green, self.state == "allow"), (self.red, self.state in ("deny", "alert")),
                           (self.relay, now < self._open_until)):
            if device is not None and bool(device.value) != on:
                device.on() if on else device.off()

    def close(self) -> None:
        for device in (self.green, self.red, self.buzzer, self.relay):
            if device is not None:
                device.close()
