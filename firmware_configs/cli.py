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
  edge-flash fleet --inventory firmware_configs/ansible/inventory.ini --out fleet/   # Prometheus + Grafana
  edge-flash fleet --target door-1.local --target door-2.local:8081 --fps-floor 8 --out fleet/ --json
Shipped profiles: rpi4-kiosk, rpi5-kiosk, rpi-zero2w-headless, jetson-orin-nano.
A profile whose kiosk.outputs.http names a token_file gets a new HTTP token per device (the operator's copy in
--tokens, mode 0600; the device's on the boot partition until first boot moves it into token_file)."""


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
    r.add_argument("--tokens", type=Path, help="the operator's HTTP token copies, one per hostname "
                   "(default ~/.config/edgesight/tokens)")
    r.add_argument("--json", action="store_true")
    w = sub.add_parser("write", help="render, then write into a Raspberry Pi OS image's boot partition (mtools, no "
                       "root) or a mounted card; config.txt gets a marked section; each file is read back")
    w.add_argument("profile")
    target = w.add_mutually_exclusive_group(required=True)
    target.add_argument("--image", type=Path, help="e.g. raspios-bookworm-arm64-lite.img (uncompressed)")
    target.add_argument("--boot", type=Path, help="the mounted boot partition, e.g. /media/$USER/bootfs")
    w.add_argument("--force", action="store_true", help="overwrite files edge-flash did not create")
    w.add_argument("--tokens", type=Path, help="as for render")
    w.add_argument("--json", action="store_true")
    _fleet_parser(sub)
    return p


def _fleet_parser(sub) -> None:
    f = sub.add_parser("fleet", help="write a Prometheus scrape config, alert rules and a Grafana dashboard for a "
                       "set of kiosks, from the metric names the kiosk serves")
    f.add_argument("--target", action="append", default=[], help="HOST[:PORT] or DEVICE=HOST:PORT (repeatable)")
    f.add_argument("--inventory", type=Path, help="an Ansible INI inventory; its [kiosks] hosts")
    f.add_argument("--profile", action="append", default=[], help="a device profile (its hostname.local and port)")
    f.add_argument("--port", type=int, default=8080, help="the kiosks' HTTP port when a target names none")
    f.add_argument("--tokens", type=Path, help="the operator's token copies (default ~/.config/edgesight/tokens); "
                   "a kiosk with one is scraped with it")
    f.add_argument("--credentials-dir", default="/etc/prometheus/edgesight", help="where the tokens/ files go on "
                   "the Prometheus server (the scrape config's credentials_file paths)")
    f.add_argument("--rules-path", default="edgesight-rules.yml", help="the rules file as prometheus.yml names it")
    f.add_argument("--fps-floor", type=float, default=5.0, help="alert below this FPS for 5 minutes")
    f.add_argument("--scrape-interval", default="15s")
    f.add_argument("--out", type=Path, required=True)
    f.add_argument("--json", action="store_true")


def _fleet(args: argparse.Namespace) -> dict:
    from firmware_configs.fleet import inventory_targets, parse_target, with_tokens, write_fleet
    from firmware_configs.profile import load_profile
    from firmware_configs.render import TOKENS_DIR

    targets = [parse_target(t, args.port) for t in args.target]
    if args.inventory:
        targets += inventory_targets(args.inventory, port=args.port)
    for ref in args.profile:
        prof = load_profile(ref)
        targets.append(parse_target(f"{prof.hostname}={prof.hostname}.local:{prof.kiosk.outputs.http.port}"))
    targets = with_tokens(targets, (args.tokens or TOKENS_DIR).expanduser())
    written = write_fleet(args.out, targets, args.fps_floor, args.scrape_interval, args.rules_path,
                          args.credentials_dir)
    return {"kiosks": [t.device for t in targets], "with_token": [t.device for t in targets if t.token],
            "files": {k: str(v) for k, v in written.items()}}


def _wheelhouse_summary(out: Path) -> dict:
    """What the card's wheelhouse holds and takes (nothing when the profile installs from an index)."""
    import json

    from firmware_configs.wheelhouse import CARD_DIR, FAT_BOOT_MB, fits_boot, size_mb

    path = out / CARD_DIR / "manifest.json"
    if not path.is_file():
        return {}
    manifest = json.loads(path.read_text())
    fits_boot(manifest["total_bytes"])
    return {"wheelhouse": {"size_mb": size_mb(manifest), "boot_partition_mb": FAT_BOOT_MB,
                           "files": len(manifest["files"]), "target": manifest["target"],
                           "versions": manifest["versions"]}}


def _body(args: argparse.Namespace) -> int:
    from firmware_configs.profile import load_profile

    if args.command == "fleet":
        emit_result(_fleet(args), args.json)
        return 0
    profile = load_profile(args.profile)
    if args.command == "validate":
        result = {"profile": args.profile, "valid": True, "board": profile.board, "hostname": profile.hostname}
    elif args.command == "render":
        from firmware_configs.render import render

        written = render(profile, Path(args.profile).stem, args.out, tokens_dir=args.tokens)
        result = {"profile": args.profile, "files": {k: str(v) for k, v in written.items()},
                  **_wheelhouse_summary(args.out)}
    else:
        import tempfile

        from firmware_configs.image import write_boot_files
        from firmware_configs.render import render

        with tempfile.TemporaryDirectory() as tmp:
            written = render(profile, Path(args.profile).stem, Path(tmp), tokens_dir=args.tokens)
            summary = _wheelhouse_summary(Path(tmp))
            changes = write_boot_files(written, image=args.image, boot=args.boot, force=args.force)
        result = {"profile": args.profile, "target": str(args.image or args.boot),
                  "changes": [f"{c['action']}: {c['file']}" for c in changes], **summary}
    emit_result(result, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli("edge-flash", lambda: _body(args))


if __name__ == "__main__":
    sys.exit(main())
