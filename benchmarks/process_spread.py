"""How much does one worker process's luck move a median? Fresh workers of one configuration, side by side.

Two edge-bench runs never share worker processes, and a process's memory layout, the core it lands on and
the neighbours while it runs all move its latency. This starts `--workers` fresh edge-bench workers of one
configuration (the built-in int8 digits TFLite with XNNPACK, 1 thread, by default), lets them take timed
rounds in turn, and reports each one's median and their spread against the spread between rounds within a
process. A spread between processes well above the within-process one is why edge-bench cuts the batches
of its intervals per worker process (benchmarks.rounds).

    python -m benchmarks.process_spread [--workers 6] [--rounds 12] [--bundle digits] [--format tflite-int8] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def measure(workers: int = 6, rounds: int = 12, bundle: str = "digits", fmt: str = "tflite-int8",
            round_s: float = 0.25) -> dict:
    from benchmarks.configs import BenchConfig
    from benchmarks.rounds import Worker
    from benchmarks.settings import Settings
    from edge.bundle import load_bundle
    from edge.errors import EdgeSightError

    b = load_bundle(bundle)
    cfg = BenchConfig(id=f"{b.name}/{fmt}/t1", model=str(b.root), label=b.name, format=fmt,
                      backend="onnx" if fmt.startswith("onnx") else "tflite", threads=1)
    settings = Settings(round_s=round_s)
    started: list[Worker] = []
    try:
        for _ in range(workers):
            worker = Worker(cfg, settings)
            started.append(worker)
            hello = worker.ask(None)
            if not hello.get("ready"):
                raise EdgeSightError(f"{cfg.id}: the worker did not start: {hello.get('reason')}")
        per_round = np.zeros((workers, rounds))
        for r in range(rounds):
            for i, worker in enumerate(started):
                reply = worker.ask({"op": "time", "runs": 1, "seconds": round_s, "max_runs": 100_000})
                if "ms" not in reply:
                    raise EdgeSightError(f"{cfg.id}: a worker failed: {reply.get('reason')}")
                per_round[i, r] = float(np.median(reply["ms"]))
    finally:
        for worker in started:
            worker.close()
    medians = np.median(per_round, axis=1)
    centre = float(np.median(medians))
    within = (np.quantile(per_round, 0.9, axis=1) - np.quantile(per_round, 0.1, axis=1)) / medians
    return {"config": cfg.id, "workers": workers, "rounds": rounds, "round_s": round_s,
            "worker_medians_ms": [round(float(m), 5) for m in medians],
            "between_workers_pct": round(100 * float(medians.max() - medians.min()) / centre, 2),
            "within_worker_p10_p90_pct": round(100 * float(np.median(within)), 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.process_spread", description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=6)
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--bundle", default="digits")
    p.add_argument("--format", default="tflite-int8")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    r = measure(args.workers, args.rounds, args.bundle, args.format)
    if args.json:
        print(json.dumps(r))
    else:
        print(f"{r['config']}: {r['workers']} fresh workers x {r['rounds']} rounds, worker medians "
              f"{min(r['worker_medians_ms']):.4f}-{max(r['worker_medians_ms']):.4f} ms: "
              f"{r['between_workers_pct']:.2f} % apart (rounds within one worker: p10-p90 "
              f"{r['within_worker_p10_p90_pct']:.2f} % of its median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
