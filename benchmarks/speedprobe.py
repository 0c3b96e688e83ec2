"""Did the machine itself change speed during the run? A fixed reference loop, timed beside the rounds.

Where no sensor can be read (a VM, a container), a host that slows a guest down (a neighbour, the host's own
clock) is invisible to the thermal and cpufreq readers, yet it moves every row of a report by the same few
per cent, and two back-to-back runs stop agreeing. The rounds therefore also time a fixed pure-Python
loop (the same integer steps every time, best of three; no library, no threads) after every round-robin
cycle, when no worker is timing (so it neither disturbs a row nor is disturbed by one): its time is the
machine's speed as a program sees it. The report gets the series (plotted), the
drift from the first third of the run to the last, a per-row ratio (the loop's time during the row's rounds
against the run's median) and a warning when the machine drifted; `--baseline` says how much faster or
slower the loop ran than in the baseline report, so a machine that moved is not read as a model that did.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.stats import BATCHES

PROBE = "a fixed pure-Python loop (30,000 integer steps, best of 3) timed in edge-bench's own process"
PROBE_STEPS = 30_000
DRIFT_WARN_PCT = 3.0  # the machine moving more than this during a run is worth a warning


def probe_ms(steps: int = PROBE_STEPS, repeats: int = 3) -> float:
    """The loop's best time of `repeats`, in ms: the best, because a preemption only ever adds."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        acc = 0
        for i in range(steps):
            acc = (acc + i * i) & 0xFFFF
        best = min(best, time.perf_counter() - t0)
    return best * 1000


class SpeedLog:
    """The loop's samples, one per `tick()` (benchmarks.rounds calls it between round-robin cycles)."""

    def __init__(self) -> None:
        self.series: list[dict] = []

    def tick(self) -> None:
        self.series.append({"t": round(time.time(), 3), "probe_ms": round(probe_ms(), 4)})


def machine_speed_now(samples: int = 15) -> float:
    """The loop's median over a few samples: the machine's speed at one moment (before or after a run)."""
    return round(float(np.median([probe_ms() for _ in range(samples)])), 4)


def speed_summary(series: list[dict]) -> dict | None:
    """The loop's p50 over the run and its drift: the last third's p50 against the first third's (+: slower)."""
    values = [s["probe_ms"] for s in series if s.get("probe_ms") is not None]
    if len(values) < 2:
        return None
    third = max(1, len(values) // 3)
    first, last = float(np.median(values[:third])), float(np.median(values[-third:]))
    stretch = speed_range(series)
    return {"probe": PROBE, "samples": len(values), "p50_ms": round(float(np.median(values)), 4),
            "first_third_p50_ms": round(first, 4), "last_third_p50_ms": round(last, 4),
            "drift_pct": round((last / first - 1) * 100, 2),
            "range": [round(v, 4) for v in stretch] if stretch else None}


def row_speed_ratio(series: list[dict], span: list[float], run_p50: float) -> float | None:
    """The loop's median time during a row's timed span against the run's (1.05: the machine was 5 % slower);
    a span shorter than the sampling interval takes the nearest sample."""
    timed = [s for s in series if s.get("probe_ms") is not None]
    inside = [s["probe_ms"] for s in timed if span[0] <= s["t"] <= span[1]]
    if not inside and timed:
        inside = [min(timed, key=lambda s: abs(s["t"] - span[0]))["probe_ms"]]
    return round(float(np.median(inside)) / run_p50, 4) if inside and run_p50 > 0 else None


def speed_range(series: list[dict], stretches: int = BATCHES) -> tuple[float, float] | None:
    """How far the machine's speed moved during the run: (fastest, slowest) of the loop's medians over
    `stretches` equal stretches of wall-clock time, each against the loop's median over the whole run (the
    first at most 1.0, the second at least 1.0); None with fewer samples than stretches. Stretches of time,
    not of samples: the loop runs once per round-robin cycle, and cycles shorten as rows finish. Medians,
    because one sample of the loop moves by a per cent on its own."""
    timed = [(s["t"], s["probe_ms"]) for s in series if s.get("probe_ms") is not None]
    if len(timed) < stretches:
        return None
    whole = float(np.median([v for _, v in timed]))
    start, end = timed[0][0], timed[-1][0]
    width = (end - start) / stretches or 1.0
    groups: list[list[float]] = [[] for _ in range(stretches)]
    for t, v in timed:
        groups[min(stretches - 1, int((t - start) / width))].append(v)
    medians = [float(np.median(g)) for g in groups if g]
    return min(1.0, min(medians) / whole), max(1.0, max(medians) / whole)


def widen_for_machine(rows: list[dict], series: list[dict]) -> None:
    """Each measured row's p50 and p90 intervals, stretched by the machine's range of speed over the run.

    A row is timed over a minute or two of a run that takes several, and a shared machine's speed wanders
    over minutes: the same configuration timed a minute later (or in the next run) reads that much faster or
    slower, and no interval from the row's own runs can know it. So the published interval is the row's own
    one (kept as `p50_ci_own_ms`, with the width the stopping rule saw as `p50_ci_half_width_own_pct`) times
    the loop's (fastest, slowest) stretch relative to the run: an envelope for where this configuration's p50
    lands on this machine as the machine was during the run. It is wider than the 95 % statement of the own
    interval and not part of it; even a steady machine adds the loop's own noise, about ±1 %."""
    span = speed_range(series)
    if span is None:
        return
    low, high = span
    for r in rows:
        if r.get("status") != "ok" or not r.get("p50_ci_ms"):
            continue
        r["machine_speed_range"] = [round(low, 4), round(high, 4)]
        r["p50_ci_half_width_own_pct"] = r.get("p50_ci_half_width_pct")
        for name in ("p50", "p90"):
            lo, hi = r[f"{name}_ci_ms"]
            r[f"{name}_ci_own_ms"] = [lo, hi]
            r[f"{name}_ci_ms"] = [None if lo is None else lo * low, None if hi is None else hi * high]
        lo, hi = r["p50_ci_ms"]
        if lo is not None and hi is not None and r["p50_ms"] > 0:
            r["p50_ci_half_width_pct"] = max(r["p50_ms"] - lo, hi - r["p50_ms"]) / r["p50_ms"] * 100
        if r.get("throughput_ci_ips") and r.get("batch"):  # offline rows: images/s from the same interval
            b = r["batch"]
            r["throughput_ci_ips"] = [b * 1000.0 / hi if hi else None, b * 1000.0 / lo if lo else None]


def speed_warnings(summary: dict | None) -> list[str]:
    if summary is None or abs(summary["drift_pct"]) <= DRIFT_WARN_PCT:
        return []
    way = "slower" if summary["drift_pct"] > 0 else "faster"
    return [f"the machine itself ran {abs(summary['drift_pct']):.1f} % {way} at the end of the run than at the start "
            "(reference loop): rows measured at different times are not on the same footing; the intervals are "
            "stretched by the machine's range during this run, and a change between runs beyond it is not covered"]


def baseline_speed(current: dict, baseline: dict) -> dict | None:
    """How the reference loop compares between two reports (None when either lacks it)."""
    now = ((current.get("telemetry") or {}).get("machine_speed") or {}).get("p50_ms")
    then = ((baseline.get("telemetry") or {}).get("machine_speed") or {}).get("p50_ms")
    if not now or not then:
        return None
    change = (now / then - 1) * 100
    note = (f"the reference loop ran {abs(change):.1f} % {'slower' if change > 0 else 'faster'} than in the baseline "
            "run: that much of any difference is the machine, not the model")
    return {"p50_ms": now, "baseline_p50_ms": then, "change_pct": round(change, 2), "note": note}
