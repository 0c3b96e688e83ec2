"""How edge-bench measures: the run count or stopping rule, rounds, replicas, scenario; sent to every worker."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.stats import CI_METHOD


@dataclass
class Settings:
    runs: int | None = None  # a forced count; None: the stopping rule decides
    warmup: int = 20
    min_seconds: float = 0.0
    batch: int = 1
    dataset: str | None = None
    timeout_s: float = 600.0
    input_shape: list[int] | None = None  # bare files: the first input's shape (a detector at its run resolution)
    target_ci_pct: float = 2.0  # stop when the p50's 95 % interval is within ± this
    budget_s: float = 10.0  # timed seconds per configuration at most (unless --runs forces a count)
    min_runs: int = 100  # fewer runs than this never stop on the interval: the p90 needs them too
    min_span_s: float = 60.0  # a row stops on its interval only once its rounds spread over this much wall clock
    round_s: float = 0.25  # timed seconds per configuration per round
    replicas: int = 3  # worker processes per configuration, taking the rounds in turn (process-to-process spread)
    max_live: int | None = None  # configurations live at once; set from free memory by the rounds
    scenario: str = "single-stream"  # or "offline": the timed call is a batch of `batch` images

    def to_dict(self) -> dict:
        return {"scenario": self.scenario, "runs": self.runs,
                "warmup": self.warmup, "min_seconds": self.min_seconds, "batch": self.batch,
                "dataset": self.dataset, "input_shape": self.input_shape, "target_ci_pct": self.target_ci_pct,
                "budget_s": self.budget_s,
                "min_span_s": self.min_span_s, "min_runs": self.min_runs, "replicas": self.replicas,
                "ci_method": CI_METHOD,
                "stopping": "fixed runs" if self.runs else f"p50 95 % interval within ±{self.target_ci_pct} % over "
                f"rounds spanning {self.min_span_s:g} s, or {self.budget_s:g} s of timed runs per configuration, in "
                "interleaved rounds"}
