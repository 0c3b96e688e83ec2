"""The user's real question: which file and delegate do I ship on this device?

int8 is not automatically faster (on x86 without VNNI XNNPACK's fp32 kernels can beat int8), so
the answer is measured: the fastest row whose accuracy stays within the budget of the fp32
reference, with the runner-up and the faster rows that were ruled out, and why.
"""

from __future__ import annotations

from benchmarks.stats import ci_of, intervals_overlap


def _tie_break(tied: list[dict]) -> dict:
    """Rows whose p50 intervals overlap the fastest's are statistically one speed: ship the smaller file,
    then the one with less peak memory."""
    return min(tied, key=lambda r: (r.get("size_bytes") or 0, r.get("peak_rss_bytes") or 0, r["p50_ms"]))


def reference_accuracy(rows: list[dict], label: str) -> tuple[str, float] | None:
    ok = [r for r in rows if r["status"] == "ok" and r["config"]["label"] == label and r.get("accuracy") is not None]
    for fmt in ("keras", "tflite-fp32", "onnx-fp32"):
        accs = [r["accuracy"] for r in ok if r["config"]["format"] == fmt]
        if accs:
            return fmt, max(accs)
    return None


def recommend(rows: list[dict], max_drop_pp: float) -> list[dict]:
    """One recommendation per input (bundle or file) in the report."""
    out = []
    for label in dict.fromkeys(r["config"]["label"] for r in rows):
        ref = reference_accuracy(rows, label)
        candidates = sorted((r for r in rows if r["status"] == "ok" and r["config"]["label"] == label
                             and r["config"]["backend"] != "keras"), key=lambda r: r["p50_ms"])
        if not candidates:
            out.append({"input": label, "pick": None, "why": "no configuration ran"})
            continue
        if ref is None or any(r.get("accuracy") is None for r in candidates):
            pick = candidates[0]
            out.append({"input": label, "pick": pick["config"]["id"], "p50_ms": pick["p50_ms"],
                        "why": "fastest p50; no evaluation data, so accuracy was not checked"})
            continue
        ref_fmt, ref_acc = ref
        within = [r for r in candidates if (ref_acc - r["accuracy"]) * 100 <= max_drop_pp + 1e-9]
        excluded = [{"id": r["config"]["id"], "p50_ms": r["p50_ms"],
                     "drop_pp": round((ref_acc - r["accuracy"]) * 100, 3)}
                    for r in candidates if r not in within and (not within or r["p50_ms"] < within[0]["p50_ms"])]
        if not within:
            out.append({"input": label, "pick": None, "reference": ref_fmt, "excluded_faster": excluded,
                        "why": f"no configuration within {max_drop_pp} pp of {ref_fmt} accuracy {ref_acc:.4f}"})
            continue
        fastest = within[0]
        tied = [r for r in within if intervals_overlap(ci_of(r, own=True), ci_of(fastest, own=True))]
        pick = _tie_break(tied) if len(tied) > 1 else fastest
        within = [pick] + [r for r in within if r is not pick]
        rec = {"input": label, "pick": pick["config"]["id"], "p50_ms": pick["p50_ms"], "accuracy": pick["accuracy"],
               "reference": ref_fmt, "reference_accuracy": ref_acc, "max_drop_pp": max_drop_pp,
               "excluded_faster": excluded}
        if len(tied) > 1:
            rec["indistinguishable"] = [r["config"]["id"] for r in tied]
            why = (f"{len(tied)} configurations within {max_drop_pp} pp of {ref_fmt} ({ref_acc:.4f}) are "
                   f"statistically indistinguishable in speed (their p50 95 % intervals overlap the fastest's, "
                   f"{fastest['config']['id']}); tie broken by file size, then peak memory: "
                   f"{pick.get('size_bytes', 0) / 1024:.0f} KB, {(pick.get('peak_rss_bytes') or 0) / 2**20:.0f} MB")
        else:
            why = f"fastest p50 ({pick['p50_ms']:.3f} ms) within {max_drop_pp} pp of {ref_fmt} ({ref_acc:.4f}); " \
                  "its p50 interval does not overlap the runner-up's"
        if len(within) > 1:
            second = within[1]
            slower = (second["p50_ms"] / pick["p50_ms"] - 1) * 100
            rec["runner_up"] = {"id": second["config"]["id"], "p50_ms": second["p50_ms"],
                                "accuracy": second["accuracy"], "slower_pct": round(slower, 1),
                                "indistinguishable": intervals_overlap(ci_of(second, own=True),
                                                                       ci_of(pick, own=True))}
            why += f"; runner-up {second['config']['id']} p50 is {slower:+.1f}%"
        if excluded:
            why += f"; {len(excluded)} faster configuration(s) lose more accuracy than the budget"
        rec["why"] = why
        out.append(rec)
    return out
