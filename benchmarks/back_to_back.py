"""Do two edge-bench runs agree? The same command twice, back to back, row against row.

What a reader of a published report wants to know: had they run it again on the same machine, would their
p50 have landed inside the published interval, and the published one inside theirs? This runs the given
`edge-bench` arguments twice in a row (`--pairs` times), writes both reports of each pair, and says for every
measured row whether each run's p50 lies inside the other's interval, with the reference loop's p50 and drift
in both runs (a machine that changed speed between the two shows there).

    python -m benchmarks.back_to_back --out reports/b2b                  # edge-bench digits, one pair
    python -m benchmarks.back_to_back --pairs 3 --watch tflite-int8/xnnpack/t1 --out reports/b2b -- digits --no-keras
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks.stats import intervals_overlap


def mutual(first: dict, second: dict) -> list[dict]:
    """Every configuration measured in both reports: each p50 against the other's interval."""
    older = {r["config"]["id"]: r for r in first.get("rows", []) if r.get("status") == "ok"}
    out = []
    for r in second.get("rows", []):
        o = older.get(r["config"]["id"])
        if o is None or r.get("status") != "ok":
            continue
        in_first = intervals_overlap([r["p50_ms"]] * 2, o["p50_ci_ms"])
        in_second = intervals_overlap([o["p50_ms"]] * 2, r["p50_ci_ms"])
        out.append({"id": r["config"]["id"], "first_p50_ms": o["p50_ms"], "first_ci_ms": o["p50_ci_ms"],
                    "second_p50_ms": r["p50_ms"], "second_ci_ms": r["p50_ci_ms"],
                    "first_runs": o["runs"], "second_runs": r["runs"],
                    "mutual": in_first and in_second, "one_way": in_first != in_second})
    return out


class PairFailed(RuntimeError):
    """One of the two edge-bench runs gave no report."""


def run_pair(bench_args: list[str], out: Path, quiet: bool = False) -> dict:
    """Both runs of one pair, their reports kept under out/first and out/second; edge-bench's progress lines
    go to stderr as they come (a run takes minutes) unless `quiet`."""
    reports = []
    for name in ("first", "second"):
        folder = out / name
        proc = subprocess.run([sys.executable, "-m", "benchmarks.cli", *bench_args, "--out", str(folder)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL if quiet else None)
        report = folder / "report.json"
        if proc.returncode not in (0, 3) or not report.is_file():  # 3: a --baseline regression, still a report
            raise PairFailed(f"edge-bench {' '.join(bench_args)} (the {name} run) exited {proc.returncode} without "
                             f"a report in {folder}: run it alone to see why (subcommands such as compare have no "
                             "report.json to compare)")
        reports.append(json.loads(report.read_text()))
    rows = mutual(*reports)
    speed = [(r.get("telemetry") or {}).get("machine_speed") or {} for r in reports]
    return {"rows": rows, "mutual": sum(r["mutual"] for r in rows), "measured": len(rows),
            "reference_loop_p50_ms": [s.get("p50_ms") for s in speed],
            "reference_loop_drift_pct": [s.get("drift_pct") for s in speed]}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    bench_args = argv[argv.index("--") + 1:] if "--" in argv else ["digits"]
    own = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(prog="python -m benchmarks.back_to_back", description=__doc__.split("\n\n")[0],
                                epilog="Arguments after -- go to edge-bench (default: digits).",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=int, default=1, help="how many back-to-back pairs (default 1)")
    p.add_argument("--watch", default="tflite-int8/xnnpack", help="rows whose id holds this are printed and "
                   "counted apart (default tflite-int8/xnnpack: the int8 XNNPACK rows)")
    p.add_argument("--out", type=Path, default=Path("reports/back-to-back"), help="reports go here, as "
                   "pair-N/first and pair-N/second (default reports/back-to-back)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = p.parse_args(own)
    if args.pairs < 1:
        p.error("--pairs must be at least 1")
    pairs = []
    for k in range(args.pairs):
        try:
            pair = run_pair(bench_args, args.out / f"pair-{k + 1}", quiet=args.json)
        except PairFailed as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        pair["watched"] = [r for r in pair["rows"] if args.watch in r["id"]]
        pairs.append(pair)
        if not args.json:
            _print(k + 1, pair)
    watched = [r for pair in pairs for r in pair["watched"]]
    result = {"edge_bench_args": bench_args, "pairs": pairs, "watch": args.watch,
              "watched_mutual": sum(r["mutual"] for r in watched), "watched_rows": len(watched)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.watch}: {result['watched_mutual']} of {result['watched_rows']} row pairs mutually inside")
    return 0


def _print(k: int, pair: dict) -> None:
    loop = " -> ".join(f"{v:.4f}" if v else "?" for v in pair["reference_loop_p50_ms"])
    print(f"pair {k}: {pair['mutual']} of {pair['measured']} rows mutually inside; reference loop p50 {loop} ms, "
          f"drift {pair['reference_loop_drift_pct']} %")
    for r in pair["watched"]:
        mark = "mutual" if r["mutual"] else ("one way" if r["one_way"] else "apart")
        print(f"  {r['id']}: {r['first_p50_ms']:.4f} {_ci(r['first_ci_ms'])} ({r['first_runs']} runs) then "
              f"{r['second_p50_ms']:.4f} {_ci(r['second_ci_ms'])} ({r['second_runs']} runs): {mark}")


def _ci(ci: list) -> str:
    return "[" + ", ".join("?" if v is None else f"{v:.4f}" for v in ci) + "]"


if __name__ == "__main__":
    sys.exit(main())
