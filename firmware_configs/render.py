"""Profile -> boot-partition files: config.txt fragment, cloud-init user-data / network-config, the systemd
unit, the kiosk config, and udev rules for a Coral USB accelerator."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from string import Template

import yaml

from edge.errors import EdgeSightError
from firmware_configs.profile import Profile

TEMPLATES = Path(__file__).parent / "templates"
CONFIG_DIR, STATE_DIR = "/etc/edgesight", "/var/lib/edgesight"
FIRSTBOOT = "/usr/local/lib/edgesight/firstboot.py"  # templates/edgesight-firstboot.py, via write_files
TOKEN_FILE = "edgesight-http-token"  # on the boot partition until first boot moves it to the kiosk's token_file
TOKENS_DIR = Path("~/.config/edgesight/tokens")  # the operator's copies, one per hostname, mode 0600
CORAL_RULES = ('SUBSYSTEM=="usb", ATTRS{idVendor}=="1a6e", ATTRS{idProduct}=="089a", GROUP="plugdev", MODE="0660"\n'
               'SUBSYSTEM=="usb", ATTRS{idVendor}=="18d1", ATTRS{idProduct}=="9302", GROUP="plugdev", MODE="0660"\n')


def _groups(p: Profile) -> list[str]:
    groups = ["video"]
    if p.board.startswith("rpi"):
        groups.append("gpio")
    if p.accelerator == "coral-usb":
        groups.append("plugdev")
    return groups


def config_txt(p: Profile) -> str:
    lines = [f"# EdgeSight: profile for {p.hostname} ({p.board})", f"gpu_mem={p.gpu_mem}"]
    if p.camera.kind == "csi":
        lines += ["camera_auto_detect=1"]
    lines += ["display_auto_detect=1" if p.display.enabled else "hdmi_blanking=2", "dtoverlay=vc4-kms-v3d"]
    if p.display.rotate:
        lines.append(f"display_lcd_rotate={p.display.rotate // 90}")
    return "\n".join(lines) + "\n"


def kiosk_yaml(p: Profile) -> str:
    cfg = p.kiosk.model_dump(mode="json")
    if p.install.source == "wheelhouse":  # the bundles first boot copied off the card, checked there
        from firmware_configs.wheelhouse import device_bundle

        cfg["bundle"] = device_bundle(cfg["bundle"])
        det = cfg["detector"]
        for single in det["detectors"] if det["type"] == "fallback" else [det]:
            if single.get("second_look"):
                single["second_look"]["bundle"] = device_bundle(single["second_look"]["bundle"])
    cfg["rotate"] = p.camera.rotation  # the profile's word for how the camera is mounted
    if cfg["source"] == "loop:sample":  # a device profile means a camera
        cfg["source"] = "picamera2" if p.camera.kind == "csi" else f"camera:{p.camera.index}"
    cfg["outputs"]["sqlite"]["path"] = f"{STATE_DIR}/kiosk-events.db"
    cfg["outputs"]["mqtt"]["outbox_path"] = f"{STATE_DIR}/mqtt-outbox.db"  # the home directory is read-only there
    return "# Rendered by edge-flash; edit the profile, not this file.\n" + yaml.safe_dump(cfg, sort_keys=False)


def network_config(p: Profile, environ: dict[str, str]) -> str | None:
    if not p.network.wifi_ssid:
        return None
    psk = environ.get(p.network.wifi_psk_env or "", "")
    if not psk:
        raise EdgeSightError(f"network.wifi_psk_env: set ${p.network.wifi_psk_env or 'EDGESIGHT_WIFI_PSK'} "
                             "to the Wi-Fi passphrase (secrets never live in the profile)")
    return yaml.safe_dump({"version": 2, "wifis": {"wlan0": {"dhcp4": True, "regulatory-domain": p.network.country,
                                                             "access-points": {p.network.wifi_ssid: {
                                                                 "password": psk}}}}}, sort_keys=False)


def http_token(p: Profile, tokens_dir: Path | None = None) -> tuple[str, Path] | None:
    """The device's HTTP token when its kiosk config names a token_file: the operator's kept copy for this
    hostname, or a new one (secrets.token_urlsafe) saved there with mode 0600. Never in the profile."""
    http = p.kiosk.outputs.http
    if not (http.enabled and http.token_file):
        return None
    from edge.outputs.access import load_token, new_token, write_token

    path = (tokens_dir or TOKENS_DIR).expanduser() / f"{p.hostname}.token"
    if path.is_file():
        return load_token(path), path
    token = new_token()
    write_token(path, token)
    return token, path


def _token_runcmd(p: Profile) -> str:
    """First boot moves the token off the (world-readable FAT) boot partition into token_file, mode 0600."""
    target = p.kiosk.outputs.http.token_file
    script = (f"for d in /boot/firmware /boot; do if [ -f $d/{TOKEN_FILE} ]; then install -D -m 0600 -o {p.user.name} "
              f"-g {p.user.name} $d/{TOKEN_FILE} {target} && rm -f $d/{TOKEN_FILE}; fi; done")
    return f"  - [sh, -c, {json.dumps(script)}]"


def _install(p: Profile) -> dict[str, str]:
    """The user-data lines that install the kiosk: offline from the card's wheelhouse (the first-boot script,
    stdlib Python, checks every file first), or from an index, as a user who publishes a package asks."""
    csi = p.camera.kind == "csi"
    if p.install.source == "wheelhouse":  # the OS's picamera2 and GPIO bindings (lgpio) come from apt, not pip
        system = csi or p.board.startswith("rpi")
        script = base64.b64encode((TEMPLATES / "edgesight-firstboot.py").read_bytes()).decode()
        cmd = ["python3", FIRSTBOOT, "install", "--dest", STATE_DIR, "--venv", p.venv, "--package",
               p.install.package] + (["--system-site-packages"] if system else [])
        return {"apt": "# offline: no package index; the wheelhouse is on the boot partition (edgesight/)",
                "firstboot_file": f'\n  - path: {FIRSTBOOT}\n    permissions: "0755"\n    encoding: b64\n'
                                  f"    content: {script}",
                "install_runcmd": f"  - {json.dumps(cmd)}"}
    packages = ["python3-venv"] + (["python3-picamera2"] if csi else [])
    index = ["--index-url", p.install.index_url] if p.install.index_url else []
    lines = [["python3", "-m", "venv", "--system-site-packages" if csi else "--upgrade-deps", p.venv],
             [f"{p.venv}/bin/pip", "install", "--upgrade", *index, p.install.package],
             ["env", f"EDGESIGHT_CACHE={STATE_DIR}/cache", f"{p.venv}/bin/edge-train", "fetch", "detectors"]]
    return {"apt": f"package_update: true\npackages: [{', '.join(packages)}]", "firstboot_file": "",
            "install_runcmd": "\n".join(f"  - {json.dumps(c)}" for c in lines)}


def render(p: Profile, name: str, out: Path, environ: dict[str, str] | None = None,
           tokens_dir: Path | None = None, wheelhouse: bool = True, wheel_cache: Path | None = None
           ) -> dict[str, Path]:
    """Write the boot-partition files into `out`; with the profile's default install, also the wheelhouse
    (edgesight/: wheels, detector files, bundles, manifest.json). `wheelhouse=False` renders the text files
    only (the user-data still expects a wheelhouse on the card)."""
    environ = dict(os.environ) if environ is None else environ
    token = http_token(p, tokens_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    groups = _groups(p)
    devices = ["DeviceAllow=char-video4linux rw", "DeviceAllow=/dev/dma_heap rw", "DeviceAllow=char-drm rw"]
    if p.board.startswith("rpi"):
        devices += ["DeviceAllow=/dev/gpiochip0 rw", "DeviceAllow=/dev/gpiochip4 rw", "DeviceAllow=/dev/gpiomem rw"]
    if p.accelerator == "coral-usb":
        devices.append("DeviceAllow=char-usb_device rw")
    values = {"profile": name, "user": p.user.name, "groups": " ".join(groups), "venv": p.venv,
              "config_dir": CONFIG_DIR, "state_dir": STATE_DIR, "device_allow": "\n".join(devices),
              "hostname": p.hostname}
    service = Template((TEMPLATES / "edgesight-kiosk.service").read_text()).substitute(values)
    kiosk = kiosk_yaml(p)
    # cloud-init's schema rejects an empty key list: the line only appears with keys.
    keys = f"\n    ssh_authorized_keys: {json.dumps(p.user.ssh_keys)}" if p.user.ssh_keys else ""
    user_data = Template((TEMPLATES / "user-data").read_text()).substitute(
        values, groups=", ".join(groups), ssh_keys=keys, **_install(p),
        kiosk_b64=base64.b64encode(kiosk.encode()).decode(), service_b64=base64.b64encode(service.encode()).decode(),
        token_runcmd=_token_runcmd(p) if token else
        "  # no HTTP token: the kiosk's HTTP endpoint stays on 127.0.0.1")
    files = {"config.txt": config_txt(p), "user-data": user_data, "edgesight-kiosk.service": service,
             "kiosk.yaml": kiosk, "meta-data": f"instance-id: edgesight-{p.hostname}\n"}
    net = network_config(p, environ)
    if net:
        files["network-config"] = net
    if p.accelerator == "coral-usb":
        files["99-edgesight-coral.rules"] = CORAL_RULES
    if p.board.startswith("jetson"):
        files["edgesight-jetson-clocks.service"] = Template(
            (TEMPLATES / "edgesight-jetson-clocks.service").read_text()).substitute(values, nvpmodel=p.nvpmodel)
    written = {}
    for fname, text in files.items():
        (out / fname).write_text(text)
        written[fname] = out / fname
    if token:
        from edge.outputs.access import write_token

        write_token(out / TOKEN_FILE, token[0])
        written[TOKEN_FILE] = out / TOKEN_FILE
    if p.install.source == "wheelhouse" and wheelhouse:
        from firmware_configs.wheelhouse import CARD_DIR, build_wheelhouse

        manifest = build_wheelhouse(p, out, cache=wheel_cache)
        for entry in manifest["files"]:
            written[f"{CARD_DIR}/{entry['path']}"] = out / CARD_DIR / entry["path"]
        written[f"{CARD_DIR}/manifest.json"] = out / CARD_DIR / "manifest.json"
    return written
