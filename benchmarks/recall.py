"""Face-detection recall on masked and unmasked faces, per detector and face size.

Reads a detection set (`edge-train masks --detection-out DIR`: unmasked/ and masked/ twins of the
same 640x480 frames plus boxes.json). A face is found when a detection overlaps its box with
IoU >= 0.3 (detectors draw boxes differently: Haar squares are larger, res10 boxes taller).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from edge.detectors import open_detector
from edge.errors import EdgeSightError
from edge.geometry import BBox

IOU_HIT = 0.3
KIOSK_MIN_PX = 60


def load_set(root: str | Path) -> dict:
    root = Path(root)
    meta_path = root / "boxes.json"
    if not meta_path.is_file():
        raise EdgeSightError(f"{root}: no boxes.json; build the set with `edge-train masks --detection-out {root}`")
    return json.loads(meta_path.read_text())


def measure(detector_name: str, root: str | Path, min_face_px: int = 24, **options: object) -> dict:
    """Recall per variant (masked / unmasked) over kiosk-size and small faces, plus per size and timing."""
    root = Path(root)
    meta = load_set(root)
    detector = open_detector(detector_name, min_face_px=min_face_px, **options)
    hits: dict = defaultdict(lambda: [0, 0])
    extra, times = 0, []
    for name, info in meta["frames"].items():
        gt = BBox(*info["box"])
        for variant in ("unmasked", "masked"):
            frame = cv2.imread(str(root / variant / name))
            if frame is None:
                raise EdgeSightError(f"{root / variant / name}: missing or unreadable")
            t0 = time.perf_counter()
            found = detector.detect(frame)
            times.append(time.perf_counter() - t0)
            hit = any(b.iou(gt) >= IOU_HIT for b in found)
            extra += sum(b.iou(gt) < IOU_HIT and min(b.w, b.h) >= KIOSK_MIN_PX for b in found)
            bucket = "kiosk" if info["size_px"] >= KIOSK_MIN_PX else "small"
            for key in ((variant, bucket), (variant, info["size_px"])):
                hits[key][0] += hit
                hits[key][1] += 1
    def rate(key):
        found, total = hits[key]
        return round(found / total, 4) if total else None

    sizes = sorted({k[1] for k in hits if isinstance(k[1], int)})
    out = {"detector": detector_name, "frames": len(meta["frames"]),
           "masked_recall": rate(("masked", "kiosk")), "unmasked_recall": rate(("unmasked", "kiosk")),
           "masked_recall_small": rate(("masked", "small")), "unmasked_recall_small": rate(("unmasked", "small")),
           "per_size": {str(s): {"masked": rate(("masked", s)), "unmasked": rate(("unmasked", s))} for s in sizes},
           "false_positives_per_frame": round(extra / (2 * len(meta["frames"])), 4),  # boxes >= 60 px
           "detect_ms_p50": round(float(np.median(times)) * 1e3, 3)}
    if out["masked_recall"] is not None and out["unmasked_recall"] is not None:
        out["gap_pp"] = round((out["unmasked_recall"] - out["masked_recall"]) * 100, 2)
    return out


def check_bars(row: dict, min_masked: float = 0.9, max_gap_pp: float = 10.0) -> list[str]:
    """The issue's bars for faces of at least 60 px: masked >= 0.9, within 10 points of unmasked."""
    problems = []
    if row["masked_recall"] is None or row["masked_recall"] < min_masked:
        problems.append(f"{row['detector']}: masked recall {row['masked_recall']} < {min_masked}")
    if row.get("gap_pp") is not None and row["gap_pp"] > max_gap_pp:
        problems.append(f"{row['detector']}: masked recall {row['gap_pp']} pp below unmasked (> {max_gap_pp})")
    return problems


def markdown(rows: list[dict]) -> str:
    lines = ["| detector | masked ≥60px | unmasked ≥60px | gap pp | masked <60px | unmasked <60px | FP/frame | "
             "detect p50 ms |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['detector']} | {r['masked_recall']} | {r['unmasked_recall']} | {r.get('gap_pp')} | "
                     f"{r['masked_recall_small']} | {r['unmasked_recall_small']} | {r['false_positives_per_frame']} | "
                     f"{r['detect_ms_p50']} |")
    return "\n".join(lines) + "\n"
