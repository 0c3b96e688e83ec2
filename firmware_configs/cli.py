"""edge-flash: validate a device profile and render the boot-partition files a Pi needs for a kiosk on first boot."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.cli.common import emit_result, run_cli

EPILOG = """examples:
  edge-flash validate rpi4-kiosk                 # a shipped profile, or a path to your own YAML
  EDGESIGHT_WIFI_PSK=... edge-flash render my-kiosk.yaml --out boot-overlay/
  edge-flash write rpi4-kiosk --image raspios-bookworm-arm64-lite.img    # no root needed (mtools)
  edge-flash write rpi4-kiosk --boot /media/$USER/bootfs                  # a mounted SD card
Shipped profiles: rpi4-kiosk, rpi5-kiosk, rpi-zero2w-headless, jetson-orin-nano."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-flash", description="Provision Pi / Jetson kiosks from a device profile.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check a profile; errors name their line")
    v.add_argument("profile")
    v.add_argument("--json", action="store_true")
    r = sub.add_parser("render", help="write config.txt, cloud-init user-data/network-config, the systemd unit, "
                       "kiosk.yaml (and udev rules for Coral)")
    r.add_argument("profile")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--json", action="store_true")
    w = sub.add_parser("write", help="render, then write into a Raspberry Pi OS image's boot partition (mtools, no "
                       "root) or a mounted card; config.txt gets a marked section; each file is read back")
    w.add_argument("profile")
    target = w.add_mutually_exclusive_group(required=True)
    target.add_argument("--image", type=Path, help="e.g. raspios-bookworm-arm64-lite.img (uncompressed)")
    target.add_argument("--boot", type=Path, help="the mounted boot partition, e.g. /media/$USER/bootfs")
    w.add_argument("--force", action="store_true", help="overwrite files edge-flash did not create")
    w.add_argument("--json", action="store_true")
    return p


def _body(args: argparse.Namespace) -> int:
    from firmware_configs.profile import load_profile

    profile = load_profile(args.profile)
    if args.command == "validate":
        result = {"profile": args.profile, "valid": True, "board": profile.board, "hostname": profile.hostname}
    elif args.command == "render":
        from firmware_configs.render import render

        written = render(profile, Path(args.profile).stem, args.out)
        result = {"profile": args.profile, "files": {k: str(v) for k, v in written.items()}}
    else:
        import tempfile

        from firmware_configs.image import write_boot_files
        from firmware_configs.render import render

        with tempfile.TemporaryDirectory() as tmp:
            written = render(profile, Path(args.profile).stem, Path(tmp))
            changes = write_boot_files(written, image=args.image, boot=args.boot, force=args.force)
        result = {"profile": args.profile, "target": str(args.image or args.boot),
                  "changes": [f"{c['action']}: {c['file']}" for c in changes]}
    emit_result(result, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli("edge-flash", lambda: _body(args))


if __name__ == "__main__":
    sys.exit(main())
