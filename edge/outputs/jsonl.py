"""JSON lines on stdout: one line per counted person (or per face per frame), for pipes and log shippers."""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

import numpy as np

from edge.mask_pipeline import FrameResult


class JsonLinesOutput:
    name = "jsonl"

    def __init__(self, every_frame: bool = False, stream: TextIO | None = None, source: str = "kiosk") -> None:
        self.every_frame, self.stream, self.source = every_frame, stream or sys.stdout, source

    def handle(self, result: FrameResult, frame: np.ndarray) -> None:
        for face in result.faces:
            if not (self.every_frame or face.first_settled):
                continue
            line = {"source": self.source, "frame": result.index, "box": face.box.as_list(),
                    "label": face.smoothed_label or face.label,
                    "score": round(face.smoothed_score if face.smoothed_label else face.score, 4),
                    "latency_ms": round(result.timings_ms.get("total_ms", 0.0), 3), "track_id": face.track_id,
                    "event": "person" if face.first_settled else "face", "time": round(time.time(), 3)}
            self.stream.write(json.dumps(line) + "\n")
        for alert in result.alerts:  # {"event": "sustained", track_id, label, score, threshold, duration_s, ...}
            self.stream.write(json.dumps({"source": self.source, "frame": result.index, **alert,
                                          "time": round(time.time(), 3)}) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()
