"""Hostile inputs for the reliability benchmark: mutated model files, broken images, invalid configs.

Every generator is seeded, so a crash found once can be reproduced from its name.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from edge.bundle import load_bundle

MODEL_SOURCES = (("digits", "tflite-int8"), ("digits", "onnx-int8"), ("mask", "tflite-int8"), ("mask", "onnx-fp32"))


def mutations(data: bytes, rng: np.random.Generator, n_flips: int) -> Iterator[tuple[str, bytes]]:
    size = len(data)
    yield "empty", b""
    yield "header-only", data[:16]
    for frac in (0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
        yield f"truncated-{frac}", data[: int(size * frac)]
    yield "random-bytes", rng.bytes(size)
    yield "zeros", b"\0" * size
    yield "doubled", data + data
    for i in range(n_flips):
        buf = bytearray(data)
        region = size if i % 3 else min(size, 4096)  # a third hit the header and offsets, where loaders trust most
        for pos in rng.integers(0, region, int(rng.integers(1, 65))):
            buf[pos] ^= 1 << int(rng.integers(0, 8))
        yield f"bitflip-{i}", bytes(buf)
    for i in range(max(2, n_flips // 6)):
        buf = bytearray(data)
        start = int(rng.integers(0, max(size - 64, 1)))
        buf[start:start + 64] = rng.bytes(64)
        yield f"garbled-run-{i}", bytes(buf)


def model_corpus(out: Path, per_model: int = 60, seed: int = 0) -> list[tuple[str, str, Path]]:
    """(name, format, path) of mutated files; plus other formats renamed and a valid model of the wrong shape."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    corpus = []
    for bundle_name, fmt in MODEL_SOURCES:
        path = load_bundle(bundle_name).model_path(fmt)
        n_flips = max(per_model - 12, 1)
        for tag, data in mutations(path.read_bytes(), rng, n_flips):
            target = out / f"{bundle_name}-{fmt}-{tag}{path.suffix}"
            target.write_bytes(data)
            corpus.append((target.name, fmt, target))
    onnx = load_bundle("digits").model_path("onnx-int8").read_bytes()
    tflite = load_bundle("digits").model_path("tflite-int8").read_bytes()
    for name, fmt, data in (("onnx-renamed.tflite", "tflite-int8", onnx), ("tflite-renamed.onnx", "onnx-int8", tflite),
                            ("png-renamed.tflite", "tflite-int8", cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1]
                             .tobytes())):
        (out / name).write_bytes(data)
        corpus.append((name, fmt, out / name))
    corpus.append(("mask-model-in-digits-bundle", "wrong-shape", load_bundle("mask").model_path("tflite-int8")))
    return corpus


# The files the default detector loads: each mutation is put where the detector looks for it, and the detector
# must refuse it (size and sha256 against the catalog) in one line before any native code reads it.
DETECTOR_SOURCES = ("blazeface-short-range", "blazeface-full-range")


def detector_corpus(out: Path, per_file: int = 12, seed: int = 1) -> list[tuple[str, str, Path]]:
    """(name, catalog name, folder holding the mutated file under its catalog file name)."""
    from edge.detectors.catalog import catalog, verified_path

    rng = np.random.default_rng(seed)
    corpus = []
    for name in DETECTOR_SOURCES:
        data = verified_path(name).read_bytes()
        for tag, mutated in mutations(data, rng, per_file):
            folder = out / f"{name}-{tag}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / catalog().entry(name).file).write_bytes(mutated)
            corpus.append((f"{name}-{tag}", name, folder))
    return corpus


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but carries almost no data: a decode-bomb probe."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def image_corpus(out: Path, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    photo = np.clip(rng.normal(128, 40, (120, 160, 3)), 0, 255).astype(np.uint8)
    good_jpg = cv2.imencode(".jpg", photo)[1].tobytes()
    good_png = cv2.imencode(".png", photo)[1].tobytes()
    items = {
        "empty.jpg": b"", "one-pixel.png": cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))[1].tobytes(),
        "one-pixel.jpg": cv2.imencode(".jpg", np.zeros((1, 1, 3), np.uint8))[1].tobytes(),
        "gray.png": cv2.imencode(".png", photo[..., 0])[1].tobytes(),
        "rgba.png": cv2.imencode(".png", cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA))[1].tobytes(),
        "sixteen-bit.png": cv2.imencode(".png", photo.astype(np.uint16) * 257)[1].tobytes(),
        "truncated.jpg": good_jpg[: len(good_jpg) // 2], "truncated.png": good_png[: len(good_png) // 3],
        "bomb-20000x20000.png": _png_claiming(20000, 20000), "bomb-65535x65535.png": _png_claiming(65535, 65535),
        "random.jpg": rng.bytes(5000), "text.png": b"this is not an image\n" * 50,
        "wide-1x5000.png": cv2.imencode(".png", np.zeros((1, 5000, 3), np.uint8))[1].tobytes(),
    }
    for i in range(12):
        buf = bytearray(good_jpg if i % 2 else good_png)
        for pos in rng.integers(0, len(buf), int(rng.integers(1, 40))):
            buf[pos] ^= 0xFF
        items[f"bitflip-{i}{'.jpg' if i % 2 else '.png'}"] = bytes(buf)
    paths = []
    for name, data in items.items():
        (out / name).write_bytes(data)
        paths.append(out / name)
    return paths


BAD_CONFIGS = {
    "unknown-key": "sauce: camera:0\n",
    "nested-unknown": "detector:\n  name: haar\n  scale: 2\n",
    "wrong-type": "threads: many\n",
    "negative-port": "outputs:\n  http:\n    port: -5\n",
    "threshold-out-of-range": "detector:\n  threshold: 1.5\n",
    "not-a-mapping": "- a\n- b\n",
    "bad-yaml": "source: [camera\n",
    "display-mode": "display:\n  mode: hologram\n",
    "tracker-zero": "tracker:\n  smooth_frames: 0\n",
    "gpio-extra": "outputs:\n  gpio:\n    enabled: true\n    lamp: 4\n",
    "binary": "\x00\x01\x02",
    "detect-every-huge": "schedule:\n  every: 1000\n",
}
