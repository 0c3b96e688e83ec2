#!/usr/bin/env python3
"""EdgeSight first boot, written by edge-flash (cloud-init write_files): install the kiosk from the card's
wheelhouse with no network. Python's standard library only: nothing is installed yet when this runs.

  verify  --card DIR                  check every file of DIR/manifest.json (size, sha256) in place
  install --card DIR --dest D --venv V --package REQ [--system-site-packages]
          copy each listed file to D/firstboot, check the copy (so what is installed is what was checked),
          then: a venv without ensurepip, pip from the wheelhouse, `pip install --no-index`, detector files
          into D/cache/detectors, bundles into D/bundles. Nothing is installed unless every file verifies.

Exit status 1 with one line on stderr when a file is missing, truncated or altered: re-run edge-flash write.
"""

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

CARDS = ("/boot/firmware/edgesight", "/boot/edgesight")


class Failed(Exception):
    pass


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_card(card):
    for c in [card] if card else CARDS:
        if Path(c, "manifest.json").is_file():
            return Path(c)
    raise Failed(f"no edgesight/manifest.json on the boot partition (looked in {card or ', '.join(CARDS)}); "
                 "re-run edge-flash write")


def check(root, entry):
    path = root / entry["path"]
    if not path.is_file():
        raise Failed(f"{path}: missing; re-run edge-flash write")
    if path.stat().st_size != entry["size_bytes"]:
        raise Failed(f"{path}: size {path.stat().st_size} is not the manifest's {entry['size_bytes']}; the card "
                     "is truncated or altered, re-run edge-flash write")
    if sha256(path) != entry["sha256"]:
        raise Failed(f"{path}: sha256 does not match the manifest; the file was altered, re-run edge-flash write")
    return path


def verify(root):
    manifest = json.loads((root / "manifest.json").read_text())
    for entry in manifest["files"]:
        if ".." in Path(entry["path"]).parts or Path(entry["path"]).is_absolute():
            raise Failed(f"manifest path {entry['path']!r} leaves the wheelhouse")
        check(root, entry)
    return manifest


def stage(card, staging):
    """Copy the listed files (only those) off the card, then check the copies."""
    manifest = verify(card)
    if staging.exists():
        shutil.rmtree(staging)
    for entry in manifest["files"]:
        dest = staging / entry["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(card / entry["path"], dest)
    shutil.copyfile(card / "manifest.json", staging / "manifest.json")
    return verify(staging)


def run(cmd):
    print("edgesight-firstboot:", " ".join(cmd), flush=True)
    if subprocess.run(cmd).returncode != 0:
        raise Failed(f"{cmd[0]} failed (exit status above)")


def install(args):
    dest = Path(args.dest)
    staging = dest / "firstboot"
    manifest = stage(find_card(args.card), staging)
    wheels = staging / "wheels"
    pip_wheel = next(iter(sorted(wheels.glob("pip-*.whl"))), None)
    if pip_wheel is None:
        raise Failed("the wheelhouse has no pip wheel; re-run edge-flash write")
    venv = Path(args.venv)
    run([sys.executable, "-m", "venv", "--without-pip", *(["--system-site-packages"] if args.system_site_packages
                                                        else []), str(venv)])
    py = str(venv / "bin" / "python")
    run([py, str(pip_wheel / "pip"), "install", "--no-index", "--find-links", str(wheels), "--no-cache-dir",
         "--disable-pip-version-check", "pip"])
    run([py, "-m", "pip", "install", "--no-index", "--find-links", str(wheels), "--no-cache-dir",
         "--disable-pip-version-check", args.package])
    for entry in manifest["files"]:
        rel = Path(entry["path"])
        if entry["kind"] == "detector":
            target = dest / "cache" / "detectors" / rel.name
        elif entry["kind"] == "bundle":
            target = dest / rel
        else:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(staging / rel, target)
    shutil.rmtree(wheels)  # installed; the card keeps its copy
    print(f"edgesight-firstboot: installed {args.package} offline from {len(manifest['files'])} verified files",
          flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(prog="edgesight-firstboot", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--card")
    i = sub.add_parser("install")
    i.add_argument("--card")
    i.add_argument("--dest", default="/var/lib/edgesight")
    i.add_argument("--venv", default="/opt/edgesight")
    i.add_argument("--package", default="edgesight[pi]")
    i.add_argument("--system-site-packages", action="store_true")
    args = p.parse_args(argv)
    try:
        if args.command == "verify":
            manifest = verify(find_card(args.card))
            print(f"edgesight-firstboot: {len(manifest['files'])} files verified")
        else:
            install(args)
    except Failed as exc:
        print(f"edgesight-firstboot: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
