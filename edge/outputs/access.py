"""Who may talk to the kiosk's HTTP endpoint.

Loopback by default. Opening it to the LAN needs a token, generated per device by `edge-flash` (never in a
profile or the repo) and kept in a file only its owner can read, as ssh insists for its keys. The token is
compared in constant time (hmac.compare_digest), so response timing does not leak how much of a guess was
right. Clients on the network are rate-limited per address (a token bucket); local ones are not, since the
agents on the device itself (a watchdog, a local Prometheus) are trusted and a limit would only hide them.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from http.cookies import CookieError, SimpleCookie
from pathlib import Path

from edge.errors import EdgeSightError

COOKIE = "edgesight_token"
MIN_TOKEN_CHARS = 16
TOKEN_RE = re.compile(rf"[A-Za-z0-9._~-]{{{MIN_TOKEN_CHARS},512}}")  # safe in a header, a cookie and a URL


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname: it may resolve to anything, so treat it as the network


def load_token(path: str | Path) -> str:
    """The token in `path`; refused when missing, short, or readable by group or others."""
    p = Path(path).expanduser()
    try:
        st = p.stat()
        text = p.read_text().strip()
    except OSError as exc:
        raise EdgeSightError(f"outputs.http.token_file: cannot read {p} ({exc.strerror}); `edge-flash render` "
                             "writes one per device, or: umask 077; python3 -c 'import secrets; "
                             f"print(secrets.token_urlsafe(32))' > {p}") from exc
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise EdgeSightError(f"outputs.http.token_file: {p} is readable by others (mode "
                             f"{stat.S_IMODE(st.st_mode):o}); run: chmod 600 {p}")
    if not TOKEN_RE.fullmatch(text):
        raise EdgeSightError(f"outputs.http.token_file: {p} must hold one token of at least {MIN_TOKEN_CHARS} "
                             "URL-safe characters (A-Z a-z 0-9 - _ . ~)")
    return text


class RateLimiter:
    """A token bucket per client address: `burst` requests at once, refilled at `per_s`. Memory is bounded:
    the least recently seen addresses are forgotten past `max_clients`."""

    def __init__(self, per_s: float = 20.0, burst: int = 40, max_clients: int = 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_s, self.burst, self.max_clients, self._clock = per_s, burst, max_clients, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> (tokens, last time)
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(address, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.per_s)
            ok = tokens >= 1.0
            self._buckets[address] = (tokens - 1.0 if ok else tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return ok


class Gate:
    """The checks every request passes before its route: rate limit, then the token (when one is set)."""

    def __init__(self, token: str | None = None, limiter: RateLimiter | None = None,
                 limit_loopback: bool = False) -> None:
        self.token = token
        self.limiter = limiter or RateLimiter()
        self.limit_loopback = limit_loopback

    def allow(self, address: str) -> bool:
        if not self.limit_loopback and is_loopback(address):
            return True
        return self.limiter.allow(address)

    def authorized(self, headers: Mapping[str, str], query_token: str | None = None) -> bool:
        """A bearer header (scrapers, scripts), the page's cookie, or ?token= (the link that sets the cookie)."""
        if self.token is None:
            return True
        offered = [query_token]
        auth = headers.get("Authorization") or ""
        if auth[:7].lower() == "bearer ":
            offered.append(auth[7:].strip())
        try:
            jar = SimpleCookie(headers.get("Cookie") or "")
        except CookieError:
            jar = SimpleCookie()
        if COOKIE in jar:
            offered.append(jar[COOKIE].value)
        expected = self.token.encode()
        # every candidate is compared, so the time taken does not depend on which one (if any) matched
        return sum(hmac.compare_digest(c.encode(), expected) for c in offered if c is not None) > 0


def check_bind(host: str, token: str | None) -> None:
    if token is None and not is_loopback(host):
        raise EdgeSightError(f"outputs.http.host: {host} is reachable from the network: set "
                             "outputs.http.token_file (edge-flash generates one per device) or bind to 127.0.0.1")


def new_token() -> str:
    import secrets

    return secrets.token_urlsafe(32)


def write_token(path: Path, token: str) -> None:
    """Create `path` with mode 0600 from the start (no window in which it is world-readable)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
