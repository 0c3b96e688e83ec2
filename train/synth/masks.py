"""Paint a face mask onto a real face, fitted to its BlazeFace keypoints.

No mask photo set can be downloaded offline, so the built-in mask model learns from real faces
with painted masks. The painter works in a face-aligned frame (eye line, nose, mouth, ears), so a
turned or tilted head gets a mask that follows it; styles vary in shape, colour, texture,
shading and ear loops so the classifier cannot key on one colour. What it is not: real cloth on
real faces — no folds against the chin, no occlusion by hands, no incorrectly worn masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.detectors.base import Detection

STYLES = ("surgical", "cloth", "n95")
# BGR base colours per style: blue/white/green/pink/black surgical, any cloth, white/grey respirators.
SURGICAL = [(225, 195, 140), (240, 240, 238), (200, 215, 160), (200, 185, 235), (40, 40, 40), (215, 205, 120)]
RESPIRATOR = [(238, 238, 235), (215, 215, 210), (60, 60, 60), (205, 225, 240)]


@dataclass(frozen=True)
class MaskStyle:
    kind: str
    color: tuple[int, int, int]
    top: float  # top edge between the eye line (0) and the nose tip (1)
    chin: float  # bottom edge in eye-to-mouth distances below the eye line
    width: float  # side edges as a fraction of the nose-to-ear distance
    pattern: str  # plain | stripes | dots | check
    loops: bool


def random_style(rng: np.random.Generator) -> MaskStyle:
    kind = str(rng.choice(STYLES, p=[0.5, 0.35, 0.15]))
    if kind == "surgical":
        color = SURGICAL[rng.integers(len(SURGICAL))]
    elif kind == "n95":
        color = RESPIRATOR[rng.integers(len(RESPIRATOR))]
    else:
        color = tuple(int(c) for c in rng.integers(15, 245, 3))
    pattern = "plain" if kind != "cloth" else str(rng.choice(["plain", "stripes", "dots", "check"], p=[.7, .1, .1, .1]))
    jitter = np.array(color) + rng.normal(0, 10, 3)
    return MaskStyle(kind=kind, color=tuple(int(c) for c in np.clip(jitter, 0, 255)),
                     top=float(rng.uniform(0.3, 0.6)), chin=float(rng.uniform(1.5, 1.8)),
                     width=float(rng.uniform(0.85, 1.0)), pattern=pattern, loops=bool(rng.random() < 0.7))


def _frame(face: Detection) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Origin on the eye line, unit vectors across (u) and down (v) the face, eye-to-mouth distance."""
    right_eye, left_eye = face.point("right_eye"), face.point("left_eye")
    u = left_eye - right_eye
    u = u / max(np.linalg.norm(u), 1e-6)
    v = np.array([-u[1], u[0]])
    if np.dot(face.point("mouth") - right_eye, v) < 0:
        v = -v
    origin = (right_eye + left_eye) / 2
    down = max(float(np.dot(face.point("mouth") - origin, v)), 1.0)
    return origin, u, v, down


def outline(face: Detection, style: MaskStyle, n: int = 24) -> np.ndarray:
    """The mask polygon (pixels, float32) in the face's own frame."""
    origin, u, v, down = _frame(face)
    nose = face.point("nose_tip")
    nose_x = float(np.dot(nose - origin, u))
    nose_y = float(np.dot(nose - origin, v))
    right = abs(float(np.dot(face.point("right_ear") - nose, u))) * style.width
    left = abs(float(np.dot(face.point("left_ear") - nose, u))) * style.width
    top = max(nose_y, 0.3 * down) * style.top
    bottom = down * style.chin
    peak = {"surgical": 0.05, "cloth": 0.18, "n95": 0.25}[style.kind] * down
    narrow = {"surgical": 0.15, "cloth": 0.35, "n95": 0.3}[style.kind]
    points = []
    for a in np.linspace(-1, 1, n):  # top edge, right cheek to left cheek, peaking at the nose bridge
        half = right if a < 0 else left
        points.append((nose_x + a * half, top - peak * (1 - abs(a)) ** 2))
    for b in np.linspace(0, 1, n // 2)[1:]:  # left side, narrowing towards the jaw
        points.append((nose_x + left * (1 - narrow * b ** 2), top + b * (bottom - top) * 0.8))
    for a in np.linspace(1, -1, n):  # rounded bottom under the chin
        half = right if a < 0 else left
        points.append((nose_x + a * half * (1 - narrow), top + (bottom - top) * (0.8 + 0.2 * (1 - a * a))))
    for b in np.linspace(1, 0, n // 2)[:-1]:
        points.append((nose_x - right * (1 - narrow * b ** 2), top + b * (bottom - top) * 0.8))
    local = np.array(points, np.float32)
    return (origin + local[:, :1] * u + local[:, 1:] * v).astype(np.float32)


def _texture(shape: tuple[int, int], style: MaskStyle, face: Detection, rng: np.random.Generator) -> np.ndarray:
    h, w = shape
    base = np.empty((h, w, 3), np.float32)
    base[:] = style.color
    origin, u, v, down = _frame(face)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    across = (xs - origin[0]) * u[0] + (ys - origin[1]) * u[1]
    along = (xs - origin[0]) * v[0] + (ys - origin[1]) * v[1]
    period = max(down * rng.uniform(0.12, 0.25), 2.0)
    second = np.array(tuple(int(c) for c in rng.integers(0, 255, 3)), np.float32)
    if style.pattern == "stripes":
        base[(along // period) % 2 == 1] = second
    elif style.pattern == "check":
        base[((along // period) + (across // period)) % 2 == 1] = second
    elif style.pattern == "dots":
        dots = ((along % period) - period / 2) ** 2 + ((across % period) - period / 2) ** 2 < (period / 4) ** 2
        base[dots] = second
    if style.kind == "surgical":  # three horizontal pleats
        for k in (0.75, 1.05, 1.35):
            pleat = np.abs(along - k * down) < max(down * 0.025, 0.6)
            base[pleat] *= 0.8
    elif style.kind == "n95":  # a centre seam
        base[np.abs(across - float(np.dot(face.point("nose_tip") - origin, u))) < max(down * 0.02, 0.6)] *= 0.85
    grain = rng.normal(0, rng.uniform(2, 8), (h, w, 1)).astype(np.float32)
    return base + grain


def paint_mask(image: np.ndarray, face: Detection, style: MaskStyle, rng: np.random.Generator) -> np.ndarray:
    """A copy of `image` (BGR) with the mask painted; the face's own lighting shades the mask."""
    h, w = image.shape[:2]
    poly = outline(face, style)
    scale = 4  # draw the alpha at 4x and shrink it, for anti-aliased edges
    alpha = np.zeros((h * scale, w * scale), np.uint8)
    cv2.fillPoly(alpha, [np.round(poly * scale).astype(np.int32)], 255, lineType=cv2.LINE_AA)
    alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)[..., None] / 255
    cloth = _texture((h, w), style, face, rng)
    luma = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    inside = alpha[..., 0] > 0.5
    if inside.any():
        sigma = max(3.0, face.box.w / 12)
        light = cv2.GaussianBlur(luma, (0, 0), sigma) / max(float(luma[inside].mean()), 1.0)
        cloth *= np.clip(light, 0.45, 1.5)[..., None] ** rng.uniform(0.5, 0.9)
    out = image.astype(np.float32) * (1 - alpha) + np.clip(cloth, 0, 255) * alpha
    if style.loops:
        _, _, _, down = _frame(face)
        thick = max(1, round(down * 0.04))
        colour = tuple(float(c) for c in np.clip(np.array(style.color) * 0.95, 0, 255))
        n = 24  # outline(): top edge 0..23 (right to left), left side, bottom 35..58 (left to right)
        for ear, top_corner, bottom_corner in (("right_ear", 0, n + 34), ("left_ear", n - 1, n + 11)):
            end = tuple(int(c) for c in face.point(ear))
            for corner in (top_corner, bottom_corner):
                cv2.line(out, tuple(int(c) for c in poly[corner]), end, colour, thick, cv2.LINE_AA)
    return np.clip(out, 0, 255).astype(np.uint8)
