"""From a decoded image to the model's input tensor, exactly as the manifest says."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from edge.backends.base import TensorInfo
from edge.bundle import Preprocess


@dataclass(frozen=True)
class Preset:
    """A normalisation users know by name: `(pixels * scale - mean) / std`, channels in `color` order."""

    color: str  # rgb | bgr (gray images are converted to this)
    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    about: str


PRESETS = {
    "0-1": Preset("rgb", 1 / 255.0, (0.0,), (1.0,), "pixels / 255 (Keras Rescaling(1/255))"),
    "-1..1": Preset("rgb", 1 / 127.5, (1.0,), (1.0,), "pixels / 127.5 - 1 (MobileNet, EfficientNet-lite, TF mode)"),
    "imagenet-torch": Preset("rgb", 1 / 255.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
                             "(pixels / 255 - ImageNet mean) / std (PyTorch, torchvision, DenseNet)"),
    "imagenet-caffe": Preset("bgr", 1.0, (103.939, 116.779, 123.68), (1.0, 1.0, 1.0),
                             "BGR pixels minus the ImageNet mean (Caffe mode: ResNet-50, VGG)"),
    "raw": Preset("rgb", 1.0, (0.0,), (1.0,), "pixels as they are, 0-255 (the model normalises inside)"),
}


def preset_preprocess(name: str, resize: list[int] | tuple[int, int], gray: bool = False) -> Preprocess:
    """A manifest Preprocess from a preset (grey models keep the preset's first mean and std)."""
    p = PRESETS[name]
    mean, std = (list(p.mean[:1]), list(p.std[:1])) if gray else (list(p.mean), list(p.std))
    return Preprocess(resize=list(resize), color="gray" if gray else p.color, scale=p.scale, mean=mean, std=std)


def range_preprocess(lo: float, hi: float, resize: list[int] | tuple[int, int], color: str = "rgb") -> Preprocess:
    """Pixels 0..255 mapped linearly onto lo..hi (a model whose input range is all that is known of it)."""
    return Preprocess(resize=list(resize), color=color, scale=(hi - lo) / 255.0, mean=[-lo], std=[1.0])


def to_color(image: np.ndarray, color: str) -> np.ndarray:
    """Images arrive as OpenCV gives them: gray (H, W) / (H, W, 1), BGR or BGRA."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return image if color == "gray" else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB if color == "rgb" else
                                                          cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if color == "gray":
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if color == "rgb" else image


def to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        return np.clip(image * (255.0 if image.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return np.clip(image, 0, 255).astype(np.uint8)


def prepare(image: np.ndarray, spec: Preprocess, layout: str = "NHWC") -> np.ndarray:
    """One image -> float32 (H, W, C) (or (C, H, W)), resized, colour-converted, scaled, normalised."""
    image = to_color(to_uint8(image), spec.color)
    h, w = spec.resize
    if image.shape[:2] != (h, w):
        interp = cv2.INTER_AREA if image.shape[0] > h or image.shape[1] > w else cv2.INTER_LINEAR
        image = cv2.resize(image, (w, h), interpolation=interp)
    x = _normalise(image.astype(np.float32).reshape(h, w, -1), spec)
    return np.transpose(x, (2, 0, 1)) if layout == "NCHW" else x


def quantize(x: np.ndarray, info: TensorInfo) -> np.ndarray:
    """Float -> the model's int8/uint8 input, using the model's own scale and zero point."""
    if not info.quantized:
        return x.astype(np.float32, copy=False)
    limits = np.iinfo(np.dtype(info.dtype))
    q = np.rint(x / info.scale) + info.zero_point
    return np.clip(q, limits.min, limits.max).astype(info.dtype)


def dequantize(y: np.ndarray, info: TensorInfo) -> np.ndarray:
    if not info.quantized:
        return y.astype(np.float32, copy=False)
    return (y.astype(np.float32) - info.zero_point) * np.float32(info.scale)


def prepare_dataset(x_uint8: np.ndarray, spec: Preprocess, layout: str = "NHWC") -> np.ndarray:
    """A batch already at the model's size (e.g. an evaluation set) -> float input, vectorised."""
    x = _normalise(x_uint8.astype(np.float32), spec)
    return np.transpose(x, (0, 3, 1, 2)) if layout == "NCHW" else x


@lru_cache(maxsize=16)
def _mean_std(mean: tuple[float, ...], std: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """Built once per manifest, not once per face; None when the normalisation is the identity."""
    m, s = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    return None if not m.any() and (s == 1).all() else (m, s)


def _normalise(x: np.ndarray, spec: Preprocess) -> np.ndarray:
    """Float pixels (any leading axes, channels last) -> scaled and, if the manifest says so, standardised."""
    x *= np.float32(spec.scale)
    ms = _mean_std(tuple(spec.mean), tuple(spec.std))
    return x if ms is None else (x - ms[0]) / ms[1]
