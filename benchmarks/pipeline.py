"""edge-bench pipeline: the kiosk's own frame loop, timed per stage, and its cost per number of faces.

The pipeline is the kiosk's (edge.face_pipeline.build_face_pipeline with the kiosk's settings or a kiosk
YAML), the frames come from the kiosk's FrameSource and the overlay is the kiosk's `draw`, so every
number here is one the kiosk's code path produced: capture -> detect (when the schedule says) -> crop +
preprocess -> classify (the faces of a frame as one batch) -> track -> draw. FPS is frames over wall
time, headless. The schedule comparison runs the same frames with the detector on every frame, to say
what the adaptive schedule saves and that it counts the same people.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from benchmarks.stats import interval
from edge.crops import face_crop
from edge.errors import SourceError
from edge.kiosk.display import draw
from edge.mask_pipeline import FacePipeline
from edge.sources import open_source, resolve_sample

STAGES = ("capture", "detect", "preprocess", "classify", "track", "draw")


def frames(source: str, max_frames: int) -> Iterator[tuple[np.ndarray, float]]:
    """(frame, capture ms) from the FrameSource the kiosk uses; stops at the first missing frame."""
    src = open_source(resolve_sample(source), reconnect=False)
    try:
        for _ in range(max_frames):
            t0 = time.perf_counter()
            frame = src.read()
            if frame is None:
                return
            yield frame, (time.perf_counter() - t0) * 1000
    finally:
        src.close()


def stats(values: list[float]) -> dict:
    """Mean, p50 (with its 95 % interval: benchmarks.stats, frames in time order as the rounds), p90 and max."""
    a = np.asarray(values) if values else np.zeros(1)
    lo, hi = interval(a, 0.5, rounds=[[v] for v in values])
    return {"mean_ms": float(a.mean()), "p50_ms": float(np.percentile(a, 50)), "p50_ci_ms": [lo, hi],
            "p90_ms": float(np.percentile(a, 90)), "max_ms": float(a.max()), "n": len(values)}


def _speed_line(speed: dict | None) -> list[str]:
    """The machine's speed around the run (benchmarks.speedprobe): a number to compare two runs' FPS by."""
    if not speed:
        return []
    return [f"- machine speed ({speed['probe']}): {speed['before_ms']:.3f} ms before the run, "
            f"{speed['after_ms']:.3f} ms after"]


def _ci(s: dict) -> str:
    lo, hi = s.get("p50_ci_ms") or (None, None)
    return "—" if lo is None or hi is None else f"[{lo:.3f}, {hi:.3f}]"


def run_pipeline(source: str, pipeline: FacePipeline, max_frames: int = 300) -> dict:
    """The kiosk loop over the source, read inline (capture is a stage): per-stage times, FPS, detector use."""
    pipeline.reset()
    times: dict[str, list[float]] = {s: [] for s in STAGES}
    detector_ms, faces, people, first_seen, shape = [], [], 0, {}, None
    started = time.perf_counter()
    for frame, capture_ms in frames(source, max_frames):
        shape = frame.shape
        result = pipeline.process(frame)
        t0 = time.perf_counter()
        draw(frame, result)
        times["draw"].append((time.perf_counter() - t0) * 1000)
        times["capture"].append(capture_ms)
        for stage in STAGES[1:-1]:
            times[stage].append(result.timings_ms[f"{stage}_ms"])
        if result.detected:
            detector_ms.append(result.timings_ms["detect_ms"])
        faces.append(len(result.faces))
        for f in result.faces:
            first_seen.setdefault(f.track_id, result.index)
            people += f.first_settled
    wall = time.perf_counter() - started
    if shape is None:
        raise SourceError(f"{source}: no frames")
    per_face = [c / n for c, n in zip(times["classify"], faces) if n]
    return {"source": str(source), "frames": len(faces), "frame_shape": list(shape), "fps": len(faces) / wall,
            "wall_s": wall, "stages": {s: stats(v) for s, v in times.items()},
            "detector_runs": len(detector_ms), "detector_share": len(detector_ms) / len(faces),
            "detector_ms": stats(detector_ms), "classify_per_face_ms": stats(per_face) if per_face else None,
            "faces_per_frame": {str(k): int(v) for k, v in zip(*np.unique(faces, return_counts=True))},
            "people_counted": people, "tracks": len(first_seen)}


def cost_per_faces(face: np.ndarray, pipeline: FacePipeline, detect_p50_ms: float,
                   counts: tuple[int, ...] = (0, 1, 4, 8), runs: int = 30) -> list[dict]:
    """The detector runs once per frame (its p50 over the pipeline run); the classifier on n face crops."""
    clf = pipeline.classifier
    rows = []
    for n in counts:
        per_run = []
        for _ in range(runs):
            t0 = time.perf_counter()
            if n:
                clf.decode(clf.probabilities(clf.prepare([face] * n)))
            per_run.append((time.perf_counter() - t0) * 1000)
        cls = float(np.median(per_run))
        rows.append({"faces": n, "detect_p50_ms": detect_p50_ms, "classify_p50_ms": cls,
                     "total_p50_ms": detect_p50_ms + cls, "max_fps": 1000.0 / (detect_p50_ms + cls)})
    return rows


def first_face(source: str, pipeline: FacePipeline, scan: int = 100) -> np.ndarray:
    """The first detected face crop (the kiosk's margin), or the centre of the first frame when none is found."""
    first = None
    for frame, _ in frames(source, scan):
        first = frame if first is None else first
        found = pipeline.detector.detect(frame)
        if found:
            return face_crop(frame, found[0].box, pipeline.margin)
    if first is None:
        raise SourceError(f"{source}: no frames")
    h, w = first.shape[:2]
    return first[h // 4: 3 * h // 4, w // 4: 3 * w // 4]


def default_bundle() -> str:
    from edge.bundle import builtin_names

    names = builtin_names()
    for name in ("mask", "fashion", "digits"):
        if name in names:
            return name
    raise SourceError("no built-in bundle installed")


def to_markdown(r: dict) -> str:
    shape = r["frame_shape"]
    lines = [f"# Pipeline: {r['source']}", "",
             f"- {r['frames']} frames of {shape[1]}x{shape[0]}, headless: **{r['fps']:.1f} FPS**",
             f"- detector: {r['detector']}; classifier: {r['classifier']}",
             f"- the detector ran on {r['detector_runs']} of {r['frames']} frames ({r['detector_share']:.0%}); "
             f"one detection p50 {r['detector_ms']['p50_ms']:.2f} ms {_ci(r['detector_ms'])}",
             f"- faces per frame: {r['faces_per_frame']}; people counted: {r['people_counted']}",
             *_speed_line(r.get("machine_speed")), "",
             "| stage | mean ms | p50 ms | p50 95 % interval | p90 ms | max ms |", "|---|---:|---:|---|---:|---:|"]
    for stage, s in r["stages"].items():
        lines.append(f"| {stage} | {s['mean_ms']:.3f} | {s['p50_ms']:.3f} | {_ci(s)} | {s['p90_ms']:.3f} | "
                     f"{s['max_ms']:.3f} |")
    if r.get("classify_per_face_ms"):
        lines += ["", f"Classification per face: p50 {r['classify_per_face_ms']['p50_ms']:.3f} ms."]
    if r.get("schedule_comparison"):
        c = r["schedule_comparison"]
        lines += ["", "Detection schedule (same frames, runs in ABBA order; FPS the mean of each schedule's two):", "",
                  "| schedule | FPS | runs | detector runs | people counted |", "|---|---:|---|---:|---:|"]
        for name, row in c.items():
            each = " / ".join(f"{v:.1f}" for v in row.get("fps_runs", [row["fps"]]))
            lines.append(f"| {name} | {row['fps']:.1f} | {each} | {row['detector_runs']} | {row['people_counted']} |")
    lines += ["", "Cost per number of faces (detector once per frame at its p50 above; classifier on n crops):", "",
              "| faces | detect p50 ms | classify p50 ms | total ms | max FPS |", "|---:|---:|---:|---:|---:|"]
    for c in r.get("cost_per_faces", []):
        lines.append(f"| {c['faces']} | {c['detect_p50_ms']:.3f} | {c['classify_p50_ms']:.3f} | "
                     f"{c['total_p50_ms']:.3f} | {c['max_fps']:.0f} |")
    return "\n".join(lines) + "\n"
