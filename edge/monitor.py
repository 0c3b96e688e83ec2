"""Sustained-score events: a face whose smoothed score stays above a threshold for N seconds raises one event.

Why: a single frame of a grimace (or a sneeze) is not pain; a carer wants to hear about a face that
shows it for a while, once per episode, and again only after it has eased.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class SustainedMonitor:
    threshold: float = 0.7
    sustain_s: float = 2.0
    _since: dict[int, float] = field(default_factory=dict)  # track id -> time the score went above
    _raised: set[int] = field(default_factory=set)

    def update(self, track_id: int, score: float, t: float) -> dict | None:
        """Feed one smoothed score at time t (seconds); returns an event the first time it has been sustained."""
        if score < self.threshold:
            self._since.pop(track_id, None)
            self._raised.discard(track_id)
            return None
        start = self._since.setdefault(track_id, t)
        if t - start >= self.sustain_s and track_id not in self._raised:
            self._raised.add(track_id)
            return {"event": "sustained", "track_id": track_id, "since_s": round(start, 3),
                    "duration_s": round(t - start, 3), "score": round(score, 4), "threshold": self.threshold}
        return None


def face_alerts(monitor: SustainedMonitor, faces: Iterable, labels: list[str], label: str | None,
                t: float) -> list[dict]:
    """Feed every settled face's smoothed score for `label` (default: the bundle's last label, e.g. pain)."""
    label = label or labels[-1]
    if label not in labels:
        raise ValueError(f"monitor.label: {label!r} is not one of the bundle's labels {labels}")
    alerts = []
    for face in faces:
        if face.smoothed_label is None:
            continue
        # two-class bundles: the smoothed score is the winning label's, so the other label's is its complement
        score = face.smoothed_score if face.smoothed_label == label else 1.0 - face.smoothed_score
        event = monitor.update(face.track_id, score, t)
        if event:
            alerts.append({**event, "label": label, "box": face.box.as_list()})
    return alerts
