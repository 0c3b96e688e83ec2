"""make pi-check: the card's wheelhouse installed and run on aarch64 before anyone owns a Pi.

A Debian bookworm arm64 root file system (mmdebstrap; CPython 3.11 and glibc 2.36 as on Raspberry Pi OS,
and only `python3`: no python3-venv, no pip, like Pi OS Lite) is run through qemu-user (binfmt_misc) in a
chroot with no network (its own network namespace). The rendered first-boot script installs the wheelhouse
exactly as on a card; then `edge-run digits` (the sample photo), `edge-run mask` (frames of the sample clip,
compared with x86's labels) and `edge-kiosk --headless` (the rendered kiosk.yaml on the clip) run, and every
built-in bundle's int8 models are evaluated on their evaluation samples on ARM kernels (XNNPACK's and ONNX
Runtime's aarch64 int8 code is not the x86 code) and compared with the same code on this machine. Timings
under emulation mean nothing and are not reported.

The root file system is cached in ~/.cache/edgesight/pi-rootfs (about 2 minutes to build once).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from edge.cache import cache_dir
from edge.errors import EdgeSightError

SUITE, ARCH = "bookworm", "arm64"
PACKAGES = ["python3"]  # what Raspberry Pi OS Lite brings; the wheelhouse brings the rest
PARITY_FORMATS = ("tflite-int8", "onnx-int8")
MIN_AGREEMENT, MAX_ACCURACY_DELTA_PT = 0.99, 0.5
REPO = Path(__file__).resolve().parent.parent
VENV, STATE, CARD = "/opt/edgesight", "/var/lib/edgesight", "/boot/firmware/edgesight"
FIX = "apt install mmdebstrap qemu-user-static binfmt-support (as root)"


def _root() -> None:
    if os.geteuid() != 0:
        raise EdgeSightError("pi-check needs root (mmdebstrap and chroot); run it as root or in CI")


def ensure_tools() -> None:
    """mmdebstrap, qemu-aarch64 registered with binfmt_misc (mounted and enabled here when missing)."""
    _root()
    missing = [t for t in ("mmdebstrap", "unshare", "chroot", "tar") if not shutil.which(t)]
    if not Path("/usr/libexec/qemu-binfmt/aarch64-binfmt-P").exists() and not shutil.which("qemu-aarch64-static"):
        missing.append("qemu-user-static")
    if missing:
        raise EdgeSightError(f"pi-check needs {', '.join(missing)}: {FIX}")
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)], capture_output=True)
    if not (binfmt / "qemu-aarch64").exists() and shutil.which("update-binfmts"):
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], capture_output=True)
    entry = binfmt / "qemu-aarch64"
    if not entry.exists() or "enabled" not in entry.read_text():
        raise EdgeSightError("qemu-aarch64 is not registered with binfmt_misc; run `mount -t binfmt_misc binfmt_misc "
                             f"{binfmt}` and `update-binfmts --enable qemu-aarch64` as root ({FIX})")


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (arm64 packages come from the same registry)."""
    texts = [p.read_text() for p in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
             if p.is_file() and p.suffix in (".list", ".sources")]
    for text in texts:
        for url in re.findall(r"(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s+)?)(https?://\S+)", text):
            if "security" not in url and "debian" in url:
                return url.rstrip("/")
    return "http://deb.debian.org/debian"


def rootfs(packages: list[str] = PACKAGES, hooks: tuple[str, ...] = ()) -> Path:
    """The cached bookworm arm64 tarball for these packages, built with mmdebstrap when absent; `hooks` are
    mmdebstrap --setup-hook commands (run before any package is installed)."""
    key = hashlib.sha256(json.dumps([SUITE, ARCH, sorted(packages), *hooks]).encode()).hexdigest()[:12]
    tar = cache_dir() / "pi-rootfs" / f"{SUITE}-{ARCH}-{key}.tar"
    if tar.is_file():
        return tar
    tar.parent.mkdir(parents=True, exist_ok=True)
    part = tar.with_suffix(".part.tar")
    proc = subprocess.run(["mmdebstrap", "--arch", ARCH, "--variant=apt", f"--include={','.join(packages)}",
                           *[f"--setup-hook={h}" for h in hooks], SUITE, str(part), debian_mirror()],
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        part.unlink(missing_ok=True)
        raise EdgeSightError(f"mmdebstrap failed: {proc.stderr.strip()[-300:]}")
    part.rename(tar)
    return tar


class Chroot:
    """An extracted root file system; each command runs with no network (own namespace) and /proc. No /sys: with
    the host's CPU list there, cpuinfo (XNNPACK) describes an x86 machine to ARM code, which then crashes."""

    def __init__(self, tar: Path, where: Path) -> None:
        self.root = Path(where) / "rootfs"
        self.root.mkdir()
        subprocess.run(["tar", "-xf", str(tar), "-C", str(self.root)], check=True)

    def run(self, *cmd: str, timeout: int = 900) -> subprocess.CompletedProcess:
        env = ["env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root", "LANG=C.UTF-8",
               f"EDGESIGHT_CACHE={STATE}/cache"]
        inner = (f"mount -t proc proc {self.root}/proc && "
                 f'exec chroot {self.root} {" ".join(env)} "$@"')
        return subprocess.run(["unshare", "--net", "--mount", "sh", "-c", inner, "sh", *cmd], capture_output=True,
                              text=True, timeout=timeout)

    def must(self, *cmd: str, timeout: int = 900) -> str:
        proc = self.run(*cmd, timeout=timeout)
        if proc.returncode != 0:
            raise EdgeSightError(f"on arm64: {' '.join(cmd)} failed: {(proc.stderr or proc.stdout).strip()[-400:]}")
        return proc.stdout


def predictions(bundles: list[str] | None = None, formats=PARITY_FORMATS) -> dict:
    """Top-1 predictions and accuracy of each built-in bundle's int8 files on its evaluation sample: the same
    code runs here (x86) and inside the arm64 root (`python -m firmware_configs.pi_check --predict`)."""
    import numpy as np

    from edge.bundle import builtin_names, load_bundle
    from edge.classifier import Classifier
    from edge.preprocess import prepare_dataset

    out = {}
    for name in bundles or builtin_names():
        bundle = load_bundle(name)
        ev = bundle.manifest.evaluation
        if not ev or not ev.sample_file:
            continue
        with np.load(bundle.root / ev.sample_file) as data:
            x, y = data["x"], data["y"]
        x = prepare_dataset(x, bundle.manifest.preprocess, bundle.manifest.input.layout)
        for fmt in formats:
            if fmt not in [f.format for f in bundle.manifest.files]:
                continue
            clf = Classifier(bundle, fmt, threads=1)
            try:
                pred = np.concatenate([clf.probabilities(x[i:i + 50]).argmax(axis=1) for i in range(0, len(x), 50)])
            finally:
                clf.close()
            out[f"{name}/{fmt}"] = {"pred": pred.tolist(), "accuracy": float((pred == y).mean()), "n": len(y)}
    return out


def parity(arm: dict, x86: dict) -> list[dict]:
    rows = []
    for key, ref in x86.items():
        got = arm.get(key)
        if got is None:
            rows.append({"model": key, "ok": False, "reason": "not evaluated on arm64"})
            continue
        agree = sum(a == b for a, b in zip(got["pred"], ref["pred"])) / ref["n"]
        delta = 100 * (got["accuracy"] - ref["accuracy"])
        rows.append({"model": key, "samples": ref["n"], "accuracy_arm64": round(got["accuracy"], 4),
                     "accuracy_x86": round(ref["accuracy"], 4), "accuracy_delta_pt": round(delta, 2),
                     "top1_agreement": round(agree, 4),
                     "ok": agree >= MIN_AGREEMENT and abs(delta) <= MAX_ACCURACY_DELTA_PT})
    return rows


def sample_frames(dest: Path, every: int = 60) -> Path:
    """Every 60th frame of the built-in kiosk clip as PNG (lossless: both sides see the same pixels). The whole
    clip under qemu-user takes 7 minutes; these few frames exercise the same detector and classifier."""
    import cv2

    from edge.sources import SAMPLE_CLIP

    dest.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(SAMPLE_CLIP))
    i, ok = 0, True
    while ok:
        ok, frame = cap.read()
        if ok and i % every == every // 2:
            cv2.imwrite(str(dest / f"frame{i:04d}.png"), frame)
        i += 1
    cap.release()
    return dest


def _labels(rows: list[dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(Path(r["source"]).name, []).append(r["label"])
    return {k: sorted(v) for k, v in sorted(out.items())}


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _install(ch: Chroot, profile: str, work: Path) -> dict:
    """Render the profile's card files and install them the way first boot does, from the card's folder."""
    from firmware_configs.profile import load_profile
    from firmware_configs.render import FIRSTBOOT, TEMPLATES, render

    p = load_profile(profile)
    render(p, Path(profile).stem, work / "boot", environ={})
    shutil.copytree(work / "boot" / "edgesight", ch.root / CARD.lstrip("/"))
    (ch.root / "etc/edgesight").mkdir(parents=True, exist_ok=True)
    shutil.copy2(work / "boot" / "kiosk.yaml", ch.root / "etc/edgesight/kiosk.yaml")
    script = ch.root / FIRSTBOOT.lstrip("/")
    script.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(TEMPLATES / "edgesight-firstboot.py", script)
    import yaml

    first = yaml.safe_load((work / "boot" / "user-data").read_text())["runcmd"][0]  # as cloud-init runs it
    if first[:3] != ["python3", FIRSTBOOT, "install"]:
        raise EdgeSightError(f"{profile}: its user-data does not install from the wheelhouse (install.source)")
    ch.must(*first, "--card", CARD, timeout=1800)
    return json.loads((work / "boot" / "edgesight" / "manifest.json").read_text())


def run_check(profile: str = "rpi4-kiosk", duration: int = 20) -> dict:
    ensure_tools()
    with tempfile.TemporaryDirectory(prefix="pi-check-") as tmp:
        ch = Chroot(rootfs(), Path(tmp))
        manifest = _install(ch, profile, Path(tmp))
        py = f"{VENV}/bin/python"
        freeze = dict(line.split("==", 1) for line in ch.must(py, "-m", "pip", "freeze").splitlines() if "==" in line)
        absent = ch.must(py, "-c", "import importlib.util as u; print(all(u.find_spec(m) is None for m in "
                                   "('tensorflow', 'tflite_runtime', 'keras')))").strip() == "True"
        machine = ch.must(py, "-c", "import platform, sys; print(platform.machine(), sys.version.split()[0])").split()
        samples = f"{VENV}/lib/python3.11/site-packages/edge/samples"
        digits = _json_lines(ch.must(f"{VENV}/bin/edge-run", "digits", "--source", f"{samples}/digits_paper.jpg",
                                     "--json"))
        frames = sample_frames(ch.root / "root/frames")
        mask = _json_lines(ch.must(f"{VENV}/bin/edge-run", "mask", "--source", "/root/frames", "--json"))
        host = subprocess.run([sys.executable, "-m", "edge.cli.run", "mask", "--source", str(frames), "--json"],
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        mask_x86 = _json_lines(host.stdout)
        kiosk = _json_lines(ch.must(f"{VENV}/bin/edge-kiosk", "--config", "/etc/edgesight/kiosk.yaml", "--source",
                                    "loop:sample", "--headless", "--duration", str(duration), "--json"))[-1]
        arm = json.loads(ch.must(py, "-m", "firmware_configs.pi_check", "--predict").splitlines()[-1])
    rows = parity(arm, predictions())
    summary = kiosk.get("summary", kiosk)
    result = {"rootfs": f"debian {SUITE} {ARCH} ({' '.join(PACKAGES)})", "machine": machine[0],
              "python": machine[1], "network": "none (own network namespace)", "installed_offline": True,
              "wheelhouse_mb": round(manifest["total_bytes"] / 1e6, 1), "versions": freeze,
              "tensorflow_absent": absent,
              "edge_run_digits": {"digits": len(digits), "labels": "".join(d["label"] for d in digits)},
              "edge_run_mask": {"frames": len(_labels(mask)), "detections": len(mask),
                                "labels": sorted({d["label"] for d in mask}),
                                "same_labels_as_x86": _labels(mask) == _labels(mask_x86)},
              "edge_kiosk": {"frames": summary.get("frames"), "faces": summary.get("faces"),
                             "detector": summary.get("detector"), "model": summary.get("model")},
              "parity": rows, "bars": {"min_top1_agreement": MIN_AGREEMENT,
                                       "max_accuracy_delta_pt": MAX_ACCURACY_DELTA_PT},
              "timings": "not reported: qemu-user emulation"}
    result["ok"] = bool(absent and rows and all(r["ok"] for r in rows) and digits and mask and summary.get("frames")
                        and result["edge_run_mask"]["same_labels_as_x86"])
    return result


def main(argv: list[str] | None = None) -> int:
    from edge.cli.common import emit_result, run_cli

    ap = argparse.ArgumentParser(prog="pi-check", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="rpi4-kiosk", help="the device profile whose card is installed")
    ap.add_argument("--duration", type=int, default=20, help="seconds of headless kiosk on the sample clip")
    ap.add_argument("--predict", action="store_true", help=argparse.SUPPRESS)  # the arm64 side of the parity
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.predict:
        print(json.dumps(predictions()))
        return 0

    def body() -> int:
        result = run_check(args.profile, args.duration)
        emit_result(result, args.json)
        if not result["ok"]:
            raise EdgeSightError("pi-check failed its bars (see ok: false above)")
        return 0

    return run_cli("pi-check", body)


if __name__ == "__main__":
    sys.exit(main())
