"""A self-contained HTML page (inline SVG, no scripts, no network) with the two plots people share:
latency distribution per configuration, and accuracy against p50 latency."""

from __future__ import annotations

import html
import math

from benchmarks.report.tables import flat_row, to_markdown

W, ROW_H, LEFT = 900, 22, 300


def _log_scale(vmin: float, vmax: float, x0: float, x1: float):
    """Latencies span 0.1 ms (int8) to 100 ms (Keras): only a log axis keeps both readable."""
    lo, hi = math.log10(max(vmin, 1e-6)), math.log10(max(vmax, vmin * 1.01, 1e-6))

    def f(v: float) -> float:
        return x0 + (x1 - x0) * (math.log10(max(v, 1e-6)) - lo) / (hi - lo)

    return f


def _ticks(vmin: float, vmax: float) -> list[float]:
    return [10.0 ** k for k in range(math.floor(math.log10(vmin)), math.ceil(math.log10(vmax)) + 1)]


def latency_svg(rows: list[dict]) -> str:
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok:
        return ""
    vmin, vmax = min(r["min_ms"] for r in ok) * 0.8, max(r["p99_ms"] for r in ok) * 1.25
    scale = _log_scale(vmin, vmax, LEFT, W - 30)

    def _x(v: float, _vmax: float) -> float:
        return scale(v)

    h = 60 + ROW_H * len(ok)
    parts = [f'<svg id="latency-plot" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" '
             f'role="img" aria-label="latency distribution">',
             f'<text x="{LEFT}" y="14" font-size="12">latency per invoke, ms, log scale (box p10-p90, line p50, '
             'dark band = p50 95 % interval, whisker min-p99, dots = samples)</text>']
    for t in _ticks(vmin, vmax):
        if vmin <= t <= vmax:
            parts.append(f'<line x1="{scale(t):.1f}" x2="{scale(t):.1f}" y1="22" y2="{h - 20}" stroke="#ddd"/>')
            parts.append(f'<text x="{scale(t) - 8:.1f}" y="{h - 6}" font-size="10">{t:g}</text>')
    for i, r in enumerate(ok):
        y = 30 + i * ROW_H
        s = sorted(r.get("samples_ms") or [r["p50_ms"]])
        p10 = s[int(0.1 * (len(s) - 1))]
        parts.append(f'<text x="4" y="{y + 12}" font-size="11">{html.escape(r["config"]["id"])}</text>')
        parts.append(f'<line x1="{_x(r["min_ms"], vmax):.1f}" x2="{_x(r["p99_ms"], vmax):.1f}" y1="{y + 8}" '
                     f'y2="{y + 8}" stroke="#888"/>')
        box_w = max(_x(r["p90_ms"], vmax) - _x(p10, vmax), 1)
        parts.append(f'<rect x="{_x(p10, vmax):.1f}" y="{y + 2}" width="{box_w:.1f}"'
                     f' height="12" fill="#9ecae1" stroke="#3182bd"/>')
        parts.append(f'<line x1="{_x(r["p50_ms"], vmax):.1f}" x2="{_x(r["p50_ms"], vmax):.1f}" y1="{y}" '
                     f'y2="{y + 16}" stroke="#08306b" stroke-width="2"/>')
        lo, hi = (r.get("p50_ci_ms") or [None, None])[:2]
        if lo is not None:  # the p50's 95 % interval: a dark band under the median line (to the edge if unbounded)
            x_hi = _x(hi, vmax) if hi is not None else W - 30
            width = max(x_hi - _x(lo, vmax), 1)
            parts.append(f'<rect class="p50-ci" x="{_x(lo, vmax):.1f}" y="{y + 15}" width="{width:.1f}" height="3"'
                         f'  fill="#08306b"><title>p50 95 % interval [{lo:.4f}, '
                         f'{"unbounded" if hi is None else f"{hi:.4f}"}] ms, {r["runs"]} runs</title></rect>')
        for v in s[:: max(1, len(s) // 60)]:
            if v <= vmax:
                parts.append(f'<circle cx="{_x(v, vmax):.1f}" cy="{y + 8}" r="1.2" fill="#e6550d" opacity="0.5"/>')
    parts.append("</svg>")
    return "\n".join(parts)


def accuracy_svg(rows: list[dict]) -> str:
    ok = [r for r in rows if r["status"] == "ok" and r.get("accuracy") is not None]
    if not ok:
        return ""
    w, h, pad = 640, 360, 50
    xmin, xmax = min(r["p50_ms"] for r in ok) * 0.7, max(r["p50_ms"] for r in ok) * 1.4
    xscale = _log_scale(xmin, xmax, pad, w - pad)
    amin, amax = min(r["accuracy"] for r in ok), max(r["accuracy"] for r in ok)
    span = max(amax - amin, 0.01)
    lo, hi = amin - 0.1 * span, amax + 0.1 * span

    def px(v):
        return xscale(v)

    def py(a):
        return h - pad - (h - 2 * pad) * (a - lo) / (hi - lo)

    parts = [f'<svg id="accuracy-plot" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
             'aria-label="accuracy versus p50 latency">',
             f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="black"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="black"/>',
             f'<text x="{w / 2 - 60}" y="{h - 12}" font-size="12">p50 latency, ms (log scale)</text>',
             f'<text x="6" y="{pad - 10}" font-size="12">accuracy ({lo:.4f}-{hi:.4f})</text>']
    for t in _ticks(xmin, xmax):
        if xmin <= t <= xmax:
            parts.append(f'<text x="{px(t) - 8:.1f}" y="{h - pad + 14}" font-size="10">{t:g}</text>')
    def dominated(r: dict) -> bool:
        return any(o["p50_ms"] < r["p50_ms"] and o["accuracy"] >= r["accuracy"] for o in ok)

    for r in ok:
        x, y = px(r["p50_ms"]), py(r["accuracy"])
        colour = "#31a354" if "int8" in r["config"]["format"] else "#3182bd"
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"><title>{html.escape(r["config"]["id"])}'
                     f': {r["p50_ms"]:.3f} ms, {r["accuracy"]:.4f}</title></circle>')
        if not dominated(r):  # label the Pareto front; every point has a hover title
            parts.append(f'<text x="{x + 5:.1f}" y="{y - 4:.1f}" font-size="9">{html.escape(r["config"]["id"])}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _polyline(points: list[tuple[float, float]], colour: str) -> str:
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.5"/>'


def telemetry_svg(telemetry: dict | None) -> str:
    """Temperature (red), the slowest CPU clock (blue) and the reference loop's time (grey: the machine's
    speed as a program sees it) over the run; throttled samples as red ticks."""
    series = [*((telemetry or {}).get("series") or []), *((telemetry or {}).get("machine_speed_series") or [])]
    w, h, pad = 900, 220, 50
    parts = [f'<svg id="telemetry-plot" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
             'aria-label="temperature and CPU clock during the run">',
             f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="black"/>',
             f'<text x="{w / 2 - 40}" y="{h - 14}" font-size="12">seconds into the run</text>']
    t_end = max((s["t"] for s in series), default=1.0) or 1.0

    def px(t: float) -> float:
        return pad + (w - 2 * pad) * t / t_end

    for n, (key, colour, label) in enumerate((("temp_c", "#de2d26", "temperature °C"),
                                              ("freq_mhz", "#3182bd", "slowest CPU MHz"),
                                              ("probe_ms", "#636363", "reference loop ms"))):
        vals = [(s["t"], s[key]) for s in series if s.get(key) is not None]
        if not vals:
            parts.append(f'<text x="{pad + 280 * n}" y="20" font-size="12" fill="{colour}">{label}: no sensor</text>')
            continue
        lo, hi = min(v for _, v in vals), max(v for _, v in vals)
        span = max(hi - lo, 1e-3 if key == "probe_ms" else 1)
        lo, hi = lo - 0.05 * span, hi + 0.05 * span
        parts.append(_polyline([(px(t), h - pad - (h - 2 * pad) * (v - lo) / (hi - lo)) for t, v in vals], colour))
        digits = 2 if key == "probe_ms" else 0
        parts.append(f'<text x="{pad + 280 * n}" y="20" font-size="12" fill="{colour}">'
                     f'{label} ({lo:.{digits}f}-{hi:.{digits}f})</text>')
    for s in series:
        if s.get("throttled"):
            parts.append(f'<line class="throttled" x1="{px(s["t"]):.1f}" x2="{px(s["t"]):.1f}" y1="{h - pad}" '
                         f'y2="{h - pad + 8}" stroke="#a50f15" stroke-width="3"/>')
    parts.append("</svg>")
    return "\n".join(parts)


def to_html(report: dict) -> str:
    rows = report["rows"]
    flat = [flat_row(r) for r in rows]
    cols = list(flat[0]) if flat else []
    table = ["<table><thead><tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr></thead><tbody>"]
    for f in flat:
        table.append("<tr>" + "".join(f"<td>{html.escape(str(f[c]))}</td>" for c in cols) + "</tr>")
    table.append("</tbody></table>")
    summary = html.escape(to_markdown(report))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edge-bench report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}} table{{border-collapse:collapse;
font-size:12px}} td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}} td:first-child{{text-align:left}}
pre{{background:#f6f6f6;padding:1em;white-space:pre-wrap}}</style></head>
<body><h1>edge-bench report</h1>
<h2>Latency distribution</h2>
{latency_svg(rows)}
<h2>Temperature and clock during the run</h2>
{telemetry_svg(report.get("telemetry"))}
<h2>Accuracy vs p50 latency</h2>
{accuracy_svg(rows)}
<h2>All configurations</h2>
{''.join(table)}
<h2>Summary</h2><pre>{summary}</pre>
</body></html>
"""
