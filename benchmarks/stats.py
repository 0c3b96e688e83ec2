"""How sure a latency number is: percentiles with distribution-free confidence intervals, and the stopping rule.

Latency distributions are skewed and multi-modal (a noisy neighbour, a cache miss), so no normal or
log-normal model is assumed. The interval for a quantile q comes from order statistics alone: with n
samples, the count of samples below the true q-quantile is Binomial(n, q), so the pair of order statistics
(X_(l), X_(u)) whose ranks hold that count between them with probability >= 95 % brackets the quantile
with at least that confidence, whatever the distribution. Few runs give no upper bound for a high
quantile; that is reported as None, never guessed.

Consecutive runs are not independent (caches, frequency, a neighbour's burst), so the interval over all
runs alone is too narrow. The runs come in rounds (benchmarks.rounds interleaves configurations); the
rounds, in the order given (edge-bench gives them worker process by worker process, each in time order),
are cut into a fixed number of consecutive batches (BATCHES = 6) and the same order-statistic interval is
taken over the batches' quantiles: the batch-means method of simulation output analysis with a fixed batch
count, which stays valid when the runs are autocorrelated or drift during the run (with 6 batches it is
their [min, max], 96.9 % for the median). With each batch one process's, the spread between processes (the
luck of a memory layout, which differs between two edge-bench runs) is inside the interval too; cut a second
time in time order (`time_rounds`), each batch is one stretch of the run, so drift during the row's rounds is
inside as well. The reported interval is the union of all three; benchmarks.speedprobe.widen_for_machine then
stretches it by the machine's range of speed over the run.
"""

from __future__ import annotations

import math

import numpy as np

CI_METHOD = ("distribution-free order-statistic (binomial) 95 % interval over all runs, widened to the same "
             "interval over 6 batches of rounds cut two ways: each batch one worker process's (process-to-process "
             "spread) and each batch one stretch of time (drift), kept as p50_ci_own_ms; a row stops on it once "
             "its rounds span --min-span seconds (or its budget ends). The published p50_ci_ms is that interval "
             "stretched by the machine's range of speed over the run (reference loop): an envelope for where a "
             "rerun lands, wider than the 95 % statement, not part of it")
BATCHES = 6  # the fewest values with a two-sided 95 % interval for their median ([min, max] of 6)
MIN_ROUNDS = BATCHES
CONFIDENCE = 0.95


def binomial_cdf(n: int, q: float) -> np.ndarray:
    """P(B <= k) for k = 0..n, B ~ Binomial(n, q), computed in log space (n reaches 10^5 runs)."""
    k = np.arange(n + 1, dtype=np.float64)
    log_pmf0 = n * math.log1p(-q)
    steps = np.log((n - k[:-1]) / (k[:-1] + 1)) + math.log(q / (1 - q))
    log_pmf = np.concatenate([[log_pmf0], log_pmf0 + np.cumsum(steps)])
    pmf = np.exp(log_pmf - log_pmf.max())
    return np.cumsum(pmf) / pmf.sum()


def quantile_ranks(n: int, q: float, confidence: float = CONFIDENCE) -> tuple[int | None, int | None]:
    """1-based ranks (l, u): P(X_(l) <= x_q <= X_(u)) >= confidence. None where n is too small for that side."""
    if n < 1 or not 0 < q < 1:
        raise ValueError(f"quantile_ranks needs n >= 1 and 0 < q < 1, got n={n}, q={q}")
    alpha = (1 - confidence) / 2
    cdf = binomial_cdf(n, q)
    # X_(l) <= x_q unless fewer than l samples lie below x_q: P(B <= l-1) <= alpha.
    lows = np.nonzero(cdf[:-1] <= alpha)[0]
    lower = int(lows[-1]) + 1 if len(lows) else None
    # X_(u) >= x_q unless u or more lie below: P(B >= u) = 1 - cdf[u-1] <= alpha.
    highs = np.nonzero(1 - cdf[:-1] <= alpha)[0]
    upper = int(highs[0]) + 1 if len(highs) else None
    return lower, upper


def quantile_ci(samples, q: float, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """The interval's bounds in the samples' unit; a side the run count cannot bound is None."""
    s = np.sort(np.asarray(samples, dtype=np.float64))
    lower, upper = quantile_ranks(len(s), q, confidence)
    return (float(s[lower - 1]) if lower else None, float(s[upper - 1]) if upper else None)


def interval(ms, q: float, rounds: list | None = None,
             time_rounds: list | None = None) -> tuple[float | None, float | None]:
    """The quantile's interval over all runs, widened by the interval over the quantiles of BATCHES
    consecutive batches of `rounds` (edge-bench: replica by replica) and, when given, of `time_rounds` (the
    same rounds in time order), each where there are MIN_ROUNDS rounds or more."""
    lo, hi = quantile_ci(ms, q)
    for order in (rounds, time_rounds):
        order = [r for r in order or [] if len(r)]
        if len(order) < MIN_ROUNDS:
            continue
        batches = [np.concatenate(order[a:b]) for a, b in _cuts(len(order), BATCHES)]
        per_batch = [float(np.percentile(b, q * 100)) for b in batches]
        r_lo, r_hi = quantile_ci(per_batch, q=0.5)
        lo = None if lo is None or r_lo is None else min(lo, r_lo)
        hi = None if hi is None or r_hi is None else max(hi, r_hi)
    return lo, hi


def _cuts(n: int, k: int) -> list[tuple[int, int]]:
    """k consecutive, near-equal [a, b) index ranges over n items, in order."""
    edges = [round(i * n / k) for i in range(k + 1)]
    return list(zip(edges[:-1], edges[1:]))


def half_width_pct(ms, q: float = 0.5, rounds: list | None = None, time_rounds: list | None = None) -> float | None:
    """The wider side of the quantile's interval as % of the quantile; None while a side is unbounded."""
    lo, hi = interval(ms, q, rounds, time_rounds)
    mid = float(np.percentile(ms, q * 100))
    if lo is None or hi is None or mid <= 0:
        return None
    return max(mid - lo, hi - mid) / mid * 100


def summarize(ms, rounds: list | None = None, time_rounds: list | None = None) -> dict:
    """The latency fields of a report row: percentiles, their intervals and the run count behind them."""
    a = np.asarray(ms, dtype=np.float64)
    out = {"runs": len(a), "rounds": len(rounds) if rounds else 1, "mean_ms": float(a.mean()),
           "std_ms": float(a.std()), "min_ms": float(a.min()),
           "p50_ms": float(np.percentile(a, 50)), "p90_ms": float(np.percentile(a, 90)),
           "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max())}
    for name, q in (("p50", 0.5), ("p90", 0.9)):
        out[f"{name}_ci_ms"] = list(interval(a, q, rounds, time_rounds))
    out["p50_ci_half_width_pct"] = half_width_pct(a, 0.5, rounds, time_rounds)
    out["ci_method"] = CI_METHOD
    return out


def intervals_overlap(a: list, b: list) -> bool:
    """Two [lo, hi] intervals (None: unbounded) share a point."""
    a_lo, a_hi = (-math.inf if a[0] is None else a[0]), (math.inf if a[1] is None else a[1])
    b_lo, b_hi = (-math.inf if b[0] is None else b[0]), (math.inf if b[1] is None else b[1])
    return a_lo <= b_hi and b_lo <= a_hi


def ci_of(row: dict, name: str = "p50", own: bool = False) -> list:
    """A row's interval, or its point estimate as a zero-width one (reports from before intervals). `own`: the
    interval from the row's runs alone, before the machine's range was added (rows of one run side by side:
    the machine moved them all alike)."""
    ci = (row.get(f"{name}_ci_own_ms") if own else None) or row.get(f"{name}_ci_ms")
    return list(ci) if ci else [row[f"{name}_ms"], row[f"{name}_ms"]]


def stop_reason(ms, elapsed_s: float, *, runs: int | None, target_pct: float, budget_s: float,
                min_runs: int, min_seconds: float = 0.0, rounds: list | None = None,
                span_s: float | None = None, min_span_s: float = 0.0, time_rounds: list | None = None) -> str | None:
    """Why a configuration's timing ends now: "runs" (a forced --runs count reached), "ci" (the p50's interval
    is within ±target_pct, over at least min_runs runs and MIN_ROUNDS rounds, once their wall-clock `span_s`
    reaches min_span_s or the budget is spent), "budget" (the budget is spent with the interval still wider);
    None to keep going. Without `rounds` all runs count as one round.

    The span matters on a shared machine: its speed wanders over tens of seconds, and batches taken within a
    few seconds of each other would all see one moment of it, so the interval would say nothing about the
    next run. It is a wish the budget can overrule: with few configurations live, 10 s of timed runs span
    little more than 10 s of wall clock, and the row says its span (`span_s`)."""
    n = len(ms)
    if elapsed_s < min_seconds:
        return None
    if runs is not None:
        return "runs" if n >= runs else None
    spent = elapsed_s >= budget_s
    spread = span_s is None or span_s >= min_span_s or spent
    if n >= min_runs and spread and len(rounds or [ms]) >= (MIN_ROUNDS if rounds is not None else 1):
        width = half_width_pct(ms, 0.5, rounds, time_rounds)
        if width is not None and width <= target_pct:
            return "ci"
    return "budget" if spent else None
