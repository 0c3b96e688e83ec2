"""The conversion's gates, decided once: accuracy drop, relative accuracy and size of the int8 files.

The decision goes into the manifest's report (`parity.json`, `parity.md`), the `--json` output and the
exit code alike, so a report can never say "pass" while `edge-convert` exits 3.
"""

from __future__ import annotations

from convert.exporters import INT8_FORMATS
from edge.bundle import Metrics, ModelFile


def accuracy_failures(metrics: dict[str, Metrics], max_drop_pp: float | None, min_relative: float | None,
                      reference: str = "keras") -> list[str]:
    """Int8 files that lose more accuracy than the budget allows against the reference file (none measured without
    labels)."""
    reference = metrics[reference].accuracy
    failures = []
    for fmt in INT8_FORMATS:
        m = metrics.get(fmt)
        if m is None or m.accuracy is None or reference is None:
            continue
        drop = (reference - m.accuracy) * 100.0
        if max_drop_pp is not None and drop > max_drop_pp:
            failures.append(f"{fmt}: accuracy {m.accuracy:.4f} is {drop:.2f} pp below fp32 "
                            f"{reference:.4f} (budget {max_drop_pp} pp)")
        if min_relative is not None and reference > 0 and m.accuracy / reference < min_relative:
            failures.append(f"{fmt}: accuracy {m.accuracy:.4f} is {m.accuracy / reference:.2%} of fp32 "
                            f"(needs {min_relative:.0%})")
    return failures


def size_failures(entries: dict[str, ModelFile], max_size_kb: float | None) -> list[str]:
    if max_size_kb is None:
        return []
    return [f"{fmt}: {e.size_bytes / 1024:.1f} KB is over the {max_size_kb} KB size budget"
            for fmt, e in entries.items() if fmt in INT8_FORMATS and e.size_bytes / 1024 > max_size_kb]


def decide(metrics: dict[str, Metrics], entries: dict[str, ModelFile], max_drop_pp: float | None,
           min_relative: float | None, max_size_kb: float | None, reference: str = "keras") -> dict:
    """The gate block of the report: every budget, the status and every failure."""
    failures = accuracy_failures(metrics, max_drop_pp, min_relative, reference) + size_failures(entries, max_size_kb)
    unset = max_drop_pp is None and min_relative is None and max_size_kb is None
    unlabelled = metrics[reference].accuracy is None and (max_drop_pp is not None or min_relative is not None)
    return {"max_drop_pp": max_drop_pp, "min_relative": min_relative, "max_size_kb": max_size_kb,
            "formats": list(INT8_FORMATS), "status": "not set" if unset else ("fail" if failures else "pass"),
            "failures": failures,
            **({"note": "no labels: the accuracy budgets could not be checked"} if unlabelled else {})}
