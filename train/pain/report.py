"""The paper's table (TP, TN, FP, FN, accuracy, precision, recall, F1) plus ROC-AUC, as Markdown and CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

COLUMNS = ("backbone", "head", "tp", "tn", "fp", "fn", "accuracy", "precision", "recall", "f1", "roc_auc")


def binary_metrics(y: np.ndarray, p_pain: np.ndarray, threshold: float = 0.5) -> dict:
    pred = (p_pain >= threshold).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    try:
        from sklearn.metrics import roc_auc_score

        auc = float(roc_auc_score(y, p_pain)) if len(set(y.tolist())) == 2 else float("nan")
    except ImportError:
        auc = float("nan")
    return {"tp": tp, "tn": tn, "fp": fp, "fn": fn, "accuracy": (tp + tn) / max(len(y), 1),
            "precision": precision, "recall": recall, "f1": f1, "roc_auc": auc}


def write_tables(rows: list[dict], out: Path, split: str, note: str) -> tuple[Path, Path]:
    """Rows carry `weights` too, so a table never hides that a backbone ran with random weights."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / "pain_table.csv", out / "pain_table.md"
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows({k: r[k] for k in COLUMNS} for r in rows)
    lines = [f"# Pain: backbone x head ({split})", "", note, "",
             "| backbone (weights) | head | TP | TN | FP | FN | accuracy | precision | recall | F1 | ROC-AUC |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['backbone']} ({r.get('weights', '?')}) | {r['head']} | {r['tp']} | {r['tn']} | "
                     f"{r['fp']} | {r['fn']} | "
                     f"{r['accuracy']:.4f} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | "
                     f"{r['roc_auc']:.4f} |")
    md_path.write_text("\n".join(lines) + "\n")
    return csv_path, md_path
