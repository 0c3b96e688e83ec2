"""The device a report was measured on, read once, in one place.

Numbers from two machines are only comparable when the machines are described: CPU, cores,
frequency governor, RAM, OS, runtime versions, accelerators; on a Pi also the board string and
`vcgencmd get_throttled` / temperature, read before and after the run.
"""

from __future__ import annotations

import ctypes.util
import os
import platform
import shutil
import subprocess
from pathlib import Path

from edge.versions import installed_versions

_VERSIONS = ("edgesight", "numpy", "opencv-python-headless", "ai-edge-litert", "tflite-runtime", "onnxruntime",
             "onnxruntime-gpu", "tensorflow", "tensorflow-cpu", "keras")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip("\x00\n ")
    except OSError:
        return None


def _cpu_model() -> str:
    text = _read("/proc/cpuinfo") or ""
    for key in ("model name", "Model", "Hardware", "cpu model"):
        for line in text.splitlines():
            if line.split(":")[0].strip() == key:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    text = _read("/proc/cpuinfo") or ""
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            have = set(line.split(":", 1)[1].split())
            return sorted(have & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "fma", "neon", "asimd", "asimddp",
                                  "i8mm", "sve"})
    return []


def _ram_bytes() -> int | None:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def _vcgencmd(*args: str) -> str | None:
    if shutil.which("vcgencmd") is None:
        return None
    try:
        out = subprocess.run(["vcgencmd", *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def thermal_state() -> dict:
    """Pi throttling flags and SoC temperature (None elsewhere); read before and after a run."""
    temp = _vcgencmd("measure_temp")
    zone = _read("/sys/class/thermal/thermal_zone0/temp")
    return {"throttled": _vcgencmd("get_throttled"),
            "temperature_c": float(temp.split("=")[1].split("'")[0]) if temp and "=" in temp else
            (int(zone) / 1000 if zone and zone.lstrip("-").isdigit() else None)}


def accelerators() -> dict[str, str]:
    """What is present, by name, with how it was found; absence is simply not listed."""
    found = {}
    for lib in ("edgetpu", "tensorflowlite_gpu_delegate", "hailort", "nvinfer"):
        path = ctypes.util.find_library(lib)
        if path:
            found[lib] = path
    if shutil.which("nvidia-smi"):
        found["nvidia-smi"] = shutil.which("nvidia-smi")
    if Path("/dev/apex_0").exists():
        found["coral-pcie"] = "/dev/apex_0"
    if Path("/etc/nv_tegra_release").exists():
        found["jetson"] = (_read("/etc/nv_tegra_release") or "").splitlines()[0]
    try:
        import onnxruntime

        extra = [p for p in onnxruntime.get_available_providers() if p not in ("CPUExecutionProvider",
                                                                                "AzureExecutionProvider")]
        if extra:
            found["onnxruntime-providers"] = ",".join(extra)
    except ImportError:
        pass
    return found


def fingerprint() -> dict:
    governor = _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    board = _read("/proc/device-tree/model")
    versions = installed_versions(_VERSIONS)
    info = {
        "cpu_model": _cpu_model(), "cpu_flags": _cpu_flags(), "machine": platform.machine(),
        "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(), "governor": governor, "ram_bytes": _ram_bytes(),
        "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
        "versions": versions, "accelerators": accelerators(), "board": board,
    }
    info["warnings"] = warnings(info)
    return info


def warnings(info: dict, before: dict | None = None, after: dict | None = None) -> list[str]:
    out = []
    if info.get("governor") and info["governor"] != "performance":
        out.append(f"CPU governor is {info['governor']!r}, not 'performance': latencies include frequency "
                   "scaling (echo performance | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor)")
    if info.get("governor") is None:
        out.append("CPU frequency governor not readable (VM or container): frequency scaling unknown")
    for label, state in (("before", before), ("after", after)):
        thr = (state or {}).get("throttled")
        if thr and thr.split("=")[-1] not in ("0x0", "0"):
            out.append(f"the Pi reported throttling {label} the run ({thr}): numbers are not representative")
    return out
