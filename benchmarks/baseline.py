"""The CI gate: compare a report with an older one (or a committed board reference).

A regression is flagged only when the intervals separate: the current p50's 95 % interval lies wholly
above the baseline's, by more than the --max-regression band (current lower bound > baseline upper bound
x (1 + band)). A report from before intervals counts as a zero-width interval at its p50.
"""

from __future__ import annotations

from benchmarks.speedprobe import baseline_speed
from benchmarks.stats import ci_of


def compare(current: dict, baseline: dict, max_regression_pct: float, accuracy_tolerance_pp: float = 0.1) -> dict:
    """Per configuration id present in both: p50 change and accuracy change; regressions listed."""
    old = {r["config"]["id"]: r for r in baseline.get("rows", []) if r.get("status") == "ok"}
    changes, regressions, faster = [], [], []
    for r in current.get("rows", []):
        o = old.get(r["config"]["id"])
        if o is None or r.get("status") != "ok":
            continue
        delta = (r["p50_ms"] / o["p50_ms"] - 1) * 100 if o["p50_ms"] > 0 else 0.0
        change = {"id": r["config"]["id"], "p50_ms": r["p50_ms"], "baseline_p50_ms": o["p50_ms"],
                  "p50_change_pct": round(delta, 2)}
        if r.get("accuracy") is not None and o.get("accuracy") is not None:
            change["accuracy_change_pp"] = round((r["accuracy"] - o["accuracy"]) * 100, 3)
        changes.append(change)
        (lo, hi), (o_lo, o_hi) = ci_of(r), ci_of(o)
        band = 1 + max_regression_pct / 100
        change["separated"] = lo is not None and o_hi is not None and lo > o_hi * band
        if change["separated"]:
            regressions.append(f"{change['id']}: p50 {r['p50_ms']:.3f} ms [{lo:.3f}, {_fmt(hi)}] is {delta:.1f}% "
                               f"slower than baseline {o['p50_ms']:.3f} ms [{_fmt(o_lo)}, {o_hi:.3f}]: the intervals "
                               f"separate by more than the {max_regression_pct}% band")
        elif delta > max_regression_pct:
            change["note"] = "slower than the band, but the intervals do not separate: not flagged"
        elif hi is not None and o_lo is not None and hi * band < o_lo:
            # Outside the band on the fast side: usually a different setup (governor, threads), worth a look.
            faster.append(f"{change['id']}: p50 {r['p50_ms']:.3f} ms is {-delta:.1f}% faster than baseline")
        if change.get("accuracy_change_pp", 0) < -accuracy_tolerance_pp:
            regressions.append(f"{change['id']}: accuracy dropped {-change['accuracy_change_pp']:.2f} pp")
    return {"rule": "regression when current p50 interval's lower bound > baseline's upper bound x (1 + band)",
            "max_regression_pct": max_regression_pct, "compared": len(changes), "changes": changes,
            "regressions": regressions, "faster_than_band": faster,
            "baseline_device": baseline.get("device", {}).get("cpu_model"),
            "machine_speed": baseline_speed(current, baseline)}


def _fmt(v: float | None) -> str:
    return "unbounded" if v is None else f"{v:.3f}"
