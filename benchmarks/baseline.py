"""The CI gate: compare a report with an older one (or a committed board reference)."""

from __future__ import annotations


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
        if delta > max_regression_pct:
            regressions.append(f"{change['id']}: p50 {r['p50_ms']:.3f} ms is {delta:.1f}% slower than baseline "
                               f"{o['p50_ms']:.3f} ms (limit {max_regression_pct}%)")
        elif delta < -max_regression_pct:
            # Outside the band on the fast side: usually a different setup (governor, threads), worth a look.
            faster.append(f"{change['id']}: p50 {r['p50_ms']:.3f} ms is {-delta:.1f}% faster than baseline")
        if change.get("accuracy_change_pp", 0) < -accuracy_tolerance_pp:
            regressions.append(f"{change['id']}: accuracy dropped {-change['accuracy_change_pp']:.2f} pp")
    return {"max_regression_pct": max_regression_pct, "compared": len(changes), "changes": changes,
            "regressions": regressions, "faster_than_band": faster,
            "baseline_device": baseline.get("device", {}).get("cpu_model")}
