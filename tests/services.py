"""Real services for the operator-side tests, each started by the test on a free loopback port and always
stopped: the kiosk (the `edge-kiosk` console script, headless, on the built-in sample clip), Debian's
mosquitto and Debian's Prometheus. Under CI=true a missing system tool fails instead of skipping."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, REPO


def need(tool: str, package: str) -> str:
    """The tool's path; skips without it, except under CI=true where a missing tool is a failure."""
    path = shutil.which(tool) or next((p for p in (f"/usr/sbin/{tool}", f"/usr/bin/{tool}") if Path(p).exists()),
                                      None)
    if path is None:
        message = f"{tool} not installed (apt-get install {package}; `make test` does it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, headers: dict | None = None, timeout: float = 5) -> tuple[int, dict, bytes]:
    """(status, headers, body) without raising on 4xx/5xx."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def terminate(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, and SIGKILL if it is still there after `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_until(check, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


class Kiosk:
    """`edge-kiosk --headless --config <tmp>/kiosk.yaml --json` as a user runs it; stopped with SIGTERM."""

    def __init__(self, tmp: Path, config: dict, extra_args: tuple[str, ...] = ()) -> None:
        self.config_path = tmp / "kiosk.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log = tmp / "kiosk.stderr"
        self.proc = subprocess.Popen([str(BIN / "edge-kiosk"), "--config", str(self.config_path), "--headless",
                                      "--json", *extra_args], stdout=subprocess.PIPE, stderr=self.log.open("w"),
                                     text=True, cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})

    def wait_healthy(self, port: int, timeout: float = 60) -> None:
        def healthy() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kiosk exited {self.proc.returncode}: {self.log.read_text()[-800:]}")
            try:
                return http_get(f"http://127.0.0.1:{port}/healthz", timeout=2)[0] == 200
            except OSError:
                return False

        wait_until(healthy, timeout, "the kiosk's /healthz")

    def stop(self, timeout: float = 30) -> dict:
        """SIGTERM, then the run summary it printed (a JSON line {"summary": ...})."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
        return next((x["summary"] for x in reversed(lines) if "summary" in x), {})


class Mosquitto:
    """Debian's mosquitto on a loopback port, with persistence in `root` so a restart keeps sessions and
    retained messages (as a real installation does)."""

    def __init__(self, root: Path, port: int | None = None, extra: str = "", anonymous: bool = True) -> None:
        self.binary = need("mosquitto", "mosquitto")
        self.root, self.port = root, port or free_port()
        root.mkdir(parents=True, exist_ok=True)
        self.conf = root / "mosquitto.conf"
        user = pwd.getpwuid(os.getuid()).pw_name  # started as root, mosquitto would drop to a user of its own
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous {str(anonymous).lower()}\n"
                             f"persistence true\npersistence_location {root}/\nautosave_interval 1\nuser {user}\n"
                             f"log_dest file {root}/mosquitto.log\n{extra}")
        self.proc: subprocess.Popen | None = None

    def start(self) -> Mosquitto:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)

        def listening() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.proc.stderr.read()[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                return False

        wait_until(listening, 15, "mosquitto to listen", every=0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc, 10)
        self.proc = None


class Prometheus:
    """Debian's Prometheus with the generated config, its own TSDB in `root`, its API on a loopback port."""

    def __init__(self, root: Path, config: Path) -> None:
        self.binary = need("prometheus", "prometheus")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "prometheus.log"
        self.proc = subprocess.Popen([self.binary, f"--config.file={config}", f"--storage.tsdb.path={root / 'tsdb'}",
                                      f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                                     stdout=subprocess.DEVNULL, stderr=self.log.open("w"))
        wait_until(self.ready, 60, "Prometheus to be ready")

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"prometheus exited: {self.log.read_text()[-800:]}")
        try:
            return http_get(self.url + "/-/ready", timeout=2)[0] == 200
        except OSError:
            return False

    def api(self, path: str) -> dict:
        code, _, body = http_get(self.url + path, timeout=10)
        data = json.loads(body)
        assert code == 200 and data["status"] == "success", body[:500]
        return data["data"]

    def stop(self) -> None:
        terminate(self.proc, 20)
