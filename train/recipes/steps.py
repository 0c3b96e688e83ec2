"""The steps every classifier recipe ends with: per-class report, figures, the collapse guard, the shipped copy.

Per-class accuracy and its mean (balanced accuracy) come from the seed 004 paper's lesson: its baseline
scored "100 %" while predicting one class for everything, so every recipe reports each class and refuses
to write a bundle for a model that collapsed.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from edge.errors import EdgeSightError
from edge.metrics import per_class_accuracy
from train.reports import confusion_matrix, plot_confusion, plot_curves, plot_prediction_grid


class CollapsedModelError(EdgeSightError):
    """The model predicts (nearly) one class for everything: the seed paper's "100 %" trap."""


def per_class_report(y_true: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict:
    """Accuracy per class, their mean `avg_acc` (balanced accuracy), the share of predictions per class; for mask
    labels also `mask_acc` / `no_mask_acc`."""
    acc = per_class_accuracy(y_true, pred, labels)
    share = {lab: float((pred == i).mean()) for i, lab in enumerate(labels)}
    out = {"accuracy": float((pred == y_true).mean()), "per_class_accuracy": acc,
           "avg_acc": float(np.mean(list(acc.values()))), "prediction_share": share}
    if "WithMask" in labels and "WithoutMask" in labels:
        out["mask_acc"], out["no_mask_acc"] = acc.get("WithMask", float("nan")), acc.get("WithoutMask", float("nan"))
    return out


def collapse_problem(report: dict, share: float = 0.95, min_acc: float = 0.05) -> str | None:
    top = max(report["prediction_share"].items(), key=lambda kv: kv[1])
    if top[1] >= share:
        return f"predicts {top[0]!r} for {top[1]:.1%} of the test images"
    worst = min(report["per_class_accuracy"].items(), key=lambda kv: kv[1])
    if worst[1] <= min_acc:
        return f"recognises only {worst[1]:.1%} of {worst[0]!r}"
    return None


def history_of(hist) -> dict[str, list[float]]:
    return {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def figures(out: Path, history: dict, title: str, x_test: np.ndarray, y_test: np.ndarray, pred: np.ndarray,
            labels: list[str], grid: bool = True) -> np.ndarray:
    """Training curves, the confusion matrix and (with `grid`) 25 test predictions; returns the matrix."""
    plot_curves(history, out / "curves.png", title)
    cm = confusion_matrix(y_test, pred, len(labels))
    plot_confusion(cm, labels, out / "confusion.png", title)
    if grid:
        step = max(1, len(pred) // 25)
        plot_prediction_grid(x_test[::step][:25], y_test[::step][:25], pred[::step][:25], labels,
                             out / "predictions.png")
    return cm


def refuse_collapsed(report: dict, summary: dict, out: Path, share: float = 0.95, min_acc: float = 0.05) -> None:
    """Write the report and raise CollapsedModelError when the model predicts one class for nearly everything."""
    problem = collapse_problem(report, share, min_acc)
    summary["collapsed"] = problem
    if problem:
        write_summary(out, summary)
        raise CollapsedModelError(f"the model collapsed: it {problem} (avg_acc {report['avg_acc']:.3f}); no bundle "
                                  f"written; see {out / 'confusion.png'}")


def save_uncompiled(build, model, path: Path) -> None:
    """A freshly built twin with the trained weights: the shipped file carries no optimizer state (Keras 3 ignores
    include_optimizer, and RMSprop's slots double a file)."""
    twin = build()
    twin.set_weights(model.get_weights())
    twin.save(path)


def config_dict(cfg) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}


def write_summary(out: Path, summary: dict) -> None:
    (out / "train_report.json").write_text(json.dumps(summary, indent=2) + "\n")
