"""make pi-vm: first boot end to end in a virtual machine, with the VM's network switched off.

A card image is built the way a Raspberry Pi OS image is laid out: an MBR, a FAT32 boot partition and an ext4
root (`mkfs.ext4 -d`) made from a Debian bookworm arm64 root file system with systemd, cloud-init and Debian's
arm64 kernel. `edge-flash write --image` then puts the profile's files and wheelhouse on it, exactly as a user
does. qemu-system-aarch64 (`-M virt -cpu cortex-a72`, the Pi 4's core; `-nic none`) boots the kernel and
initrd taken from that root; cloud-init reads the NoCloud seed from the boot partition (labelled CIDATA:
a Pi's firmware, config.txt and its own kernel cannot be emulated, so the VM boots Debian's kernel directly),
the first-boot script installs the wheelhouse, and the kiosk unit starts. A test-only unit in the image waits
for `edgesight-kiosk.service` to be active and `/healthz` to answer, then prints one line on the serial
console and powers off. Slow (TCG emulation): an opt-in target, not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edge.errors import EdgeSightError
from firmware_configs.pi_check import REPO, ensure_tools, rootfs

PACKAGES = ["python3", "systemd", "systemd-sysv", "udev", "cloud-init", "linux-image-arm64", "initramfs-tools",
            "kmod"]
# An initramfs of the modules a virt machine needs: MODULES=most under qemu-user takes most of an hour.
HOOKS = ('mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d" && '
         'echo MODULES=list > "$1/etc/initramfs-tools/conf.d/edgesight-vm" && '
         'printf "virtio_mmio\\nvirtio_pci\\nvirtio_blk\\next4\\nvfat\\nnls_cp437\\nnls_ascii\\n" '
         '> "$1/usr/share/initramfs-tools/modules.d/edgesight-vm"',)
MARK = "EDGESIGHT-VM-CHECK"
BOOT_MB = 512
SAMPLE_CLIP = "/opt/edgesight/lib/python3.11/site-packages/edge/samples/kiosk_clip.mp4"
PROFILE = f"""# The VM's device: no camera or GPIO there, so the kiosk loops the built-in clip.
board: rpi4
hostname: edgesight-vm
camera: {{kind: usb}}
display: {{enabled: false}}
kiosk:
  source: "loop:{SAMPLE_CLIP}"
  display: {{mode: headless}}
  outputs:
    gpio: {{enabled: false}}
    http: {{enabled: true, host: 127.0.0.1, port: 8080}}
"""
WATCHER = f"""#!/usr/bin/python3
# Test harness only (pi-vm): report the kiosk unit and /healthz on the serial console, then power off.
import subprocess, time, urllib.request
def say(msg):
    with open("/dev/console", "w") as c:
        c.write(msg + "\\n")
deadline, polls = time.time() + 3600, 0
while time.time() < deadline:
    active = subprocess.run(["systemctl", "is-active", "edgesight-kiosk.service"], capture_output=True,
                            text=True).stdout.strip()
    polls += 1
    if polls % 6 == 0:
        say("{MARK}-WAIT kiosk=%s" % active)
    if active == "failed":
        log = subprocess.run(["journalctl", "-u", "edgesight-kiosk", "-n", "20", "--no-pager"], capture_output=True,
                             text=True).stdout
        say("{MARK}-WAIT kiosk failed: " + log.replace("\\n", " | ")[-1500:])
    if active == "active":
        try:
            with urllib.request.urlopen("http://127.0.0.1:8080/healthz", timeout=10) as r:
                say("{MARK} kiosk=active healthz=%d %s" % (r.status, r.read().decode()[:300].replace("\\n", " ")))
                break
        except Exception as exc:
            say("{MARK}-WAIT healthz: %s" % exc)
    time.sleep(10)
subprocess.run(["systemctl", "poweroff"])
"""
WATCHER_UNIT = """[Unit]
Description=pi-vm test harness: kiosk active and /healthz
# No ordering on cloud-final (which is After=multi-user.target): it polls from early boot.

[Service]
Type=simple
ExecStart=/usr/local/sbin/edgesight-vm-watch

[Install]
WantedBy=multi-user.target
"""


def _customize(root: Path) -> tuple[Path, Path]:
    """fstab, NoCloud only, the harness unit; returns (kernel, initrd) copied out of the root."""
    (root / "etc/fstab").write_text("/dev/vda2 / ext4 defaults 0 1\nLABEL=CIDATA /boot/firmware vfat defaults 0 2\n")
    (root / "boot/firmware").mkdir(parents=True, exist_ok=True)
    (root / "etc/cloud/cloud.cfg.d/99-edgesight-vm.cfg").write_text("datasource_list: [NoCloud, None]\n")
    (root / "etc/hostname").write_text("debian\n")
    watch = root / "usr/local/sbin/edgesight-vm-watch"
    watch.parent.mkdir(parents=True, exist_ok=True)
    watch.write_text(WATCHER)
    watch.chmod(0o755)
    (root / "etc/systemd/system/edgesight-vm-watch.service").write_text(WATCHER_UNIT)
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / "edgesight-vm-watch.service").symlink_to("/etc/systemd/system/edgesight-vm-watch.service")
    kernel = max((root / "boot").glob("vmlinuz-*"))
    initrd = max((root / "boot").glob("initrd.img-*"))
    return kernel, initrd


def build_image(tar: Path, work: Path) -> tuple[Path, Path, Path]:
    """A blank card (MBR: FAT32 CIDATA boot + ext4 root from the tarball); returns (image, kernel, initrd)."""
    root = work / "root"
    root.mkdir()
    subprocess.run(["tar", "-xf", str(tar), "-C", str(root)], check=True)
    kernel, initrd = _customize(root)
    shutil.copy2(kernel, work / "vmlinuz")
    shutil.copy2(initrd, work / "initrd.img")
    root_mb = int(subprocess.run(["du", "-sm", str(root)], capture_output=True, text=True).stdout.split()[0]) + 1024
    ext4 = work / "root.ext4"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "rootfs", "-d", str(root), str(ext4), f"{root_mb}M"], check=True,
                   capture_output=True)
    shutil.rmtree(root)
    start, boot_sectors = 2048, BOOT_MB * 2048
    root_start = start + boot_sectors
    root_sectors = ext4.stat().st_size // 512
    image = work / "card.img"
    with open(image, "wb") as f:
        f.truncate((root_start + root_sectors) * 512)
        mbr = bytearray(512)
        mbr[446:462] = struct.pack("<B3sB3sII", 0x80, b"\0\0\0", 0x0C, b"\0\0\0", start, boot_sectors)
        mbr[462:478] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", root_start, root_sectors)
        mbr[510:512] = b"\x55\xaa"
        f.write(mbr)
    subprocess.run(["mkfs.vfat", "-F", "32", "--offset", str(start), "-n", "CIDATA", str(image),
                    str(boot_sectors // 2)], check=True, capture_output=True)
    subprocess.run(["dd", f"if={ext4}", f"of={image}", "bs=1M", f"seek={root_start * 512 // (1 << 20)}",
                    "conv=notrunc,sparse", "status=none"], check=True)
    ext4.unlink()
    (work / "config.txt").write_text("# config.txt: read by a Pi's firmware; the VM boots Debian's kernel directly\n")
    subprocess.run(["mcopy", "-i", f"{image}@@{start * 512}", str(work / "config.txt"), "::/config.txt"], check=True)
    return image, work / "vmlinuz", work / "initrd.img"


def boot(image: Path, kernel: Path, initrd: Path, console: Path, limit_s: int) -> dict:
    """Boot with no network; wait for the harness line on the serial console, at most limit_s seconds."""
    if not shutil.which("qemu-system-aarch64"):
        raise EdgeSightError("pi-vm needs qemu-system-aarch64: apt install qemu-system-arm")
    cmd = ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "2048", "-nic", "none",
           "-display", "none", "-monitor", "none", "-serial", f"file:{console}", "-no-reboot",
           "-kernel", str(kernel), "-initrd", str(initrd),
           "-append", "root=/dev/vda2 rw console=ttyAMA0 rootwait panic=-1",
           "-drive", f"file={image},format=raw,if=virtio"]
    t0 = time.time()
    vm = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    found = None
    try:
        while time.time() - t0 < limit_s and vm.poll() is None:
            text = console.read_text(errors="replace") if console.exists() else ""
            found = next((ln for ln in text.splitlines() if ln.startswith(f"{MARK} ")), None)
            if found:
                break
            time.sleep(5)
        if found:
            try:
                vm.wait(timeout=120)  # the harness powers off
            except subprocess.TimeoutExpired:
                pass
    finally:
        if vm.poll() is None:
            vm.kill()
            vm.wait()
    text = console.read_text(errors="replace") if console.exists() else ""
    steps = {"kernel booted": "Linux version", "cloud-init ran": "Cloud-init v.",
             "wheelhouse installed offline": "edgesight-firstboot: installed",
             "kiosk unit enabled": "multi-user.target.wants/edgesight-kiosk.service",
             "kiosk active, /healthz answered": f"{MARK} kiosk=active"}
    milestones = [name for name, needle in steps.items() if needle in text]
    return {"healthz": found, "seconds_to_healthy": round(time.time() - t0) if found else None,
            "limit_s": limit_s, "milestones_seen": milestones, "console": str(console)}


def run_vm(limit_s: int = 2400, keep: Path | None = None) -> dict:
    ensure_tools()
    tar = rootfs(PACKAGES, HOOKS)
    with tempfile.TemporaryDirectory(prefix="pi-vm-") as tmp:
        work = Path(tmp)
        image, kernel, initrd = build_image(tar, work)
        profile = work / "edgesight-vm.yaml"
        profile.write_text(PROFILE)
        write = subprocess.run([sys.executable, "-m", "firmware_configs.cli", "write", str(profile), "--image",
                                str(image), "--json"], capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
        if write.returncode != 0:
            raise EdgeSightError(f"edge-flash write: {write.stderr.strip()[-300:]}")
        console = (keep or work) / "console.log"
        console.parent.mkdir(parents=True, exist_ok=True)
        console.unlink(missing_ok=True)
        result = boot(image, kernel, initrd, console, limit_s)
        result["wheelhouse_mb"] = json.loads(write.stdout)["wheelhouse"]["size_mb"]
        if keep is None:
            result["console_tail"] = console.read_text(errors="replace")[-3000:]
    result["ok"] = bool(result["healthz"] and " healthz=200 " in result["healthz"])
    return result


def main(argv: list[str] | None = None) -> int:
    from edge.cli.common import emit_result, run_cli

    ap = argparse.ArgumentParser(prog="pi-vm", description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=2400, help="seconds to wait for a healthy kiosk (default 2400)")
    ap.add_argument("--keep", type=Path, help="keep the serial console log in this folder")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    def body() -> int:
        result = run_vm(args.limit, args.keep)
        emit_result(result, args.json)
        if not result["ok"]:
            raise EdgeSightError(f"no healthy kiosk (limit {args.limit} s); got as far as "
                                 f"{(result['milestones_seen'] or ['nothing'])[-1]!r} (console: {result['console']})")
        return 0

    return run_cli("pi-vm", body)


if __name__ == "__main__":
    sys.exit(main())
