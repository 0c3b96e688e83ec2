"""The parity report a user reads (Markdown) and a CI job parses (JSON)."""

from __future__ import annotations

import json
from pathlib import Path

from edge.bundle import Manifest

REPORT_SCHEMA = 1


def report_dict(manifest: Manifest, eval_desc: str, gate: dict, reference: str = "keras") -> dict:
    """The report of every file; `reference` is the file the others are compared with (Keras, or a user's fp32
    ONNX when there is no Keras model)."""
    ref = manifest.file(reference).metrics
    fp32_size = {f.format.split("-")[0]: f.size_bytes for f in manifest.files if f.format.endswith("fp32")}
    rows = []
    for f in manifest.files:
        m = f.metrics
        row = {"format": f.format, "path": f.path, "size_bytes": f.size_bytes, "sha256": f.sha256}
        if f.float_layers:
            row["float_layers"] = f.float_layers
        family = f.format.split("-")[0]
        if family in fp32_size and f.format != f"{family}-fp32":
            row["size_vs_fp32"] = round(f.size_bytes / fp32_size[family], 4)
        if m is not None:
            row.update(m.model_dump(exclude_none=True))
            if ref is not None and f.format != reference and m.per_class_accuracy:
                row["per_class_delta_pp"] = {k: round((v - ref.per_class_accuracy.get(k, v)) * 100, 2)
                                             for k, v in m.per_class_accuracy.items()}
        rows.append(row)
    return {"schema": REPORT_SCHEMA, "bundle": manifest.name, "task": manifest.task, "evaluation": eval_desc,
            "reference": reference, "files": rows, "gate": gate}


def _worst_class(row: dict) -> str:
    deltas = row.get("per_class_delta_pp") or {}
    if not deltas:
        return ""
    label, delta = min(deltas.items(), key=lambda kv: kv[1])
    return f"{label} ({delta:+.2f})"


def to_markdown(report: dict) -> str:
    lines = [
        f"# Parity report: {report['bundle']} ({report['task']})", "",
        f"Evaluation set: {report['evaluation']}", "",
        "| format | size KB | vs fp32 | accuracy | drop pp | agreement | max abs diff | SQNR dB | worst class Δpp |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["files"]:
        def fmt(key: str, spec: str, r: dict = r) -> str:
            return format(r[key], spec) if r.get(key) is not None else "—"
        lines.append(f"| {r['format']} | {r['size_bytes'] / 1024:.1f} | {fmt('size_vs_fp32', '.1%')} | "
                     f"{fmt('accuracy', '.4f')} | {fmt('accuracy_drop_pp', '+.2f')} | {fmt('agreement', '.4f')} | "
                     f"{fmt('max_abs_diff', '.2e')} | {fmt('sqnr_db', '.1f')} | {_worst_class(r)} |")
    lines += _per_output_table(report["files"])
    rw = report.get("int8_rewrite")
    if rw and rw.get("skipped"):
        lines += ["", f"int8 rewrite skipped, the graph was quantized as it is: {rw['skipped']}"]
    elif rw:
        lines += ["", f"int8 files built from a float-exact rewrite (edge-convert --rewrite off to skip): "
                  f"{rw['bn_to_depthwise']} unfoldable BatchNorms as per-channel depthwise convs, "
                  f"{rw['equalized_producers']} producers' channels equalized before shared-scale concats; "
                  f"float max abs diff {rw['max_abs_diff']:.1e}"]
    for fmt, mixed in report.get("mixed_precision", {}).items():
        layers = ", ".join(mixed["float_layers"]) or "none (plain int8 was best)"
        lines += ["", f"Mixed precision, {fmt}: float layers {layers}; chosen on {mixed['selected_on']}"]
        if len(mixed["trials"]) > 1:
            lines += ["", "| float layers | agreement | SQNR dB |", "|---|---:|---:|"]
            lines += [f"| {', '.join(t['layers']) or '(int8 throughout)'} | {t['agreement']:.4f} | {t['sqnr_db']:.1f} |"
                      for t in sorted(mixed["trials"], key=lambda t: (-t["agreement"], -t["sqnr_db"]))[:8]]
    g = report["gate"]
    lines += ["", f"Gate: {g.get('status', 'not set')}"]
    lines += [f"- {f}" for f in g.get("failures", [])]
    return "\n".join(lines) + "\n"


def _per_output_table(rows: list[dict]) -> list[str]:
    """Tensors bundles: each file's every output against the reference's (the main table shows the worst)."""
    measured = [r for r in rows if r.get("per_output")]
    if not measured:
        return []
    lines = ["", "Per output (the table above shows each file's worst output):", "",
             "| format | output | SQNR dB | max abs diff | cosine | agreement |", "|---|---|---:|---:|---:|---:|"]
    for r in measured:
        for o in r["per_output"]:
            agreement = f"{o['agreement']:.4f}" if o.get("agreement") is not None else "—"
            lines.append(f"| {r['format']} | {o['name']} | {o['sqnr_db']:.1f} | {o['max_abs_diff']:.2e} | "
                         f"{o['cosine']:.5f} | {agreement} |")
    return lines


def write_reports(root: Path, report: dict) -> tuple[Path, Path]:
    js, md = root / "parity.json", root / "parity.md"
    js.write_text(json.dumps(report, indent=2) + "\n")
    md.write_text(to_markdown(report))
    return js, md
