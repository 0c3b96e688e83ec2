"""The kiosk's one HTTP server: /healthz for a watchdog, /metrics for Prometheus, and (opt-in) the live page.

Localhost by default. Every request passes the same gate before its route: a size limit (no bodies, a
bounded request line and headers), a per-address rate limit for network clients, then the token when one is
set; only /healthz answers without it, everything else (unknown paths included) is 401. Routes are an exact
table and the page's files are read into memory at start-up, so no URL ever becomes a filesystem path.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np

from edge.mask_pipeline import FrameResult
from edge.outputs.access import COOKIE, Gate, check_bind
from edge.outputs.base import KioskStats
from edge.outputs.metrics import health, metrics_text
from edge.outputs.site import LiveSite

log = logging.getLogger(__name__)
BOUNDARY = "edgesight-frame"
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
                    "Content-Security-Policy": "default-src 'self'; img-src 'self'; object-src 'none'; "
                                               "frame-ancestors 'none'", "Cache-Control": "no-store"}
__all__ = ["HttpOutput", "health", "metrics_text"]


class _Handler(BaseHTTPRequestHandler):
    server_version, sys_version = "EdgeSight", ""
    timeout = 15  # seconds a client may take to send its request (a stalled client is dropped)
    output: HttpOutput  # set on the per-server subclass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET  # all answered by the gate first

    def _dispatch(self) -> None:
        out = self.output
        size = len(self.raw_requestline) + sum(len(k) + len(v) + 4 for k, v in self.headers.items())
        if size > out.max_request_bytes:
            return self._text(431, f"request line and headers over {out.max_request_bytes} bytes\n")
        if self.headers.get("Transfer-Encoding") or (self.headers.get("Content-Length") or "0").strip() != "0":
            return self._text(413, "this endpoint takes no request bodies\n")
        if not out.gate.allow(self.client_address[0]):
            return self._text(429, "too many requests\n", {"Retry-After": "1"})
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/healthz" and self.command == "GET":
            code, body = health(out.stats)
            return self._send(code, "application/json", (json.dumps(body) + "\n").encode())
        token = (query.get("token") or [None])[0]
        if not out.gate.authorized(self.headers, token):
            return self._text(401, "a token is needed: Authorization: Bearer <token>, or open /?token=<token>\n",
                              {"WWW-Authenticate": 'Bearer realm="edgesight"'})
        if self.command != "GET":
            return self._text(405, "GET only\n", {"Allow": "GET"})
        if token is not None and url.path == "/" and out.gate.token is not None:
            # the link with the token sets an HttpOnly cookie and drops the token from the address bar
            return self._send(303, "text/plain", b"", {"Location": "/", "Set-Cookie": f"{COOKIE}={token}; "
                                                       "HttpOnly; SameSite=Strict; Path=/"})
        self._route(url.path)

    def _route(self, path: str) -> None:
        out, site = self.output, self.output.site
        if path == "/metrics":
            return self._send(200, "text/plain; version=0.0.4", metrics_text(out.stats).encode())
        if site is None:
            return self._text(404, "not found: try /healthz or /metrics (the live page: outputs.http.live)\n")
        if path == "/api/status":
            return self._json(site.status(out.stats))
        if path == "/api/events":
            return self._json({"events": site.events()})
        if path == "/snapshot.jpg":
            jpeg = site.live.snapshot()
            return self._send(200, "image/jpeg", jpeg) if jpeg else self._text(503, "no picture yet\n")
        if path == "/stream.mjpg":
            return self._stream(site)
        if path in site.assets:
            ctype, data = site.assets[path]
            return self._send(200, ctype, data)
        return self._text(404, "not found\n")

    def _stream(self, site: LiveSite) -> None:
        if site.live.viewers >= site.max_viewers:
            return self._text(503, f"{site.max_viewers} viewers already; try again later\n", {"Retry-After": "5"})
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        for k, v in SECURITY_HEADERS.items():
            self.send_header(k, v)
        self.end_headers()
        try:
            for jpeg in site.live.stream():
                self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                                 .encode() + jpeg + b"\r\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the viewer left

    def _json(self, obj: dict) -> None:
        self._send(200, "application/json", (json.dumps(obj) + "\n").encode())

    def _text(self, code: int, text: str, headers: dict[str, str] | None = None) -> None:
        self._send(code, "text/plain; charset=utf-8", text.encode(), headers)

    def _send(self, code: int, ctype: str, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args: object) -> None:
        log.debug("http: " + fmt, *args)


class HttpOutput:
    name = "http"

    def __init__(self, stats: KioskStats, host: str = "127.0.0.1", port: int = 8080, gate: Gate | None = None,
                 site: LiveSite | None = None, max_request_bytes: int = 8192) -> None:
        self.stats, self.gate, self.site, self.max_request_bytes = stats, gate or Gate(), site, max_request_bytes
        handler = type("Handler", (_Handler,), {"output": self})
        try:
            check_bind(host, self.gate.token)
            self._server = ThreadingHTTPServer((host, port), handler)
        except BaseException:
            if site is not None:
                site.live.close()
            raise
        self.address = self._server.server_address
        self._thread = threading.Thread(target=self._server.serve_forever, name="kiosk-http", daemon=True)
        self._thread.start()

    def handle(self, result: FrameResult, frame: np.ndarray) -> None:
        if self.site is not None:
            self.site.live.handle(result, frame)  # O(1): the live view's own thread does the work

    def close(self) -> None:
        if self.site is not None:
            self.site.live.close()  # ends the open streams first
        self._server.shutdown()
        self._server.server_close()
