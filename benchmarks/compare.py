"""edge-bench compare: many devices' reports side by side, per model and configuration.

Each device's p50 with its 95 % interval, the speed-up against a reference device (its p50 over this
one's; "indistinguishable" when the intervals overlap), and accuracy per device: int8 kernels differ
between ARM and x86, so the same file can score differently. A device is named by the folder its
report.json sits in (the Ansible bench playbook fetches reports/<inventory name>/report.json), else by
the file's stem.
"""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

from benchmarks.report.html import _log_scale, _ticks
from benchmarks.stats import ci_of, intervals_overlap

COLOURS = ("#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363", "#d6616b", "#8c6d31", "#17becf")


def load(paths: list[Path]) -> list[tuple[str, dict]]:
    """(device name, report) per path; a folder means its report.json."""
    out, seen = [], set()
    for p in paths:
        p = p / "report.json" if p.is_dir() else p
        if not p.is_file():
            raise ValueError(f"{p}: no such report (a report.json or the folder holding one)")
        report = json.loads(p.read_text())
        if report.get("tool") != "edge-bench" or "rows" not in report:
            raise ValueError(f"{p}: not an edge-bench report")
        name = p.parent.name if p.name == "report.json" and p.parent.name else p.stem
        base, n = name, 2
        while name in seen:
            name, n = f"{base}#{n}", n + 1
        seen.add(name)
        out.append((name, report))
    return out


def compare_reports(reports: list[tuple[str, dict]], reference: str | None = None) -> dict:
    """One entry per configuration id measured on at least one device."""
    if len(reports) < 1:
        raise ValueError("compare needs at least one report")
    names = [n for n, _ in reports]
    reference = reference or names[0]
    if reference not in names:
        raise ValueError(f"--reference {reference}: not one of the devices ({', '.join(names)})")
    by_dev = {n: {r["config"]["id"]: r for r in rep["rows"] if r.get("status") == "ok"} for n, rep in reports}
    ids = list(dict.fromkeys(i for n in names for i in by_dev[n]))
    entries = []
    for cid in ids:
        ref = by_dev[reference].get(cid)
        devices = {}
        for n in names:
            r = by_dev[n].get(cid)
            if r is None:
                continue
            d = {"p50_ms": r["p50_ms"], "p50_ci_ms": ci_of(r), "runs": r.get("runs"), "accuracy": r.get("accuracy"),
                 "throttled": bool(r.get("throttled"))}
            if ref is not None:
                d["speedup_vs_reference"] = round(ref["p50_ms"] / r["p50_ms"], 4)
                d["indistinguishable_from_reference"] = intervals_overlap(ci_of(r), ci_of(ref))
            devices[n] = d
        first = next(by_dev[n][cid] for n in names if cid in by_dev[n])
        entries.append({"id": cid, "model": first["config"]["label"], "format": first["config"]["format"],
                        "devices": devices})
    return {"tool": "edge-bench compare", "reference": reference, "devices": [
        {"name": n, "cpu_model": rep["device"].get("cpu_model"), "machine": rep["device"].get("machine"),
         "cores": rep["device"].get("cores"), "board": rep["device"].get("board"), "command": rep.get("command"),
         "created": rep.get("created")} for n, rep in reports], "entries": entries}


def _cell(d: dict | None, with_speedup: bool = True) -> str:
    if d is None:
        return "—"
    lo, hi = d["p50_ci_ms"]
    text = f"{d['p50_ms']:.4g} [{_b(lo)}, {_b(hi)}]"
    if with_speedup and "speedup_vs_reference" in d:
        text += f" ×{d['speedup_vs_reference']:.2f}" + ("≈" if d["indistinguishable_from_reference"] else "")
    return text + (" (throttled)" if d.get("throttled") else "")


def _b(v: float | None) -> str:
    return "unbounded" if v is None else f"{v:.4g}"


def to_markdown(result: dict) -> str:
    names = [d["name"] for d in result["devices"]]
    lines = ["# edge-bench compare", "", f"reference device: **{result['reference']}**; each cell: p50 ms [95 % "
             "interval] ×speed-up vs the reference (≈: intervals overlap, statistically indistinguishable)", ""]
    lines += [f"- {d['name']}: {d['cpu_model']} ({d['machine']}, {d['cores']} cores"
              f"{', ' + d['board'] if d.get('board') else ''}), `{d['command']}`, {d['created']}"
              for d in result["devices"]]
    cols = ["configuration"] + [f"{n} p50" for n in names] + [f"{n} accuracy" for n in names]
    lines += ["", "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for e in result["entries"]:
        accs = [e["devices"].get(n, {}).get("accuracy") for n in names]
        lines.append("| " + " | ".join([e["id"]] + [_cell(e["devices"].get(n)) for n in names]
                                       + ["" if a is None else f"{a:.4f}" for a in accs]) + " |")
    return "\n".join(lines) + "\n"


def to_csv(result: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "model", "format", "device", "p50_ms", "p50_lo", "p50_hi", "runs", "speedup_vs_reference",
                "indistinguishable_from_reference", "accuracy", "throttled"])
    for e in result["entries"]:
        for n, d in e["devices"].items():
            w.writerow([e["id"], e["model"], e["format"], n, d["p50_ms"], d["p50_ci_ms"][0], d["p50_ci_ms"][1],
                        d["runs"], d.get("speedup_vs_reference", ""), d.get("indistinguishable_from_reference", ""),
                        d["accuracy"], d["throttled"]])
    return buf.getvalue()


def compare_svg(result: dict) -> str:
    """Per configuration, one bar per device at its p50 with the interval as a whisker; log scale."""
    names = [d["name"] for d in result["devices"]]
    cells = [(e, n, d) for e in result["entries"] for n, d in e["devices"].items()]
    if not cells:
        return ""
    vals = [v for _, _, d in cells for v in (d["p50_ms"], *(x for x in d["p50_ci_ms"] if x is not None))]
    vmin, vmax = min(vals) * 0.7, max(vals) * 1.3
    left, w, bar_h = 300, 900, 9
    scale = _log_scale(vmin, vmax, left, w - 30)
    group_h = bar_h * len(names) + 8
    h = 50 + group_h * len(result["entries"]) + 14 * len(names)
    parts = [f'<svg id="compare-plot" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
             'aria-label="p50 latency per device">',
             f'<text x="{left}" y="14" font-size="12">p50 per invoke, ms, log scale; whisker = 95 % interval</text>']
    for t in _ticks(vmin, vmax):
        if vmin <= t <= vmax:
            parts.append(f'<line x1="{scale(t):.1f}" x2="{scale(t):.1f}" y1="22" y2="{h - 14 * len(names) - 10}" '
                         f'stroke="#ddd"/><text x="{scale(t) - 8:.1f}" y="{h - 14 * len(names) - 12}" '
                         f'font-size="10">{t:g}</text>')
    for gi, e in enumerate(result["entries"]):
        y0 = 26 + gi * group_h
        parts.append(f'<text x="4" y="{y0 + group_h / 2 + 3:.1f}" font-size="11">{html.escape(e["id"])}</text>')
        for di, n in enumerate(names):
            d = e["devices"].get(n)
            if d is None:
                continue
            y = y0 + di * bar_h
            colour = COLOURS[di % len(COLOURS)]
            parts.append(f'<rect class="bar" x="{left}" y="{y}" width="{max(scale(d["p50_ms"]) - left, 1):.1f}" '
                         f'height="{bar_h - 2}" fill="{colour}"><title>{html.escape(n)} {html.escape(e["id"])}: '
                         f'{html.escape(_cell(d))}</title></rect>')
            lo, hi = d["p50_ci_ms"]
            if lo is not None:
                x_hi = scale(hi) if hi is not None else w - 30
                parts.append(f'<line x1="{scale(lo):.1f}" x2="{x_hi:.1f}" y1="{y + bar_h / 2 - 1:.1f}" '
                             f'y2="{y + bar_h / 2 - 1:.1f}" stroke="black" stroke-width="1.5"/>')
    for di, n in enumerate(names):
        y = h - 14 * (len(names) - di) + 4
        parts.append(f'<rect x="{left}" y="{y - 9}" width="10" height="10" fill="{COLOURS[di % len(COLOURS)]}"/>'
                     f'<text x="{left + 14}" y="{y}" font-size="11">{html.escape(n)}'
                     f'{" (reference)" if n == result["reference"] else ""}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def accuracy_svg(result: dict) -> str:
    """Accuracy per configuration and device: where int8 kernels of two CPUs disagree, it shows."""
    names = [d["name"] for d in result["devices"]]
    pts = [(gi, di, e["devices"][n]["accuracy"]) for gi, e in enumerate(result["entries"])
           for di, n in enumerate(names) if n in e["devices"] and e["devices"][n]["accuracy"] is not None]
    if not pts:
        return '<p id="compare-accuracy-plot">no evaluation data in these reports</p>'
    w, h, pad = 900, 260, 50
    lo, hi = min(a for *_, a in pts), max(a for *_, a in pts)
    span = max(hi - lo, 0.01)
    lo, hi = lo - 0.1 * span, hi + 0.1 * span
    n_e = max(len(result["entries"]), 1)
    parts = [f'<svg id="compare-accuracy-plot" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             'role="img" aria-label="accuracy per device">',
             f'<text x="{pad}" y="14" font-size="12">accuracy per configuration ({lo:.4f}-{hi:.4f}), one colour per '
             'device</text>']
    for gi, di, a in pts:
        x = pad + (w - 2 * pad) * (gi + 0.5) / n_e + (di - (len(names) - 1) / 2) * 6
        y = h - pad - (h - 2 * pad) * (a - lo) / (hi - lo)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{COLOURS[di % len(COLOURS)]}"><title>'
                     f'{html.escape(names[di])} {html.escape(result["entries"][gi]["id"])}: {a:.4f}</title></circle>')
    parts.append("</svg>")
    return "\n".join(parts)


def to_html(result: dict) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edge-bench compare</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}
pre{{background:#f6f6f6;padding:1em;white-space:pre-wrap}}</style></head>
<body><h1>edge-bench compare: {len(result['devices'])} devices, reference {html.escape(result['reference'])}</h1>
<h2>p50 latency per device</h2>
{compare_svg(result)}
<h2>Accuracy per device</h2>
{accuracy_svg(result)}
<h2>Table</h2><pre>{html.escape(to_markdown(result))}</pre>
</body></html>
"""


def write_all(result: dict, out: Path) -> dict[str, Path]:
    from benchmarks.report import write_formats

    return write_formats(result, out, "compare", {"md": to_markdown, "csv": to_csv, "html": to_html})
