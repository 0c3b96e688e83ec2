"""The report as a terminal table, CSV and Markdown: one row per configuration."""

from __future__ import annotations

import csv
import io

COLUMNS = ("id", "status", "runtime", "size_kb", "load_ms", "first_ms", "runs", "rounds", "stopped_by", "mean_ms",
           "p50_ms", "p50_lo", "p50_hi", "p90_ms", "p90_lo", "p90_hi", "p99_ms", "max_ms", "ips", "rss_mb", "accuracy",
           "agreement", "coverage", "throttled", "mj_per_inf", "note")


def _coverage(r: dict) -> str:
    c = r.get("coverage")
    if not c:
        return ""
    if "delegated" in c:
        return f"{c['delegated']}/{c['nodes']} delegated"
    return ", ".join(f"{k.replace('ExecutionProvider', '')} {v}" for k, v in c.get("by_provider", {}).items())


def _bound(r: dict, name: str, side: int):
    ci = r.get(f"{name}_ci_ms") if r["status"] == "ok" else None
    if not ci:
        return ""
    return "unbounded" if ci[side] is None else round(ci[side], 4)


def with_ci(f: dict, name: str) -> str:
    """"0.163 [0.160, 0.166]": the percentile with its 95 % interval, as the tables show it."""
    if f[f"{name}_ms"] == "":
        return ""
    lo, hi = f[f"{name}_lo"], f[f"{name}_hi"]
    return f"{f[name + '_ms']} [{lo}, {hi}]" if lo != "" else str(f[f"{name}_ms"])


def _energy(r: dict):
    e = r.get("energy") or {}
    if r["status"] != "ok" or not e:
        return ""
    return round(e["mj_per_inference"], 4) if e.get("sensor") else "no sensor"


def flat_row(r: dict) -> dict:
    ok = r["status"] == "ok"

    def num(key: str, digits: int = 3, scale: float = 1.0):
        v = r.get(key)
        return round(v * scale, digits) if ok and v is not None else ""

    return {
        "id": r["config"]["id"], "status": r["status"], "runtime": r.get("runtime", ""),
        "size_kb": num("size_bytes", 1, 1 / 1024), "load_ms": num("load_ms", 2), "first_ms": num("first_inference_ms"),
        "runs": r.get("runs", ""), "rounds": r.get("rounds", ""), "stopped_by": r.get("stopped_by", ""),
        "mean_ms": num("mean_ms"), "p50_ms": num("p50_ms", 4), "p50_lo": _bound(r, "p50", 0),
        "p50_hi": _bound(r, "p50", 1),
        "p90_ms": num("p90_ms", 4), "p90_lo": _bound(r, "p90", 0), "p90_hi": _bound(r, "p90", 1),
        "p99_ms": num("p99_ms"), "max_ms": num("max_ms"), "ips": num("throughput_ips", 1),
        "rss_mb": num("peak_rss_bytes", 1, 1 / 2**20), "accuracy": num("accuracy", 4), "agreement": num("agreement", 4),
        "coverage": _coverage(r),
        "throttled": {True: "yes", False: "no", None: "unknown"}[r.get("throttled")] if ok else "",
        "mj_per_inf": _energy(r),
        "note": r.get("reason", "") or "; ".join(r.get("notes", [])),
    }


def to_csv(report: dict) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    for r in report["rows"]:
        writer.writerow(flat_row(r))
    return buf.getvalue()


def _cell(f: dict, c: str) -> str:
    return with_ci(f, c[:3]) if c in ("p50 [95% CI]", "p90 [95% CI]") else str(f[c])


def _md_table(rows: list[dict], cols: tuple[str, ...]) -> list[str]:
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(_cell(f, c) for c in cols) + " |" for f in rows]
    return lines


def _settings_line(s: dict) -> str:
    runs = f"{s['runs']} timed runs" if s.get("runs") else s.get("stopping", "stopping rule")
    scenario = "offline (p50 is one whole batch; ips from it)" if s.get("scenario") == "offline" else "single-stream"
    return (f"- settings: {scenario}, {runs}, after {s['warmup']} warm-up, batch {s['batch']}; medians and "
            f"percentiles, not best-of; intervals: {s.get('ci_method', 'none (an older report)')}")


def to_markdown(report: dict) -> str:
    d, s = report["device"], report["settings"]
    flat = [flat_row(r) for r in report["rows"]]
    ran = [f for f in flat if f["status"] == "ok"]
    other = [f for f in flat if f["status"] != "ok"]
    lines = [
        "# edge-bench report", "",
        f"- device: {d['cpu_model']} ({d['machine']}, {d['cores']} cores, governor {d.get('governor') or 'unknown'}),"
        f" {d['os']}, Python {d['python']}" + (f", board {d['board']}" if d.get("board") else ""),
        _settings_line(s), f"- command: `{report['command']}`", f"- created: {report['created']}", "",
        "## Configurations that ran", "",
    ]
    lines += _md_table(ran, ("id", "size_kb", "load_ms", "first_ms", "p50 [95% CI]", "p90 [95% CI]", "p99_ms",
                             "runs", "stopped_by", "ips", "rss_mb", "accuracy", "agreement", "coverage", "throttled",
                             "mj_per_inf"))
    if other:
        lines += ["", "## Skipped or failed", ""] + _md_table(other, ("id", "status", "note"))
    lines += _per_op_lines(report["rows"])
    for rec in report.get("recommendation") or []:
        lines += ["", f"**Recommendation for {rec['input']}:** `{rec['pick']}` — {rec['why']}"]
    if report.get("baseline"):
        b = report["baseline"]
        lines += ["", f"## Against baseline ({b['compared']} configurations, limit {b['max_regression_pct']}%)", ""]
        lines += [f"- REGRESSION {x}" for x in b["regressions"]] or ["- no regressions"]
        lines += [f"- faster than the band (check the setup): {x}" for x in b.get("faster_than_band", [])]
        if b.get("machine_speed"):
            lines.append(f"- machine: {b['machine_speed']['note']}")
    speed = (report.get("telemetry") or {}).get("machine_speed")
    if speed:
        lines += ["", f"Machine speed ({speed['probe']}): p50 {speed['p50_ms']:.3f} ms over {speed['samples']} "
                  f"samples, {speed['drift_pct']:+.1f} % from the first third of the run to the last"
                  + (f"; the intervals are stretched by its range over six stretches of the run, "
                     f"x{speed['range'][0]:.3f} to x{speed['range'][1]:.3f}." if speed.get("range") else ".")]
    lines += [""] + [f"> warning: {w}" for w in report.get("warnings", [])]
    return "\n".join(lines).rstrip() + "\n"


def _per_op_lines(rows: list[dict]) -> list[str]:
    """Top ops by share per measured row; a runtime without a profiler says so, once."""
    profiled = [r for r in rows if r["status"] == "ok" and (r.get("per_op") or {}).get("available")]
    unprofiled = {r["per_op"]["reason"] for r in rows if r["status"] == "ok" and r.get("per_op")
                  and not r["per_op"].get("available")}
    if not profiled and not unprofiled:
        return []
    out = ["", "## Per-op time (top ops by share of the profiled inference)", ""]
    for r in profiled:
        p = r["per_op"]
        tops = ", ".join(f"{o['op']} x{o['nodes']} {o['share'] * 100:.0f}%" for o in p["top_ops"][:4])
        out.append(f"- `{r['config']['id']}`: {p['total_ms']:.3f} ms in {p['nodes']} nodes ({p['source']}, "
                   f"{p['runs']} runs): {tops}")
    out += [f"- TFLite rows: {reason}; their delegate partitions are in the coverage column" for reason in unprofiled]
    return out


def to_terminal(report: dict) -> str:
    cols = ("id", "size_kb", "load_ms", "first_ms", "p50_ms", "p50_95ci", "p90_ms", "p90_95ci", "runs",
            "stopped_by", "accuracy", "agreement", "coverage")
    flat = [{**f, "p50_95ci": f"[{f['p50_lo']}, {f['p50_hi']}]", "p90_95ci": f"[{f['p90_lo']}, {f['p90_hi']}]"}
            for f in (flat_row(r) for r in report["rows"])]
    ran = [f for f in flat if f["status"] == "ok"]
    widths = {c: max(len(c), *(len(str(f[c])) for f in ran)) if ran else len(c) for c in cols}
    out = ["  ".join(c.ljust(widths[c]) for c in cols)]
    out += ["  ".join(str(f[c]).ljust(widths[c]) for c in cols) for f in ran]
    for f in flat:
        if f["status"] != "ok":
            out.append(f"{f['id']}: {f['status']}: {f['note']}")
    return "\n".join(out)
