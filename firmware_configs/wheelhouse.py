"""The wheelhouse a card carries so first boot installs with no network: the project's own wheel built from
this checkout, every runtime dependency downloaded for the board's CPU, glibc and Python, pip itself (Raspberry
Pi OS Lite has no python3-venv / ensurepip), and the bundles and detector files the profile's kiosk loads; each
listed with its sha256 and size in `edgesight/manifest.json`, which first boot checks before installing anything.

Downloaded wheels are cached in ~/.cache/edgesight/wheelhouse/<target>: a render whose requirements were
resolved before reuses the cached resolution and never calls the index.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from edge.bundle import sha256_file
from edge.cache import cache_dir
from edge.errors import EdgeSightError
from firmware_configs.profile import Profile

REPO = Path(__file__).resolve().parent.parent
CARD_DIR = "edgesight"  # on the boot partition
FAT_BOOT_MB = 512  # Raspberry Pi OS bookworm's boot partition (bootfs)
DEVICE_BUNDLES = "/var/lib/edgesight/bundles"  # where first boot puts the kiosk's bundles


@dataclass(frozen=True)
class Target:
    """What pip must build for: the board's OS decides the Python and the newest glibc a wheel may need."""

    os: str
    python: str  # major.minor
    arch: str
    glibc: tuple[int, int]

    @property
    def name(self) -> str:
        return f"cp{self.python.replace('.', '')}-manylinux_{self.glibc[0]}_{self.glibc[1]}_{self.arch}"

    def platforms(self) -> list[str]:
        """Every manylinux tag this glibc runs, newest first; manylinux2014 is manylinux_2_17."""
        tags = [f"manylinux_2_{minor}_{self.arch}" for minor in range(self.glibc[1], 16, -1)]
        return tags + [f"manylinux2014_{self.arch}"]


# Raspberry Pi OS bookworm (64-bit; also on a Zero 2 W) is Debian 12: CPython 3.11, glibc 2.36. JetPack 6 is
# Ubuntu 22.04: CPython 3.10, glibc 2.35. Naming only manylinux2014 would resolve older wheels than the OS can
# run (ai-edge-litert 1.4.0 instead of 2.x), not the ones this project tests.
TARGETS = {"rpi4": Target("raspios-bookworm", "3.11", "aarch64", (2, 36)),
           "rpi5": Target("raspios-bookworm", "3.11", "aarch64", (2, 36)),
           "rpi-zero2w": Target("raspios-bookworm", "3.11", "aarch64", (2, 36)),
           "jetson-orin-nano": Target("jetpack6-ubuntu22.04", "3.10", "aarch64", (2, 35))}


def target_for(p: Profile) -> Target:
    return TARGETS[p.board]


def detector_names(settings) -> list[str]:
    """The detector catalog's files a detector configuration loads (OpenCV's Haar cascade comes with OpenCV)."""
    from edge.detectors.blazeface import MODELS

    kind = settings.type
    if kind == "fallback":
        return sorted({n for s in settings.detectors for n in detector_names(s)})
    names = []
    if kind == "blazeface":
        names.append(MODELS[settings.model].weights)
    elif kind == "res10":
        names += ["res10-ssd", "res10-ssd-prototxt"]
    look = settings.second_look
    if look is not None:
        if look.confirm:
            names.append(MODELS[look.confirm].weights)
        if look.mesh_threshold is not None:
            names.append("face-landmark")
    return sorted(set(names))


def bundle_refs(p: Profile) -> list[str]:
    """The bundles the kiosk loads: its classifier and the detector's second-look verifier(s)."""
    detector = p.kiosk.detector
    singles = detector.detectors if detector.type == "fallback" else [detector]
    return list(dict.fromkeys([p.kiosk.bundle] + [s.second_look.bundle for s in singles if s.second_look]))


def device_bundle(ref: str) -> str:
    return f"{DEVICE_BUNDLES}/{Path(ref).name}"


def _source_files() -> list[str]:
    """The checkout's files as git sees them (tracked and untracked, not ignored), else a filtered walk."""
    if not (REPO / "pyproject.toml").is_file():
        raise EdgeSightError(f"{REPO}: no pyproject.toml, so no project wheel can be built; run edge-flash from a "
                             "source checkout, or set install: {source: index, package: ...} in the profile")
    if (REPO / ".git").exists() and shutil.which("git"):
        out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "-co", "--exclude-standard"],
                             capture_output=True, check=True).stdout
        return sorted(r for r in out.decode().split("\0") if r and (REPO / r).is_file())
    skip = {".git", "build", "dist", "runs", "__pycache__"}
    return sorted(f.relative_to(REPO).as_posix() for f in REPO.rglob("*") if f.is_file() and not (
        skip & set(f.relative_to(REPO).parts) or any(x.startswith(".venv") or x.endswith(".egg-info")
                                                     for x in f.relative_to(REPO).parts)))


def build_project_wheel(out: Path, cache: Path | None = None) -> Path:
    """`pip wheel --no-deps` of a clean copy of this checkout (a stale build/ never leaks in; no build isolation,
    so no index), cached under the hash of the checkout's files: an unchanged tree is not rebuilt."""
    files = _source_files()
    digest = hashlib.sha256()
    for rel in files:
        digest.update(rel.encode() + b"\0" + sha256_file(REPO / rel).encode())
    built = Path(cache or cache_dir() / "wheelhouse" / "project") / digest.hexdigest()[:16]
    if not any(built.glob("edgesight-*.whl")):
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "src"
            for rel in files:
                (src / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / rel, src / rel)
            proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                                   str(src), "-w", str(Path(tmp) / "out")], capture_output=True, text=True)
            if proc.returncode != 0:
                raise EdgeSightError(f"pip wheel of the checkout failed: {proc.stderr.strip()[-300:]}")
            built.mkdir(parents=True, exist_ok=True)
            for whl in (Path(tmp) / "out").glob("edgesight-*.whl"):
                shutil.move(str(whl), built / whl.name)
        for old in sorted(built.parent.iterdir(), key=lambda d: d.stat().st_mtime)[:-3]:  # 30 MB each: keep 3
            shutil.rmtree(old, ignore_errors=True)
    wheel = next(built.glob("edgesight-*.whl"))
    shutil.copy2(wheel, Path(out) / wheel.name)
    return Path(out) / wheel.name


def _requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode()
    return sorted(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:"))


def _extras(package: str) -> str:
    from packaging.requirements import Requirement

    req = Requirement(package)
    if req.name.lower() != "edgesight":
        raise EdgeSightError(f"install.package: {package!r}: a wheelhouse carries this project (edgesight[...]); "
                             "for another package set install.source: index")
    return f"[{','.join(sorted(req.extras))}]" if req.extras else ""


def resolve_dependencies(project_wheel: Path, package: str, target: Target, cache: Path | None = None) -> list[Path]:
    """The wheels (in the cache) that pip resolves for the project wheel with `package`'s extras on the target,
    plus pip. A resolution is recorded under a key of the requirements and the target, so the same one later
    needs no index at all."""
    cache = Path(cache or cache_dir() / "wheelhouse" / target.name)
    cache.mkdir(parents=True, exist_ok=True)
    extras = _extras(package)
    key = hashlib.sha256(json.dumps([_requires(project_wheel), extras, target.platforms(), target.python]).encode())
    lock = cache / f"resolved-{key.hexdigest()[:16]}.json"
    if lock.is_file():
        names = json.loads(lock.read_text())["wheels"]
        if all((cache / n).is_file() for n in names):
            return [cache / n for n in names]
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-d", str(cache),
           "--only-binary=:all:", "--implementation", "cp", "--python-version", target.python,
           *[a for tag in target.platforms() for a in ("--platform", tag)], f"{project_wheel}{extras}", "pip"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")][-1:] or [proc.stderr[-300:]]
        raise EdgeSightError(f"pip download for {target.name} failed: {tail[0].strip()} (the index must be "
                             "reachable the first time; later renders use ~/.cache/edgesight/wheelhouse)")
    found = re.findall(r"(?:Saved|File was already downloaded) (\S+\.whl)", proc.stdout)
    names = sorted({Path(f).name for f in found} - {project_wheel.name})
    (cache / project_wheel.name).unlink(missing_ok=True)  # kept under wheelhouse/project, by tree hash
    lock.write_text(json.dumps({"target": target.name, "wheels": names}, indent=1))
    return [cache / n for n in names]


def _entry(root: Path, path: Path, kind: str) -> dict:
    return {"path": path.relative_to(root).as_posix(), "kind": kind, "sha256": sha256_file(path),
            "size_bytes": path.stat().st_size}


def _versions(wheels: list[Path]) -> dict[str, str]:
    """name -> version from wheel file names (PEP 427: name-version-...)."""
    return dict(sorted((w.name.split("-")[0].replace("_", "-").lower(), w.name.split("-")[1]) for w in wheels))


def build_wheelhouse(p: Profile, boot: Path, cache: Path | None = None) -> dict:
    """Fill boot/edgesight/ (wheels/, detectors/, bundles/, manifest.json) and return the manifest."""
    from edge.bundle import resolve
    from edge.detectors.catalog import catalog, verified_path

    target = target_for(p)
    root = Path(boot) / CARD_DIR
    if root.exists():
        shutil.rmtree(root)
    wheels = root / "wheels"
    wheels.mkdir(parents=True)
    project = build_project_wheel(wheels)
    for dep in resolve_dependencies(project, p.install.package, target, cache):
        shutil.copy2(dep, wheels / dep.name)
    entries = [_entry(root, w, "wheel") for w in sorted(wheels.iterdir())]
    (root / "detectors").mkdir()
    for name in detector_names(p.kiosk.detector):
        dest = root / "detectors" / catalog().entry(name).file
        shutil.copy2(verified_path(name), dest)
        entries.append(_entry(root, dest, "detector"))
    for ref in bundle_refs(p):
        src = resolve(ref)
        dest = root / "bundles" / Path(ref).name
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns("*.keras", "__pycache__"))
        entries += [_entry(root, f, "bundle") for f in sorted(dest.rglob("*")) if f.is_file()]
    manifest = {"schema": 1, "about": "EdgeSight's offline first boot: every file here, checked by "
                "edgesight-firstboot before anything is installed", "target": target.name, "os": target.os,
                "python": target.python, "platforms": target.platforms(), "package": p.install.package,
                "project_wheel": project.name, "versions": _versions(sorted(wheels.iterdir())), "files": entries,
                "total_bytes": sum(e["size_bytes"] for e in entries)}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def size_mb(manifest: dict) -> float:
    return round(manifest["total_bytes"] / 1e6, 1)


def fits_boot(total_bytes: int, free_bytes: int | None = None) -> None:
    """A wheelhouse larger than the room on the FAT boot partition is an error that says what to do."""
    room = FAT_BOOT_MB * 1024 * 1024 if free_bytes is None else free_bytes
    if total_bytes > room:
        raise EdgeSightError(f"the wheelhouse takes {total_bytes / 1e6:.0f} MB but the boot partition has "
                             f"{room / 1e6:.0f} MB free; drop extras from install.package, or set install.source: "
                             "index")
