"""The configuration matrix: every format x runtime x delegate x threads, run or skipped with a reason."""

from __future__ import annotations

import gc
import importlib.util
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from edge.bundle import load_bundle

ORT_PROVIDERS = ("CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider",
                 "OpenVINOExecutionProvider", "XnnpackExecutionProvider", "CoreMLExecutionProvider")
GPU_DELEGATE_LIBS = ("libtensorflowlite_gpu_delegate.so", "libtensorflowlite_gpu_gl.so")
EDGETPU_LIB = "libedgetpu.so.1"
# Where a provider comes from: each is a separate onnxruntime build that replaces the plain one.
PROVIDER_BUILDS = {"CUDAExecutionProvider": "onnxruntime-gpu", "TensorrtExecutionProvider": "onnxruntime-gpu with "
                   "TensorRT libraries", "OpenVINOExecutionProvider": "onnxruntime-openvino",
                   "XnnpackExecutionProvider": "an onnxruntime built with --use_xnnpack",
                   "CoreMLExecutionProvider": "onnxruntime on macOS"}


@dataclass(frozen=True)
class BenchConfig:
    id: str
    model: str  # bundle path or bare model file
    label: str  # the input's display name
    format: str  # bundle format (tflite-int8, ...) or "tflite" / "onnx" / "keras" for bare files
    backend: str  # tflite | onnx | openvino | keras
    threads: int = 1
    xnnpack: bool = True
    delegate: str | None = None  # gpu | edgetpu
    provider: str | None = None  # ONNX Runtime execution provider
    skipped: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def thread_counts(max_threads: int | None = None) -> list[int]:
    """1, 2, 4, ... up to the usable cores, and the core count itself."""
    if max_threads:
        cores = max_threads
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    cores = max(1, cores)
    counts, n = [], 1
    while n < cores:
        counts.append(n)
        n *= 2
    return counts + [cores]


def _delegate_status(kind: str) -> str | None:
    """None when the delegate library loads; otherwise the reason it is skipped."""
    # ai-edge-litert's Delegate.__del__ raises on a delegate that failed to load; that is noise here.
    hook, sys.unraisablehook = sys.unraisablehook, lambda _: None
    try:
        return _try_delegates(kind)
    finally:
        gc.collect()
        sys.unraisablehook = hook


def _try_delegates(kind: str) -> str | None:
    try:
        from edge.backends.tflite import load_interpreter_module

        _, module = load_interpreter_module()
    except Exception as exc:  # noqa: BLE001
        return f"no TFLite runtime: {exc}"
    libs = GPU_DELEGATE_LIBS if kind == "gpu" else (EDGETPU_LIB,)
    errors = []
    for lib in libs:
        try:
            module.load_delegate(lib)
            return None
        except (ValueError, OSError, RuntimeError) as exc:
            errors.append(f"{lib}: {str(exc).splitlines()[0][:80]}")
    return "delegate library not loadable (" + "; ".join(errors) + ")"


def _inputs(ref: str) -> list[tuple[str, str, str]]:
    """(model path, format, label) for a bundle, a bare file, or a detector file of the catalog by name."""
    from edge.detectors import catalog

    path = Path(ref)
    if not path.exists() and ref in {f.name for f in catalog.catalog().files}:
        path = catalog.verified_path(ref)
        if path.suffix not in (".tflite", ".onnx"):
            raise ValueError(f"{ref}: a {catalog.catalog().entry(ref).format} file; edge-bench times TFLite and ONNX "
                             "files (its detector's time is in `edge-bench pipeline --detector`)")
        return [(str(path), path.suffix[1:], ref)]
    if path.is_file() and path.suffix in (".tflite", ".onnx", ".keras"):
        return [(str(path), path.suffix[1:], path.name)]
    bundle = load_bundle(ref)
    return [(str(bundle.root), f.format, bundle.name) for f in bundle.manifest.files]


def _unique_label(label: str, ref: str, used: set[str]) -> str:
    """Two bundles with one manifest name (a model before and after a change) get their folder in the id."""
    if label in used:
        path = Path(ref)
        label = f"{label}[{path.parent.name if path.name == 'bundle' else path.name}]"
        base, n = label, 2
        while label in used:
            label, n = f"{base}#{n}", n + 1
    used.add(label)
    return label


def build_matrix(refs: list[str], threads: list[int] | None = None, keras_reference: bool = True,
                 xnnpack_off: bool = True) -> list[BenchConfig]:
    threads = threads or thread_counts()
    ort_available: list[str] = []
    try:
        import onnxruntime

        ort_available = onnxruntime.get_available_providers()
    except ImportError:
        pass
    delegate_reason = {kind: _delegate_status(kind) for kind in ("gpu", "edgetpu")}
    openvino_reason = None if importlib.util.find_spec("openvino") else \
        "OpenVINO not installed (pip install edgesight[openvino])"
    configs: list[BenchConfig] = []
    used: set[str] = set()
    for ref in refs:
        entries = _inputs(ref)
        label = _unique_label(entries[0][2], ref, used)
        for model, fmt, _ in entries:
            if fmt.startswith("tflite"):
                for t in threads:
                    for xnn in (True, False) if xnnpack_off else (True,):
                        tag = "xnnpack" if xnn else "builtin"
                        configs.append(BenchConfig(f"{label}/{fmt}/{tag}/t{t}", model, label, fmt, "tflite", t, xnn))
            elif fmt.startswith("onnx"):
                for provider in ORT_PROVIDERS:
                    short = provider.replace("ExecutionProvider", "").lower()
                    if provider not in ort_available:
                        configs.append(BenchConfig(f"{label}/{fmt}/{short}", model, label, fmt, "onnx",
                                                   provider=provider, skipped=f"{provider} is not in this "
                                                   f"onnxruntime build (available: {', '.join(ort_available)}; it "
                                                   f"comes with {PROVIDER_BUILDS.get(provider, 'another build')})"))
                        continue
                    for t in threads if provider == "CPUExecutionProvider" else (threads[-1],):
                        configs.append(BenchConfig(f"{label}/{fmt}/{short}/t{t}", model, label, fmt, "onnx", t,
                                                   provider=provider))
            if fmt.startswith(("tflite", "onnx")):
                for t in threads if openvino_reason is None else (threads[0],):
                    configs.append(BenchConfig(f"{label}/{fmt}/openvino-cpu/t{t}", model, label, fmt, "openvino", t,
                                               skipped=openvino_reason))
            if fmt == "keras" and keras_reference:
                reason = None if importlib.util.find_spec("keras") else "Keras/TensorFlow not installed " \
                    "(pip install edgesight[train])"
                configs.append(BenchConfig(f"{label}/keras/predict", model, label, "keras", "keras",
                                           skipped=reason))
        tflite_fmts = [fmt for _, fmt, _ in entries if fmt.startswith("tflite")]
        if tflite_fmts:
            float_fmt = next((f for f in ("tflite-fp16", "tflite-fp32", "tflite") if f in tflite_fmts), tflite_fmts[0])
            for kind, fmt in (("gpu", float_fmt), ("edgetpu", tflite_fmts[-1])):
                reason = delegate_reason[kind]
                model = entries[0][0]
                if reason is None and kind == "edgetpu" and not _is_edgetpu_model(model, fmt):
                    reason = "no Edge TPU-compiled model (run edgetpu_compiler on the int8 file)"
                configs.append(BenchConfig(f"{label}/{fmt}/{kind}", model, label, fmt, "tflite", 1, False, kind,
                                           skipped=reason))
    return configs


def _is_edgetpu_model(model: str, fmt: str) -> bool:
    path = Path(model)
    if path.is_dir():
        path = path / load_bundle(path).manifest.file(fmt).path
    return b"edgetpu-custom-op" in path.read_bytes()
