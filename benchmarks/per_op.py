"""Where the time goes inside one inference: per-op times from the runtime's own profiler, top ops with share.

ONNX Runtime: SessionOptions.enable_profiling writes a trace with every node's kernel time and provider.
OpenVINO: the PERF_COUNT property gives each executed node's real time and its kernel type. TFLite: the
Python interpreter of ai_edge_litert, tflite_runtime and tensorflow.lite has no per-op profiler (and
litert-benchmark no op-profiling flag), so a TFLite row says so and shows its delegate partitions instead.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from pathlib import Path

PROFILE_RUNS = 30
TOP = 8
TFLITE_REASON = ("per-op time not exposed by this runtime ({runtime}: the Python interpreter has no op profiler; "
                 "TFLite's benchmark_model --enable_op_profiling is the C++ tool for it)")


def summarize_nodes(nodes: list[dict], runs: int, source: str) -> dict:
    """nodes: {"node", "op", "us", "where"} summed over `runs` inferences -> top op types and nodes by time."""
    total = sum(n["us"] for n in nodes) or 1.0
    by_op: dict[str, list] = defaultdict(lambda: [0, 0.0])
    for n in nodes:
        by_op[n["op"]][0] += 1
        by_op[n["op"]][1] += n["us"]
    ops = sorted(by_op.items(), key=lambda kv: -kv[1][1])
    return {"available": True, "source": source, "runs": runs, "nodes": len(nodes),
            "total_ms": round(total / runs / 1000, 5),
            "top_ops": [{"op": op, "nodes": k, "ms": round(us / runs / 1000, 5), "share": round(us / total, 4)}
                        for op, (k, us) in ops[:TOP]],
            "top_nodes": [{"node": n["node"], "op": n["op"], "where": n["where"], "ms": round(n["us"] / runs / 1000, 5),
                           "share": round(n["us"] / total, 4)} for n in sorted(nodes, key=lambda n: -n["us"])[:TOP]]}


def onnx_profile_nodes(events: list[dict]) -> list[dict]:
    """Node kernel events of an ONNX Runtime profile, summed per node."""
    per: dict[str, dict] = {}
    for ev in events:
        args = ev.get("args") or {}
        if ev.get("cat") != "Node" or not ev.get("name", "").endswith("_kernel_time"):
            continue
        name = ev["name"].rsplit("_kernel_time", 1)[0]
        n = per.setdefault(name, {"node": name, "op": args.get("op_name", "?"), "us": 0.0,
                                  "where": args.get("provider", "?")})
        n["us"] += float(ev.get("dur", 0))
    return list(per.values())


def onnx_per_op(path: Path, provider: str, threads: int, feeds: dict, runs: int = PROFILE_RUNS) -> tuple[dict, list]:
    """(per-op summary, the raw events) from a profiled session of its own."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.enable_profiling = True
    opts.log_severity_level = 3
    opts.intra_op_num_threads = threads
    with tempfile.TemporaryDirectory() as tmp:
        opts.profile_file_prefix = str(Path(tmp) / "prof")
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=[provider])
        for _ in range(runs + 1):  # the first run (allocation, provider set-up) is dropped below
            sess.run(None, feeds)
        events = json.loads(Path(sess.end_profiling()).read_text())
    steady = _drop_first_run(events)
    return summarize_nodes(onnx_profile_nodes(steady), runs, "onnxruntime profiler (enable_profiling)"), events


def _drop_first_run(events: list[dict]) -> list[dict]:
    """Events after the first model_run (its warm-up), so `runs` steady inferences remain."""
    runs = sorted(ev["ts"] for ev in events if ev.get("name") == "model_run")
    return [ev for ev in events if len(runs) < 2 or ev.get("ts", 0) >= runs[1]]


def openvino_per_op(path: Path, threads: int, feeds: list, runs: int = PROFILE_RUNS) -> dict:
    """Real time per executed node with PERF_COUNT on, summed over `runs` inferences."""
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(path))
    shapes = {p.get_any_name(): [1 if not d.is_static else d.get_length() for d in p.get_partial_shape()]
              for p in model.inputs if not p.get_partial_shape().is_static}
    if shapes:
        model.reshape(shapes)
    compiled = core.compile_model(model, "CPU", {"PERF_COUNT": True, "INFERENCE_NUM_THREADS": threads,
                                                 "PERFORMANCE_HINT": "LATENCY"})
    req = compiled.create_infer_request()
    for i, x in enumerate(feeds):
        req.set_input_tensor(i, ov.Tensor(x))
    req.infer()
    per: dict[str, dict] = {}
    for _ in range(runs):
        req.infer()
        for info in req.profiling_info:
            if info.status == info.Status.EXECUTED:
                n = per.setdefault(info.node_name, {"node": info.node_name, "op": info.node_type, "us": 0.0,
                                                    "where": info.exec_type})
                n["us"] += info.real_time.total_seconds() * 1e6
    return summarize_nodes(list(per.values()), runs, "OpenVINO PERF_COUNT (profiling_info)")


def tflite_per_op(runtime: str, coverage: dict | None) -> dict:
    """No profiler to ask: say so, and where the graph ran (delegate partitions vs CPU ops)."""
    out = {"available": False, "reason": TFLITE_REASON.format(runtime=runtime)}
    if coverage:
        out["partitions"] = {"delegate_partitions": coverage.get("partitions", 0),
                             "nodes_in_delegate": coverage.get("delegated", 0),
                             "nodes_on_cpu_kernels": coverage.get("nodes", 0) - coverage.get("delegated", 0),
                             "cpu_ops": coverage.get("fallback_ops", {})}
    return out
