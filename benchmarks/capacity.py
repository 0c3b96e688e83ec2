"""edge-bench capacity: how many cameras can this box carry? MLPerf's MultiStream, through the kiosk's pipeline.

N streams, each its own process running the kiosk's pipeline (edge.face_pipeline.build_face_pipeline, the
one builder the kiosk uses: detector + classifier per face + tracker), are fed camera-sized frames (the
sample clip, 640x480) at the target FPS from one shared start time, like N cameras. A live camera hands
over its newest frame: a stream still busy when later frames arrive skips them, and those are dropped
frames. Per-frame latency is arrival to verdict, queueing included. N = 1, 2, 3 ... until a level drops
frames; the answer is the largest N that held the target FPS without dropping any.

    python -m benchmarks.capacity --stream '<settings json>' SOURCE FPS SECONDS
        -> {"ready": true} once loaded and warm; reads the shared start time (epoch s) on stdin; -> one result line
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

from benchmarks.stats import quantile_ci

WARMUP_FRAMES = 10


def _load_frames(source: str, limit: int = 150) -> list[np.ndarray]:
    from benchmarks.pipeline import frames

    return [f for f, _ in frames(source, limit)]


def run_stream(settings_json: str, source: str, fps: float, seconds: float, get_start) -> dict:
    """One camera: frames arrive every 1/fps from the start time `get_start()` returns once this stream is
    loaded and warm; the newest waiting frame is processed, the ones it overtook are dropped."""
    from edge.face_pipeline import FacePipelineSettings, build_face_pipeline, close_pipeline

    clip = _load_frames(source)
    pipeline = build_face_pipeline(FacePipelineSettings.model_validate_json(settings_json))
    try:
        for frame in clip[:WARMUP_FRAMES]:
            pipeline.process(frame.copy())
        pipeline.reset()
        start = get_start()
        total = int(round(seconds * fps))
        period = 1.0 / fps
        latencies, dropped, processed, next_index = [], 0, 0, 0
        while time.time() < start:
            time.sleep(min(0.01, max(0.0, start - time.time())))
        while next_index < total:
            now = time.time()
            arrived = min(total - 1, int((now - start) / period))  # the newest frame the camera has delivered
            if arrived < next_index:
                time.sleep(start + next_index * period - now)
                continue
            dropped += arrived - next_index  # frames that came and went while this stream was busy
            pipeline.process(clip[arrived % len(clip)].copy())
            latencies.append((time.time() - (start + arrived * period)) * 1000)
            processed += 1
            next_index = arrived + 1
    finally:
        close_pipeline(pipeline)
    return {"frames": total, "processed": processed, "dropped": dropped, "latency_ms": latencies}


def _stream_cmd(settings_json: str, source: str, fps: float, seconds: float) -> list[str]:
    return [sys.executable, "-m", "benchmarks.capacity", "--stream", settings_json, source, str(fps), str(seconds)]


def run_level(n: int, settings_json: str, source: str, fps: float, seconds: float) -> dict:
    """N streams at once; per-frame latency pooled over them, drops summed."""
    procs = [subprocess.Popen(_stream_cmd(settings_json, source, fps, seconds), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    for p in procs:  # every stream loads and warms up first; then all start together, like cameras switched on
        if not p.stdout.readline().startswith('{"ready"'):
            p.wait(timeout=30)
    start = time.time() + 0.2
    for p in procs:
        if p.poll() is None:
            p.stdin.write(f"{start}\n")
            p.stdin.flush()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=seconds + 120)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if p.returncode != 0 or not lines:
            raise RuntimeError(f"capacity stream exited {p.returncode}: {(err.strip().splitlines() or [''])[-1][:200]}")
        results.append(json.loads(lines[-1]))
    lat = np.concatenate([r["latency_ms"] for r in results]) if results else np.zeros(0)
    frames = sum(r["frames"] for r in results)
    dropped = sum(r["dropped"] for r in results)
    late = [r for r in results if r["processed"] == 0]
    row = {"streams": n, "frames": frames, "processed": sum(r["processed"] for r in results), "dropped": dropped,
           "dropped_pct": round(100 * dropped / max(frames, 1), 3), "fps_per_stream": fps}
    if len(lat) and not late:
        row.update(p50_ms=float(np.percentile(lat, 50)), p90_ms=float(np.percentile(lat, 90)),
                   p50_ci_ms=list(quantile_ci(lat, 0.5)), p90_ci_ms=list(quantile_ci(lat, 0.9)),
                   max_ms=float(lat.max()))
    return row


def capacity(settings, source: str, fps: float, seconds: float, max_streams: int, max_dropped_pct: float = 0.0,
             progress=None) -> dict:
    """Levels N = 1.. until one drops more than max_dropped_pct of its frames (or max_streams)."""
    settings_json = settings.model_dump_json()
    levels, held = [], 0
    for n in range(1, max_streams + 1):
        level = run_level(n, settings_json, source, fps, seconds)
        level["held"] = level["dropped_pct"] <= max_dropped_pct
        levels.append(level)
        if progress:
            progress(level)
        if not level["held"]:
            break
        held = n
    return {"tool": "edge-bench capacity", "scenario": "MultiStream", "source": source, "target_fps": fps,
            "seconds_per_level": seconds, "max_dropped_pct": max_dropped_pct, "levels": levels,
            "max_streams_held": held, "ceiling_reached": held == max_streams,
            "note": "each stream is its own process running the kiosk's pipeline (detector + classifier per face + "
                    "tracker) on camera-sized frames arriving at the target FPS; a frame that arrives while its "
                    "stream is busy and is overtaken by a newer one is dropped; latency is arrival to verdict"}


def to_markdown(result: dict) -> str:
    lines = [f"# edge-bench capacity ({result['scenario']})", "",
             f"- source: {result['source']}, target {result['target_fps']:g} FPS per stream, "
             f"{result['seconds_per_level']:g} s per level, held = at most {result['max_dropped_pct']:g} % frames "
             "dropped", f"- {result['note']}", "",
             "| streams | frames | dropped | dropped % | p50 ms [95% CI] | p90 ms [95% CI] | held |",
             "|---|---|---|---|---|---|---|"]
    for lv in result["levels"]:
        p50 = f"{lv['p50_ms']:.1f} [{_f(lv['p50_ci_ms'][0])}, {_f(lv['p50_ci_ms'][1])}]" if "p50_ms" in lv else ""
        p90 = f"{lv['p90_ms']:.1f} [{_f(lv['p90_ci_ms'][0])}, {_f(lv['p90_ci_ms'][1])}]" if "p90_ms" in lv else ""
        lines.append(f"| {lv['streams']} | {lv['frames']} | {lv['dropped']} | {lv['dropped_pct']} | {p50} | {p90} | "
                     f"{'yes' if lv['held'] else 'no'} |")
    more = " (the --max-streams ceiling: it may hold more)" if result["ceiling_reached"] else ""
    lines += ["", f"**Largest stream count held at {result['target_fps']:g} FPS without dropping frames: "
              f"{result['max_streams_held']}**{more}"]
    return "\n".join(lines) + "\n"


def _f(v: float | None) -> str:
    return "unbounded" if v is None else f"{v:.1f}"


def main() -> int:
    if sys.argv[1:2] != ["--stream"]:
        print("usage: edge-bench capacity --help (this module's --stream mode is edge-bench's own)", file=sys.stderr)
        return 2
    settings_json, source, fps, seconds = sys.argv[2:6]

    def get_start() -> float:
        print(json.dumps({"ready": True}), flush=True)
        return float(sys.stdin.readline())

    result = run_stream(settings_json, source, float(fps), float(seconds), get_start)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
