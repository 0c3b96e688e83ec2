"""Face-detector recall on masked and unmasked faces by face size, and false boxes with and without faces.

Two sets, both built from real images by `edge-train`:
  - the recall set (`edge-train masks --detection-out DIR`): unmasked/ and masked/ twins of the same
    640x480 frames, one known face each, plus boxes.json. A face is found when a detection overlaps its
    box with IoU >= 0.3 (detectors draw boxes differently: Haar squares are larger, res10 boxes taller);
    every other detection in the frame is a false box.
  - the no-face set (`edge-train noface`): frames with no face at all; every detection is a false box.
Recall is reported in face-size bands (< 40, 40-60, 60-100, >= 100 px), the same bands the bars use.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from edge.detectors import FaceDetector
from edge.detectors.base import reset_detector
from edge.errors import EdgeSightError
from edge.geometry import BBox

IOU_HIT = 0.3
BANDS = (("<40", 0, 40), ("40-60", 40, 60), ("60-100", 60, 100), (">=100", 100, math.inf))
VARIANTS = ("unmasked", "masked")
# The bars of the face-detection issue, for the default detector.
BARS = {"kiosk_recall": 0.97, "small_recall": 0.90, "false_per_frame": 0.01, "noface_per_1000": 1.0}


def group_of(source: str) -> str:
    """`animated` for the Megamind clip's rendered faces, `photo` for photographs of real people."""
    return "animated" if "megamind" in source.lower() else "photo"


def band_of(size_px: float) -> str:
    return next(name for name, lo, hi in BANDS if lo <= size_px < hi)


def load_set(root: str | Path, advice: str) -> dict:
    meta_path = Path(root) / "boxes.json"
    if not meta_path.is_file():
        raise EdgeSightError(f"{root}: no boxes.json; build the set with `{advice}`")
    return json.loads(meta_path.read_text())


def _read(path: Path) -> np.ndarray:
    frame = cv2.imread(str(path))
    if frame is None:
        raise EdgeSightError(f"{path}: missing or unreadable")
    return frame


def _timed(detector: FaceDetector, frame: np.ndarray, times: list[float]) -> list:
    """One still frame: nothing the detector remembers from the last one may help or hurt."""
    reset_detector(detector)
    t0 = time.perf_counter()
    found = detector.detect(frame)
    times.append(time.perf_counter() - t0)
    return found


def _on(box: BBox, face: BBox) -> bool:
    """A detection on another face of the frame: overlapping it (IoU >= 0.3) or centred inside it."""
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    return box.iou(face) >= IOU_HIT or (face.x <= cx <= face.x + face.w and face.y <= cy <= face.y + face.h)


def _kiosk(size_px: float) -> str:
    return ">=60" if size_px >= 60 else "<60"


def _rate(found: int, total: int) -> float | None:
    return round(found / total, 4) if total else None


def measure_recall(detector: FaceDetector, root: str | Path) -> dict:
    """Recall per variant and size band, false boxes per frame, and detect time (p50, in ms)."""
    root = Path(root)
    meta = load_set(root, f"edge-train masks --detection-out {root}")
    hits: dict = defaultdict(lambda: [0, 0])
    false_boxes, false_examples, times = 0, [], []
    for name, info in meta["frames"].items():
        gt = BBox(*info["box"])
        ignore = [BBox(*b) for b in info.get("ignore", [])]
        for variant in VARIANTS:
            found = _timed(detector, _read(root / variant / name), times)
            hit = any(d.box.iou(gt) >= IOU_HIT for d in found)
            wrong = [d for d in found if d.box.iou(gt) < IOU_HIT and not any(_on(d.box, b) for b in ignore)]
            false_boxes += len(wrong)
            false_examples += [{"frame": f"{variant}/{name}", "box": d.box.as_list(), "score": d.score}
                               for d in wrong][:3]
            group = group_of(info.get("source", ""))
            for key in ((variant, band_of(info["size_px"])), (variant, info["size_px"]),
                        (group, variant, band_of(info["size_px"])), (group, variant, _kiosk(info["size_px"]))):
                hits[key][0] += hit
                hits[key][1] += 1
    frames = 2 * len(meta["frames"])
    bands = {v: {b: _rate(*hits[(v, b)]) for b, _, _ in BANDS} for v in VARIANTS}
    kiosk = {v: _rate(sum(hits[(v, b)][0] for b in ("60-100", ">=100")),
                      sum(hits[(v, b)][1] for b in ("60-100", ">=100"))) for v in VARIANTS}
    sizes = sorted({k[1] for k in hits if len(k) == 2 and isinstance(k[1], int)})
    groups = sorted({k[0] for k in hits if len(k) == 3})
    by_group = {g: {v: {**{b: _rate(*hits[(g, v, b)]) for b, _, _ in BANDS}, ">=60": _rate(*hits[(g, v, ">=60")])}
                    for v in VARIANTS} for g in groups}
    return {"frames": frames, "recall": bands, "masked_recall": kiosk["masked"], "unmasked_recall": kiosk["unmasked"],
            "per_size": {str(s): {v: _rate(*hits[(v, s)]) for v in VARIANTS} for s in sizes}, "by_group": by_group,
            "false_boxes": false_boxes, "false_boxes_per_frame": round(false_boxes / frames, 4),
            "false_examples": false_examples[:10], "detect_ms_p50": round(float(np.median(times)) * 1e3, 3)}


def measure_noface(detector: FaceDetector, root: str | Path) -> dict:
    """False boxes on frames with no face, in total, per 1,000 frames and per kind of image."""
    root = Path(root)
    meta = load_set(root, f"edge-train noface --out {root}")
    per_kind: dict = defaultdict(lambda: [0, 0])
    examples, times = [], []
    for name, info in meta["frames"].items():
        found = _timed(detector, _read(root / name), times)
        per_kind[info["kind"]][0] += len(found)
        per_kind[info["kind"]][1] += 1
        examples += [{"frame": name, "box": d.box.as_list(), "score": d.score} for d in found]
    total = sum(v[0] for v in per_kind.values())
    frames = len(meta["frames"])
    return {"frames": frames, "false_boxes": total, "per_1000_frames": round(1000 * total / max(frames, 1), 3),
            "per_kind": {k: {"frames": n, "false_boxes": f} for k, (f, n) in sorted(per_kind.items())},
            "examples": examples[:10], "detect_ms_p50": round(float(np.median(times)) * 1e3, 3)}


def check_bars(row: dict) -> list[str]:
    """The face-detection bars: recall >= 0.97 at >= 60 px and >= 0.90 at 40-60 px for masked and unmasked
    faces, <= 0.01 false boxes per frame on the recall set and <= 1 per 1,000 frames on the no-face set."""
    problems = []
    name = row["detector"]
    for variant in VARIANTS:
        kiosk, small = row[f"{variant}_recall"], row["recall"][variant]["40-60"]
        if kiosk is None or kiosk < BARS["kiosk_recall"]:
            problems.append(f"{name}: {variant} recall at >= 60 px {kiosk} < {BARS['kiosk_recall']}")
        if small is None or small < BARS["small_recall"]:
            problems.append(f"{name}: {variant} recall at 40-60 px {small} < {BARS['small_recall']}")
    if row["false_boxes_per_frame"] > BARS["false_per_frame"]:
        problems.append(f"{name}: {row['false_boxes_per_frame']} false boxes per frame > {BARS['false_per_frame']}")
    noface = row.get("noface")
    if noface is not None and noface["per_1000_frames"] > BARS["noface_per_1000"]:
        problems.append(f"{name}: {noface['per_1000_frames']} false boxes per 1,000 no-face frames > "
                        f"{BARS['noface_per_1000']}")
    return problems


def markdown(rows: list[dict]) -> str:
    head = ["detector"] + [f"{v} {b}" for v in VARIANTS for b, _, _ in BANDS] + \
        ["false/frame", "no-face false/1000", "detect p50 ms"]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for r in rows:
        noface = r.get("noface")
        cells = [r["detector"]] + [str(r["recall"][v][b]) for v in VARIANTS for b, _, _ in BANDS] + \
            [str(r["false_boxes_per_frame"]), str(noface["per_1000_frames"]) if noface else "—",
             str(r["detect_ms_p50"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "By kind of face (photos of real people; the animated Megamind clip):", "",
              "| detector | group | unmasked 40-60 | unmasked >=60 | masked 40-60 | masked >=60 |",
              "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        for group, g in r.get("by_group", {}).items():
            lines.append(f"| {r['detector']} | {group} | {g['unmasked']['40-60']} | {g['unmasked']['>=60']} | "
                         f"{g['masked']['40-60']} | {g['masked']['>=60']} |")
    return "\n".join(lines) + "\n"
