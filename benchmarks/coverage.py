"""How much of a model ran on the delegate / provider, and how much fell back to the CPU.

A delegate that silently runs everything on the CPU must show up as such; this counts nodes.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path


def tflite_coverage(ops: list[dict]) -> dict:
    """From `interpreter._get_ops_details()`: original nodes first, then DELEGATE nodes.

    A delegate node replaces a partition of original nodes; walking back from its outputs to its
    inputs through the producers finds which ones.
    """
    original = [op for op in ops if op["op_name"] != "DELEGATE"]
    delegates = [op for op in ops if op["op_name"] == "DELEGATE"]
    producer = {int(t): op["index"] for op in original for t in op["outputs"]}
    by_index = {op["index"]: op for op in original}
    covered: set[int] = set()
    for d in delegates:
        boundary = {int(t) for t in d["inputs"]}
        stack = [int(t) for t in d["outputs"]]
        while stack:
            node = producer.get(stack.pop())
            if node is None or node in covered:
                continue
            covered.add(node)
            stack.extend(int(t) for t in by_index[node]["inputs"] if int(t) not in boundary)
    cpu = [op["op_name"] for op in original if op["index"] not in covered]
    return {"nodes": len(original), "delegated": len(covered), "partitions": len(delegates),
            "fallback_ops": dict(Counter(cpu))}


def onnx_coverage(profile: str | Path | list) -> dict:
    """From an ONNX Runtime profile (SessionOptions.enable_profiling; its path or its events): nodes per
    execution provider."""
    events = profile if isinstance(profile, list) else json.loads(Path(profile).read_text())
    per_node: dict[str, str] = {}
    for ev in events:
        args = ev.get("args") or {}
        if ev.get("cat") == "Node" and "provider" in args:
            per_node[ev["name"].rsplit("_kernel_time", 1)[0]] = args["provider"]
    return {"nodes": len(per_node), "by_provider": dict(Counter(per_node.values()))}


def fallback_warnings(rows: list[dict]) -> list[str]:
    """A provider or delegate that loads but runs nodes on the CPU, said out loud with the node count."""
    out = []
    for r in rows:
        cfg, cov = r["config"], r.get("coverage") or {}
        if r.get("status") != "ok" or not cov:
            continue
        if cfg["backend"] == "onnx" and cfg.get("provider") not in (None, "CPUExecutionProvider"):
            cpu = cov.get("by_provider", {}).get("CPUExecutionProvider", 0)
            if cpu:
                out.append(f"{cfg['id']}: {cpu} of {cov['nodes']} nodes ran on the CPU, not on {cfg['provider']} "
                           "(silent fallback)")
        elif cfg["backend"] == "tflite" and cfg.get("delegate") and cov.get("delegated", 0) < cov.get("nodes", 0):
            out.append(f"{cfg['id']}: {cov['nodes'] - cov['delegated']} of {cov['nodes']} nodes ran on the CPU, not "
                       f"on the {cfg['delegate']} delegate ({', '.join(cov.get('fallback_ops', {}))})")
    return out
