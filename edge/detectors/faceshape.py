"""Does a detection's keypoints sit like a face's? A cheap, pure check that removes phantom faces.

BlazeFace returns six keypoints with every box. On a real face, seen from the front or turned a little,
they keep a shape: the eyes side by side, the nose below the line between them, the mouth below the
nose, all inside the box, the eyes a plausible fraction of the box apart. A box on a dark suit, a
sleeve or a wall has keypoints too, but scattered or collapsed. `face_geometry` measures that shape in
a frame where the eye line is horizontal (so a tilted head is judged upright), in units of the eye
distance; `plausible_face` holds it to `FaceShapeLimits`, which were set from the recall set's faces
and the no-face set's false boxes (`edge-bench recall` reports both; see the README).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge.detectors.base import KEYPOINTS, Detection

_RE, _LE, _NOSE, _MOUTH = (KEYPOINTS.index(k) for k in ("right_eye", "left_eye", "nose_tip", "mouth"))


@dataclass(frozen=True)
class FaceShapeLimits:
    max_roll_deg: float = 50.0  # eye line against the horizontal (people at a door stand upright)
    eye_to_box: tuple[float, float] = (0.2, 0.75)  # eye distance / box width
    nose_drop: tuple[float, float] = (0.05, 1.3)  # nose below the eye line, in eye distances
    mouth_below_nose: tuple[float, float] = (0.1, 1.5)  # mouth below the nose, in eye distances
    max_sideways: float = 0.8  # nose and mouth off the eyes' midpoint, in eye distances
    box_margin: float = 0.1  # keypoints may stand this fraction of the box outside it


@dataclass(frozen=True)
class FaceGeometry:
    roll_deg: float
    eye_to_box: float
    nose_drop: float
    mouth_below_nose: float
    sideways: float
    inside_box: bool


def face_geometry(det: Detection, margin: float = 0.1) -> FaceGeometry:
    """The measures `plausible_face` judges, from a detection's eyes, nose and mouth."""
    if det.keypoints is None:
        raise ValueError("face_geometry needs a detection with keypoints")
    kp = det.keypoints.astype(np.float64)
    right, left = kp[_RE], kp[_LE]
    axis = left - right  # the subject's right eye is on the image's left for a face seen from the front
    d = float(np.hypot(*axis))
    if d < 1e-6:
        return FaceGeometry(180.0, 0.0, 0.0, 0.0, math.inf, False)
    ux = axis / d
    uy = np.array([-ux[1], ux[0]])  # 90 degrees clockwise in image coordinates: "down" for an upright face
    mid = (right + left) / 2
    nose = ((kp[_NOSE] - mid) @ ux, (kp[_NOSE] - mid) @ uy)
    mouth = ((kp[_MOUTH] - mid) @ ux, (kp[_MOUTH] - mid) @ uy)
    b = det.box
    mx, my = b.w * margin, b.h * margin
    inner = kp[[_RE, _LE, _NOSE, _MOUTH]]
    inside = bool(((inner[:, 0] >= b.x - mx) & (inner[:, 0] <= b.x + b.w + mx) &
                   (inner[:, 1] >= b.y - my) & (inner[:, 1] <= b.y + b.h + my)).all())
    return FaceGeometry(
        roll_deg=math.degrees(math.atan2(ux[1], ux[0])),
        eye_to_box=d / max(b.w, 1),
        nose_drop=nose[1] / d,
        mouth_below_nose=(mouth[1] - nose[1]) / d,
        sideways=max(abs(nose[0]), abs(mouth[0])) / d,
        inside_box=inside,
    )


def plausible_face(det: Detection, limits: FaceShapeLimits = FaceShapeLimits()) -> bool:
    """True when the keypoints sit like a face's (see the module docstring); detections without keypoints
    (Haar, res10) cannot be judged and pass."""
    if det.keypoints is None:
        return True
    g = face_geometry(det, limits.box_margin)
    return (g.inside_box and abs(g.roll_deg) <= limits.max_roll_deg
            and limits.eye_to_box[0] <= g.eye_to_box <= limits.eye_to_box[1]
            and limits.nose_drop[0] <= g.nose_drop <= limits.nose_drop[1]
            and limits.mouth_below_nose[0] <= g.mouth_below_nose <= limits.mouth_below_nose[1]
            and g.sideways <= limits.max_sideways)
