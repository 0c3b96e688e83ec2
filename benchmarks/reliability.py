"""edge-bench reliability: hostile model files, images and configs, each probed in a child process.

A probe that dies on a signal is a crash, one that outlives its timeout is a hang; both must be
zero. A clean result is either a one-line rejection or a file that still loads and runs (a bit
flip inside the weights is a valid model). The HTTP endpoint takes a burst of requests.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.hostile import BAD_CONFIGS, detector_corpus, image_corpus, model_corpus

PROBE_TIMEOUT_S = 30


def _probe_model(fmt: str, path: str) -> dict:
    import numpy as np

    from edge.backends import backend_for_format, open_backend
    from edge.errors import EdgeSightError

    try:
        if fmt == "wrong-shape":
            from edge.bundle import describe_file, load_bundle, resolve, write_manifest
            from edge.classifier import Classifier

            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp) / "digits"
                shutil.copytree(resolve("digits"), root)
                shutil.copy2(path, root / "model_int8.tflite")
                b = load_bundle(root)
                files = [describe_file(root, f.path, f.format) if f.format == "tflite-int8" else f
                         for f in b.manifest.files]
                write_manifest(root, b.manifest.model_copy(update={"files": files}))
                Classifier(root, fmt="tflite-int8")
            return {"outcome": "accepted"}
        backend = open_backend(backend_for_format(fmt), Path(path), 1)
        shape = [d if d and d > 0 else 1 for d in backend.input.shape]
        backend.infer(np.zeros(shape, dtype=backend.input.dtype))
        return {"outcome": "accepted"}
    except EdgeSightError as exc:
        return {"outcome": "rejected", "error": " ".join(str(exc).split())[:200]}


def _probe_detector(name: str, folder: str) -> dict:
    """Open the BlazeFace model `name` with its file taken from `folder` (a mutated copy), and detect once."""
    import os

    import numpy as np

    from edge.detectors import open_detector
    from edge.errors import EdgeSightError

    os.environ["EDGESIGHT_DETECTOR_DIR"] = folder
    model = name.removeprefix("blazeface-")
    try:
        open_detector(f"blazeface:model={model}").detect(np.zeros((480, 640, 3), np.uint8))
        return {"outcome": "accepted"}
    except EdgeSightError as exc:
        return {"outcome": "rejected", "error": " ".join(str(exc).split())[:200]}


def _probe_image(path: str) -> dict:
    from edge.bundle import load_bundle
    from edge.errors import EdgeSightError
    from edge.media import read_image
    from edge.preprocess import prepare

    try:
        image = read_image(Path(path))
        for name in ("digits", "mask"):
            m = load_bundle(name).manifest
            prepare(image, m.preprocess, m.input.layout)
        return {"outcome": "accepted", "shape": list(image.shape), "dtype": str(image.dtype)}
    except EdgeSightError as exc:
        return {"outcome": "rejected", "error": " ".join(str(exc).split())[:200]}


def _run_probe(args: list[str]) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.reliability", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"outcome": "hang"}
    if proc.returncode < 0:
        return {"outcome": "crash", "signal": -proc.returncode}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"outcome": "unclean", "error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]}
    return json.loads(lines[-1])


def http_burst(requests: int = 10_000, workers: int = 8) -> dict:
    import http.client

    from edge.outputs.base import KioskStats
    from edge.outputs.http import HttpOutput

    server = HttpOutput(KioskStats(), port=0)
    port = server.address[1]
    paths = ["/metrics", "/healthz", "/nope", "/metrics?x=1"]

    def hammer(n: int) -> Counter:
        c: Counter = Counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in range(n):
            try:
                conn.request("GET", paths[i % len(paths)])
                c[conn.getresponse().status] += 1
            except (OSError, http.client.HTTPException):
                c["error"] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.close()
        return c

    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(workers) as pool:
            counts = sum(pool.map(hammer, [requests // workers] * workers), Counter())
        alive = hammer(1)
    finally:
        server.close()
    return {"requests": sum(counts.values()), "statuses": {str(k): v for k, v in counts.items()},
            "seconds": round(time.perf_counter() - t0, 2), "alive_after": sum(alive.values()) == 1
            and "error" not in alive}


def run_reliability(per_model: int = 60, http_requests: int = 10_000, jobs: int = 2,
                    soak: dict | None = None) -> dict:
    from edge.kiosk.config import ConfigError, load_config

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = model_corpus(tmp / "models", per_model)
        detectors = detector_corpus(tmp / "detectors", max(per_model // 5, 4))
        images = image_corpus(tmp / "images")
        with ThreadPoolExecutor(jobs) as pool:
            model_results = list(pool.map(lambda m: {"file": m[0], **_run_probe(["--probe-model", m[1], str(m[2])])},
                                          models))
            detector_results = list(pool.map(
                lambda d: {"file": d[0], **_run_probe(["--probe-detector", d[1], str(d[2])])}, detectors))
            image_results = list(pool.map(lambda p: {"file": p.name, **_run_probe(["--probe-image", str(p)])},
                                          images))
        config_results = []
        for name, text in BAD_CONFIGS.items():
            path = tmp / f"{name}.yaml"
            path.write_text(text)
            try:
                load_config(path)
                config_results.append({"file": name, "outcome": "accepted"})
            except ConfigError as exc:
                config_results.append({"file": name, "outcome": "rejected", "error": str(exc)[:200]})
    every = model_results + detector_results + image_results
    outcomes = Counter(r["outcome"] for r in every)
    http = http_burst(http_requests) if http_requests else None
    return {
        "models_tried": len(models), "detector_files_tried": len(detectors), "images_tried": len(images),
        "configs_tried": len(config_results), "model_outcomes": dict(Counter(r["outcome"] for r in model_results)),
        "detector_outcomes": dict(Counter(r["outcome"] for r in detector_results)),
        "image_outcomes": dict(Counter(r["outcome"] for r in image_results)),
        "configs_rejected": sum(r["outcome"] == "rejected" for r in config_results),
        "crashes": outcomes.get("crash", 0), "hangs": outcomes.get("hang", 0), "unclean": outcomes.get("unclean", 0),
        "http": http, "soak": soak,
        "problems": [r for r in every + config_results if r["outcome"] in ("crash", "hang", "unclean")]
        + [r for r in config_results if r["outcome"] == "accepted"],
        "results": {"models": model_results, "detectors": detector_results, "images": image_results,
                    "configs": config_results},
    }


def to_markdown(r: dict) -> str:
    lines = ["| models tried | images tried | configs tried | crashes | hangs | unclean | configs rejected |",
             "|---:|---:|---:|---:|---:|---:|---:|",
             f"| {r['models_tried']} | {r['images_tried']} | {r['configs_tried']} | {r['crashes']} | {r['hangs']} | "
             f"{r['unclean']} | {r['configs_rejected']} / {r['configs_tried']} |", "",
             f"- models: {r['model_outcomes']}",
             f"- detector files ({r['detector_files_tried']} mutated copies): {r['detector_outcomes']}",
             f"- images: {r['image_outcomes']}"]
    if r["http"]:
        h = r["http"]
        lines.append(f"- HTTP: {h['requests']} requests in {h['seconds']} s, statuses {h['statuses']}, "
                     f"alive after: {h['alive_after']}")
    if r["soak"]:
        s = r["soak"]
        lines.append(f"- soak: {s.get('frames')} frames, {s.get('fps')} FPS, RSS growth {s.get('rss_growth_mb')} MB, "
                     f"{s.get('camera_reconnects')} reconnects")
    return "\n".join(lines) + "\n"


def _main(argv: list[str]) -> int:
    """The child side: `--probe-model FMT PATH` or `--probe-image PATH`, one JSON line out."""
    if argv[:1] == ["--probe-model"]:
        print(json.dumps(_probe_model(argv[1], argv[2])))
    elif argv[:1] == ["--probe-detector"]:
        print(json.dumps(_probe_detector(argv[1], argv[2])))
    elif argv[:1] == ["--probe-image"]:
        print(json.dumps(_probe_image(argv[1])))
    else:
        print("usage: python -m benchmarks.reliability --probe-model FMT PATH | --probe-image PATH", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
