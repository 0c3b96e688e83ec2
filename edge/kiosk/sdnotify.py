"""systemd's notify protocol without a dependency: READY=1, WATCHDOG=1 pings, STATUS= lines, STOPPING=1.

With `WatchdogSec=` in the unit, systemd restarts a kiosk whose loop stops pinging (a wedged camera
driver, a deadlock); pings are sent from the frame loop, so a hung loop really does stop them.
Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
"""

from __future__ import annotations

import os
import socket
import time


class SystemdNotifier:
    def __init__(self) -> None:
        address = os.environ.get("NOTIFY_SOCKET")
        self._sock = None
        if address:
            if address.startswith("@"):
                address = "\0" + address[1:]  # abstract namespace
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            # Non-blocking: a unix datagram queue holds ~10 messages; a reader that stalls must not stall us.
            self._sock.setblocking(False)
            self._address = address
        usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        self.interval = usec / 2e6 if usec else None  # ping at half the watchdog period
        self._last = 0.0

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, message: str) -> None:
        if self._sock is None:
            return
        try:
            self._sock.sendto(message.encode(), self._address)
        except OSError:
            pass  # systemd gone or its queue full (EAGAIN): never take the kiosk down for a status line

    def ready(self, status: str = "") -> None:
        self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def tick(self, status: str | None = None) -> None:
        """Called once per loop iteration; pings when the watchdog half-period has passed."""
        if self.interval is None or self._sock is None:
            return
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.send("WATCHDOG=1" + (f"\nSTATUS={status}" if status else ""))

    def stopping(self) -> None:
        self.send("STOPPING=1")
        if self._sock is not None:
            self._sock.close()
            self._sock = None
