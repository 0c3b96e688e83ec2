"""A tiny IoU tracker: each face keeps an id while it stays in view, its verdict smoothed over N frames.

Why: a per-frame verdict flickers (one blurred frame flips it) and a per-frame count counts a
person thirty times a second. Greedy IoU matching is enough at a kiosk door, where faces are few
and move little between frames; a track is counted once, when its smoothed verdict first settles.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from pydantic import Field

from edge.geometry import BBox
from edge.strict import FrozenModel


@dataclass
class Track:
    id: int
    box: BBox
    history: deque = field(default_factory=deque)  # per-frame class probabilities
    age: int = 0  # frames since the track started
    missed: int = 0  # consecutive frames without a matching detection
    counted: bool = False
    moved: float = 1.0  # centre shift between its last two detections, in box sides (1.0 until seen twice)

    def smoothed(self) -> np.ndarray | None:
        return np.mean(np.stack(self.history), axis=0) if self.history else None


class TrackerConfig(FrozenModel):
    """The tracker's settings; the kiosk config's `tracker:` section is this model."""

    iou_match: float = Field(0.3, gt=0, lt=1, description="minimum IoU for a detection to continue a track")
    max_missed: int = Field(10, ge=0, description="frames a track survives unseen (detector misses, skipped "
                            "detections)")
    smooth_frames: int = Field(8, ge=1, le=120, description="verdict = mean over the track's last N frames")
    settle_frames: int = Field(3, ge=1, le=120, description="votes needed before a verdict is shown and counted")


def at_edge(box: BBox, width: int, height: int, margin: int = 2) -> bool:
    return box.x <= margin or box.y <= margin or box.x + box.w >= width - margin or box.y + box.h >= height - margin


def shift(a: BBox, b: BBox) -> float:
    """How far b's centre is from a's, in a's longer side."""
    dx = (b.x + b.w / 2) - (a.x + a.w / 2)
    dy = (b.y + b.h / 2) - (a.y + a.h / 2)
    return float(np.hypot(dx, dy)) / max(a.w, a.h, 1)


def match(tracks: list[BBox], detections: list[BBox], threshold: float) -> list[tuple[int, int]]:
    """Greedy pairs (track index, detection index) by descending IoU above the threshold."""
    pairs = sorted(((t.iou(d), i, j) for i, t in enumerate(tracks) for j, d in enumerate(detections)),
                   reverse=True)
    used_t, used_d, out = set(), set(), []
    for iou, i, j in pairs:
        if iou < threshold:
            break
        if i not in used_t and j not in used_d:
            used_t.add(i)
            used_d.add(j)
            out.append((i, j))
    return out


class IoUTracker:
    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.tracks: list[Track] = []
        self._next_id = 1

    def _pairs(self, detections: list[BBox]) -> list[tuple[int, int]]:
        """(track index, detection index): tracks seen on the last detection first, then lost ones for what is left.

        Why two rounds: a lost track keeps the box where its person was last seen; in one round, a newcomer who
        walks into that spot would be handed the old track (and never counted) whenever its box overlaps the
        stale one more than its own previous box.
        """
        active = [i for i, t in enumerate(self.tracks) if t.missed == 0]
        lost = [i for i, t in enumerate(self.tracks) if t.missed > 0]
        pairs = [(active[t], d) for t, d in match([self.tracks[i].box for i in active], detections,
                                                  self.config.iou_match)]
        left = [d for d in range(len(detections)) if d not in {d for _, d in pairs}]
        pairs += [(lost[t], left[d]) for t, d in match([self.tracks[i].box for i in lost],
                                                       [detections[d] for d in left], self.config.iou_match)]
        return pairs

    def update(self, detections: list[BBox], frame_size: tuple[int, int] | None = None) -> list[Track | None]:
        """Assign detections to tracks (new ids for the unmatched); the track of each detection, in order.

        With `frame_size` (width, height), a track last seen touching the frame's edge is gone as soon as it is
        missed: its person walked out, and whoever walks in there next is someone new, to be counted.
        """
        cfg = self.config
        pairs = self._pairs(detections)
        owner: list[Track | None] = [None] * len(detections)
        matched = set()
        for ti, di in pairs:
            track = self.tracks[ti]
            track.moved = shift(track.box, detections[di])
            track.box, track.missed = detections[di], 0
            owner[di] = track
            matched.add(ti)
        for i, track in enumerate(self.tracks):
            track.age += 1
            if i not in matched:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= cfg.max_missed
                       and not (t.missed and frame_size and at_edge(t.box, *frame_size))]
        for di, det in enumerate(detections):
            if owner[di] is None:
                track = Track(self._next_id, det, deque(maxlen=cfg.smooth_frames))
                self._next_id += 1
                self.tracks.append(track)
                owner[di] = track
        return owner

    def vote(self, track: Track, probs: np.ndarray) -> None:
        track.history.append(np.asarray(probs, dtype=np.float32))

    def settled(self, track: Track) -> bool:
        return len(track.history) >= self.config.settle_frames

    @property
    def visible(self) -> list[Track]:
        return [t for t in self.tracks if t.missed == 0]
