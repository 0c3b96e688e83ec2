"""Temperature, clock, throttling and the machine's speed sampled in a background thread while the rounds run.

A published 13 ms that was really measured at 80 ms because the board throttled halfway is caught here:
the time series goes into the report (and a plot into the HTML page), and every row whose timed span
saw a throttled sample is marked. Where no sensor is readable, the reference loop the rounds time
(benchmarks.speedprobe) still shows a machine that changed speed; its series is added to the report here.
"""

from __future__ import annotations

import threading
import time

from benchmarks.sensors import Device, cpu_freqs, governor, is_throttled, passive_trips, temperatures, throttled_bits
from benchmarks.speedprobe import row_speed_ratio, speed_summary, speed_warnings


def read_sample(dev: Device) -> dict:
    return {"t": time.time(), "temps": temperatures(dev), "freqs": cpu_freqs(dev),
            "throttled_bits": throttled_bits(dev)}


class Sampler:
    """Samples every `interval_s` until stopped; the samples, compacted, in `series`."""

    def __init__(self, dev: Device | None = None, interval_s: float = 1.0) -> None:
        self.dev = dev or Device()
        self.interval_s = interval_s
        self.trips = passive_trips(self.dev)
        self.governor = governor(self.dev)
        self.series: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="edge-bench-telemetry", daemon=True)

    def _loop(self) -> None:
        while True:
            self.series.append(self.compact(read_sample(self.dev)))
            if self._stop.wait(self.interval_s):
                return

    def compact(self, s: dict) -> dict:
        freqs = [cur for cur, _ in s["freqs"].values()]
        return {"t": round(s["t"], 3), "temp_c": max(s["temps"].values()) if s["temps"] else None,
                "freq_mhz": round(min(freqs), 1) if freqs else None, "throttled_bits": s["throttled_bits"],
                "throttled": is_throttled(s, self.trips, self.governor)}

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.series.append(self.compact(read_sample(self.dev)))

    def report(self, speed_series: list[dict] = ()) -> dict:
        """The report's `telemetry`: what could be read, and the series (and the reference loop's, from the
        rounds) with t relative to the start."""
        t0 = self.series[0]["t"] if self.series else 0.0
        have = {k: any(s[k] is not None for s in self.series) for k in ("temp_c", "freq_mhz", "throttled_bits")}
        return {"interval_s": self.interval_s, "sensors": {"temperature": have["temp_c"], "cpu_frequency":
                                                           have["freq_mhz"], "vcgencmd_throttled":
                                                           have["throttled_bits"]},
                "passive_trip_c": self.trips, "governor": self.governor, "start": t0,
                "series": [{**s, "t": round(s["t"] - t0, 3)} for s in self.series],
                "throttled_samples": sum(s["throttled"] for s in self.series),
                "machine_speed": speed_summary(list(speed_series)),
                "machine_speed_series": [{**s, "t": round(s["t"] - t0, 3)} for s in speed_series]}


def mark_rows(rows: list[dict], series: list[dict], speed_series: list[dict] = ()) -> None:
    """Each measured row: was any sample taken during its timed span throttled (None when no sensor could
    tell); its hottest and slowest; the machine's speed during it (the reference loop against the run's)."""
    speed_series = list(speed_series)
    speed = speed_summary(speed_series)
    for r in rows:
        span = r.get("timed_span")
        if r.get("status") != "ok" or not span:
            continue
        inside = [s for s in series if span[0] <= s["t"] <= span[1]] or \
            [min(series, key=lambda s: abs(s["t"] - span[0]))] if series else []
        watched = any(s["temp_c"] is not None or s["freq_mhz"] is not None or s["throttled_bits"] is not None
                      for s in inside)
        r["throttled"] = any(s["throttled"] for s in inside) if watched else None  # None: no sensor to say
        temps = [s["temp_c"] for s in inside if s["temp_c"] is not None]
        freqs = [s["freq_mhz"] for s in inside if s["freq_mhz"] is not None]
        r["thermal"] = {"samples": len(inside), "temp_c_max": max(temps) if temps else None,
                        "freq_mhz_min": min(freqs) if freqs else None}
        r["machine_speed_ratio"] = row_speed_ratio(speed_series, span, speed["p50_ms"]) if speed else None


def throttle_warnings(rows: list[dict], telemetry: dict) -> list[str]:
    hot = [r["config"]["id"] for r in rows if r.get("throttled")]
    out = []
    if hot:
        out.append(f"{len(hot)} row(s) measured while the device throttled ({', '.join(hot[:5])}"
                   f"{', ...' if len(hot) > 5 else ''}): their latency is not the device's unthrottled speed")
    if not any(telemetry["sensors"].values()):
        out.append("no temperature, CPU frequency or throttling sensor readable: throttling could not be watched"
                   + (" (the reference loop still watched the machine's speed)" if telemetry.get("machine_speed")
                      else ""))
    return out + speed_warnings(telemetry.get("machine_speed"))
