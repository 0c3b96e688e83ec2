"""What every face detector shares: its output (`Detection`), its interface and its settings' base.

Each detector is a small plugin with its own typed settings (pydantic, unknown keys rejected); the
settings are a union keyed on `type` (see `edge.detectors`), so an option a detector lacks is an
error instead of being silently ignored. Detectors return `Detection`s in frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import Field, field_validator

from edge.geometry import BBox
from edge.strict import FrozenModel

KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")  # the subject's right/left


@dataclass(frozen=True)
class Detection:
    """One face: its box, the detector's score (None for Haar, which has none), for detectors that find
    them (BlazeFace) six keypoints in pixels (rows in KEYPOINTS order), and the second look's face
    probability when one was taken."""

    box: BBox
    score: float | None = None
    keypoints: np.ndarray | None = None
    verified: float | None = None

    def point(self, name: str) -> np.ndarray:
        if self.keypoints is None:
            raise ValueError("this detection has no keypoints")
        return self.keypoints[KEYPOINTS.index(name)]


@runtime_checkable
class FaceDetector(Protocol):
    name: str

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Faces in the coordinates of `frame` (BGR or gray), largest first."""
        ...

    def close(self) -> None: ...


def reset_detector(detector: FaceDetector) -> None:
    """Forget what a stateful detector remembers between frames (the second look's decisions), if anything."""
    reset = getattr(detector, "reset", None)
    if reset is not None:
        reset()


class SecondLookSettings(FrozenModel):
    """The face / not-face verifier every detector can run on its boxes (edge.detectors.secondlook).

    The defaults were chosen on a development set (`edge-train recall-set --dev`: other frames, another seed)
    and then measured once on the recall set (README, "Face detection")."""

    bundle: str = Field("face-verifier", description="a face / not-face bundle (built-in name or folder)")
    threshold: float = Field(0.5, gt=0, lt=1, description="minimum face probability a box needs to be kept")
    confirm: Literal["full-range", "short-range", "back-camera"] | None = Field(
        "full-range", description="a BlazeFace model that must also find a face at the centre of close crops")
    confirm_margins: tuple[float, ...] = Field((0.5, 0.75), min_length=1, description="the close crops: the box "
                                               "grown by each margin per side (one view per margin)")
    confirm_mirror: bool = Field(True, description="also show the confirming model each crop mirrored")
    confirm_threshold: float = Field(0.3, gt=0, lt=1, description="the confirming model's minimum score, averaged "
                                     "over the views (a view without a centred face scores 0)")
    mesh_threshold: float | None = Field(None, gt=0, lt=1, description="FaceMesh's face-presence score that passes "
                                         "a box the verifier doubts (null: the verifier decides alone)")
    remember: int = Field(15, ge=0, le=300, description="calls a decision about a box is reused for (0: none)")
    format: str | None = Field(None, description="the bundle's model file (default: its default, int8 TFLite)")
    threads: int = Field(1, ge=1, le=64)

    @field_validator("confirm_margins", mode="before")
    @classmethod
    def _margins(cls, v):
        """A spec writes them `0.5/0.75` (commas separate a spec's options); YAML may give one number."""
        if isinstance(v, str):
            v = tuple(float(x) for x in v.replace("/", " ").split())
        return (v,) if isinstance(v, (int, float)) else v

    @field_validator("confirm_margins")
    @classmethod
    def _margins_in_range(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 <= m <= 2 for m in v):
            raise ValueError("confirm_margins are fractions of the box side per side, between 0 and 2")
        return v


class DetectorSettings(FrozenModel):
    """Options every detector has."""

    min_face_px: int = Field(40, ge=8, le=4096, description="smallest face side to report, in frame pixels")
    threads: int = Field(1, ge=1, le=64, description="inference threads of the detector's model")
    second_look: SecondLookSettings | None = Field(None, description="run the face / not-face verifier on every "
                                                   "box (see edge.detectors.secondlook); null: off")


def largest_first(found: list[Detection]) -> list[Detection]:
    return sorted(found, key=lambda d: d.box.area, reverse=True)


def keep_size(found: list[Detection], min_side: int) -> list[Detection]:
    return [d for d in found if d.box.w >= max(min_side, 1) and d.box.h >= max(min_side, 1)]
