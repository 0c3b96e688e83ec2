"""benchmarks.stats: the order-statistic intervals hold their coverage, and the stopping rule says why it stopped."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.stats import half_width_pct, intervals_overlap, quantile_ci, quantile_ranks, stop_reason, summarize


def test_median_ranks_match_the_textbook_table():
    # n = 100: the distribution-free 95 % interval for the median is (X_(40), X_(61)), coverage 96.5 %.
    assert quantile_ranks(100, 0.5) == (40, 61)
    assert quantile_ranks(10, 0.5) == (2, 9)


def test_too_few_runs_leave_a_side_unbounded():
    lo, hi = quantile_ranks(15, 0.9)
    assert lo is not None and hi is None
    assert quantile_ci(np.arange(15.0), 0.9)[1] is None
    assert half_width_pct(np.arange(1.0, 16.0), 0.9) is None


@pytest.mark.parametrize("q", [0.5, 0.9])
def test_intervals_cover_the_true_quantile_on_a_skewed_distribution(q):
    rng = np.random.default_rng(1)
    true = -np.log(1 - q)  # exponential(1) quantile
    hits = 0
    trials = 1500
    for _ in range(trials):
        lo, hi = quantile_ci(rng.exponential(size=120), q)
        hits += lo <= true <= hi
    assert hits / trials >= 0.935


def test_summary_fields_and_width():
    ms = np.random.default_rng(0).normal(10, 0.1, 2000)
    s = summarize(ms)
    assert s["runs"] == 2000 and s["p50_ci_ms"][0] <= s["p50_ms"] <= s["p50_ci_ms"][1]
    assert s["p90_ci_ms"][0] <= s["p90_ms"] <= s["p90_ci_ms"][1] and s["p50_ci_half_width_pct"] < 0.2
    assert "order-statistic" in s["ci_method"]


def test_stop_reasons():
    tight = np.full(200, 1.0) + np.linspace(0, 0.001, 200)
    wide = np.random.default_rng(0).exponential(size=60)
    kw = {"target_pct": 2.0, "budget_s": 5.0, "min_runs": 50}
    assert stop_reason(tight, 0.1, runs=None, **kw) == "ci"
    assert stop_reason(wide, 0.1, runs=None, **kw) is None
    assert stop_reason(wide, 6.0, runs=None, **kw) == "budget"
    assert stop_reason(tight[:40], 0.1, runs=None, **kw) is None  # below min_runs the interval is not trusted
    assert stop_reason(tight, 0.1, runs=300, **kw) is None and stop_reason(tight, 0.1, runs=200, **kw) == "runs"
    assert stop_reason(tight, 0.1, runs=200, min_seconds=1.0, **{k: v for k, v in kw.items()}) is None


def test_rounds_widen_the_interval_and_gate_the_stop():
    """Drift between rounds (a neighbour's burst) must show in the interval, not only within-round noise."""
    rng = np.random.default_rng(0)
    rounds = [rng.normal(1.0 + 0.05 * (i % 2), 0.001, 200) for i in range(8)]
    ms = np.concatenate(rounds)
    plain, wide = summarize(ms), summarize(ms, rounds)
    assert wide["rounds"] == 8 and wide["p50_ci_ms"][1] - wide["p50_ci_ms"][0] > plain["p50_ci_ms"][1] - \
        plain["p50_ci_ms"][0]
    kw = {"runs": None, "target_pct": 2.0, "budget_s": 5.0, "min_runs": 50}
    assert stop_reason(ms, 1.0, rounds=rounds[:5], **kw) is None  # under 6 rounds: not yet
    steady = [rng.normal(1.0, 0.001, 200) for _ in range(6)]
    assert stop_reason(np.concatenate(steady), 1.0, rounds=steady, **kw) == "ci"


def test_a_slow_drift_over_many_rounds_widens_the_interval():
    """Forty rounds drifting 3 % from first to last: exchangeable per-round medians would hide it; six
    consecutive batches of rounds do not."""
    rng = np.random.default_rng(2)
    rounds = [rng.normal(1.0 + 0.03 * i / 39, 0.002, 300) for i in range(40)]
    lo, hi = summarize(np.concatenate(rounds), rounds)["p50_ci_ms"]
    assert lo < 1.004 and hi > 1.026


def test_the_interval_covers_the_spread_between_worker_processes():
    """Three worker processes whose luck differs by 3 % each, taking rounds in turn: batches cut in time order
    mix them and hide it; handed over replica by replica (what edge-bench's rounds do) each batch is one
    process's, and the interval spans all three."""
    from benchmarks.configs import BenchConfig
    from benchmarks.rounds import Slot
    from benchmarks.settings import Settings

    rng = np.random.default_rng(3)
    slot = Slot(BenchConfig("x", "m", "m", "tflite-int8", "tflite"), Settings())
    for i in range(12):
        turn = i % 3
        ms = list(rng.normal(1.0 + 0.03 * turn, 0.002, 200))
        slot.rounds.append(ms)
        slot.by_replica += [[] for _ in range(turn + 1 - len(slot.by_replica))]
        slot.by_replica[turn].append(ms)
    ms = np.concatenate(slot.rounds)
    mixed_lo, mixed_hi = summarize(ms, slot.rounds)["p50_ci_ms"]
    lo, hi = summarize(ms, slot.replica_ordered())["p50_ci_ms"]
    assert mixed_lo > 1.005 and mixed_hi < 1.055  # time order: batches mix processes, the extremes fall outside
    assert lo < 1.005 and hi > 1.055  # replica order: the fastest and the slowest process are inside


def test_overlap():
    assert intervals_overlap([1, 2], [2, 3]) and not intervals_overlap([1, 2], [2.1, 3])
    assert intervals_overlap([1, None], [5, 6]) and not intervals_overlap([None, 1], [1.5, None])


def test_process_spread_times_fresh_workers_side_by_side():
    from benchmarks.process_spread import measure

    r = measure(workers=2, rounds=2, round_s=0.05)
    assert r["config"] == "digits/tflite-int8/t1" and len(r["worker_medians_ms"]) == 2
    assert all(0 < m < 50 for m in r["worker_medians_ms"])
    low, high = sorted(r["worker_medians_ms"])
    assert r["between_workers_pct"] == pytest.approx(100 * (high - low) / np.median([low, high]), abs=0.02)


def test_real_worker_rounds_are_handed_to_the_interval_replica_by_replica():
    """Three real workers of the int8 digits row take the rounds in turn; the interval gets them grouped."""
    from benchmarks.configs import BenchConfig
    from benchmarks.rounds import Slot
    from benchmarks.settings import Settings
    from edge.bundle import load_bundle

    bundle = load_bundle("digits")
    slot = Slot(BenchConfig("d", str(bundle.root), "digits", "tflite-int8", "tflite"), Settings(round_s=0.02))
    assert slot.start() is None and len(slot.workers) == 3
    try:
        for _ in range(7):
            assert slot.timed_round() is None
    finally:
        slot.close()
    assert [len(r) for r in slot.by_replica] == [3, 2, 2]
    grouped = slot.replica_ordered()
    assert grouped[:3] == [slot.rounds[0], slot.rounds[3], slot.rounds[6]]  # the first worker's, in time order
    assert grouped[3:5] == [slot.rounds[1], slot.rounds[4]] and grouped[5:] == [slot.rounds[2], slot.rounds[5]]


def test_cut_in_time_order_too_the_interval_covers_drift_that_replica_batches_average_away():
    """Six processes taking turns while the machine slows 6 % over the row's rounds: each replica's batch
    then holds early and late rounds alike, so replica order alone hides the drift; the time-ordered cut
    edge-bench adds (slot.rounds) shows it."""
    rng = np.random.default_rng(5)
    by_replica: list[list] = [[] for _ in range(6)]
    rounds = []
    for i in range(72):
        ms = list(rng.normal(1.0 + 0.06 * i / 71, 0.002, 100))
        rounds.append(ms)
        by_replica[i % 6].append(ms)
    ms = np.concatenate(rounds)
    grouped = [r for rep in by_replica for r in rep]
    lo, hi = summarize(ms, grouped)["p50_ci_ms"]
    assert lo > 1.02 and hi < 1.04  # every replica's batch has the same mix of early and late rounds
    t_lo, t_hi = summarize(ms, grouped, rounds)["p50_ci_ms"]
    assert t_lo < 1.01 and t_hi > 1.05


def test_a_row_stops_on_its_interval_only_once_its_rounds_span_the_minimum_wall_clock():
    rng = np.random.default_rng(6)
    steady = [rng.normal(1.0, 0.001, 200) for _ in range(6)]
    kw = {"runs": None, "target_pct": 2.0, "budget_s": 5.0, "min_runs": 50, "rounds": steady, "min_span_s": 60.0}
    ms = np.concatenate(steady)
    assert stop_reason(ms, 1.0, span_s=12.0, **kw) is None  # tight, but all within 12 s of one another
    assert stop_reason(ms, 1.0, span_s=61.0, **kw) == "ci"
    assert stop_reason(ms, 5.0, span_s=12.0, **kw) == "ci"  # the budget ends the wait; the interval held
    wide = [rng.normal(1.0 + 0.1 * (i % 2), 0.001, 200) for i in range(6)]
    assert stop_reason(np.concatenate(wide), 5.0, span_s=12.0, **{**kw, "rounds": wide}) == "budget"


def test_published_intervals_stretch_by_the_machines_range_of_speed_over_the_run():
    """The reference loop ran 4 % slower in one stretch of the run and 2 % faster in another: every row's
    interval takes both in, its own interval is kept beside; a steady machine leaves intervals as they were."""
    from benchmarks.speedprobe import speed_range, widen_for_machine

    def row():
        return {"status": "ok", "p50_ms": 1.0, "p50_ci_ms": [0.99, 1.01], "p90_ci_ms": [1.1, None]}

    wobbly = [{"t": i, "probe_ms": 1.5 * (1.04 if 10 <= i < 20 else 0.98 if 40 <= i < 50 else 1.0)}
              for i in range(60)]
    low, high = speed_range(wobbly)
    assert low == pytest.approx(0.98) and high == pytest.approx(1.04)
    rows = [row(), {"status": "skipped"}]
    widen_for_machine(rows, wobbly)
    r = rows[0]
    assert r["p50_ci_own_ms"] == [0.99, 1.01] and r["machine_speed_range"] == [0.98, 1.04]
    assert r["p50_ci_ms"] == pytest.approx([0.99 * 0.98, 1.01 * 1.04])
    assert r["p90_ci_ms"][1] is None and r["p50_ci_half_width_pct"] == pytest.approx(5.04)
    steady = [{"t": i, "probe_ms": 1.5} for i in range(60)]
    calm = [row()]
    widen_for_machine(calm, steady)
    assert calm[0]["p50_ci_ms"] == [0.99, 1.01]
    offline = [{**row(), "batch": 32, "throughput_ci_ips": [31683.2, 32323.2]}]
    widen_for_machine(offline, wobbly)
    assert offline[0]["throughput_ci_ips"] == pytest.approx([32000 / (1.01 * 1.04), 32000 / (0.99 * 0.98)])
    assert offline[0]["p50_ci_half_width_own_pct"] is None  # the row's own width (none given here) is kept
    # Stretches of time, not of samples: nine samples crowded into the run's last tenth of a second (short
    # cycles once most rows are done) are a minority of the last stretch, not a stretch of their own.
    crowded = [{"t": i, "probe_ms": 1.5} for i in range(60)] + \
        [{"t": 59.5 + i / 100, "probe_ms": 1.6} for i in range(9)]
    assert speed_range(crowded) == (1.0, 1.0)
    assert speed_range(steady[:5]) is None  # fewer samples than stretches: nothing to say


def test_one_heavy_configuration_does_not_keep_the_light_ones_out_of_the_rounds(monkeypatch):
    """A Keras slot weighs a dozen TFLite ones: counting every newcomer as big as the first kept five of 21
    configurations live; each is now counted as big as the largest of its own backend seen so far."""
    from types import SimpleNamespace

    import benchmarks.rounds as rounds

    sizes = {1: 600, 2: 50, 3: 50, 4: 50, 5: 50, 6: 600}
    monkeypatch.setattr(rounds, "_mem_available", lambda: 2400)  # half of it, 1200, for the workers
    monkeypatch.setattr(rounds, "_rss_bytes", lambda pid: sizes[pid])
    memory = rounds.LiveMemory()

    def slot(pid, backend):
        worker = SimpleNamespace(proc=SimpleNamespace(pid=pid))
        return SimpleNamespace(cfg=SimpleNamespace(backend=backend), workers=[worker])

    first = slot(1, "keras")
    assert memory.admits(first.cfg)
    memory.joined(0, first)
    for i, pid in enumerate((2, 3, 4, 5), start=1):
        assert memory.admits(slot(pid, "tflite").cfg)  # the first counted as 600, the others as 50
        memory.joined(i, slot(pid, "tflite"))
    assert memory.most_live == 5
    assert not memory.admits(SimpleNamespace(backend="keras"))  # 800 live + another 600 > 1200
    memory.left(0)
    assert memory.admits(SimpleNamespace(backend="keras"))


def test_back_to_back_says_which_rows_lie_inside_each_others_interval():
    from benchmarks.back_to_back import mutual

    def rep(p50, ci):
        return {"rows": [{"status": "ok", "config": {"id": "a"}, "p50_ms": p50, "p50_ci_ms": ci, "runs": 9},
                         {"status": "skipped", "config": {"id": "b"}}]}

    both = mutual(rep(1.0, [0.98, 1.02]), rep(1.01, [0.99, 1.03]))
    assert [r["mutual"] for r in both] == [True] and len(both) == 1
    one = mutual(rep(1.0, [0.98, 1.02]), rep(1.015, [1.005, 1.03]))[0]
    assert not one["mutual"] and one["one_way"]
    apart = mutual(rep(1.0, [0.99, 1.01]), rep(1.05, [1.04, 1.06]))[0]
    assert not apart["mutual"] and not apart["one_way"]
    assert mutual(rep(1.0, [None, 1.2]), rep(1.1, [0.9, None]))[0]["mutual"]  # unbounded sides contain
