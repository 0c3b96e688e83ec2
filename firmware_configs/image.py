"""Write rendered files into a Raspberry Pi OS image's FAT boot partition without root (mtools), or onto a mounted card.

The partition is found from the MBR (or a GPT), files go in with `mcopy`, and each is read back and
compared. `config.txt` belongs to the OS: only a marked EdgeSight section is added or replaced in it.
Files the tool did not create (listed in `edgesight-files.json`) are never overwritten without `force`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from edge.errors import EdgeSightError
from firmware_configs.wheelhouse import fits_boot

FAT_TYPES = {0x01, 0x04, 0x06, 0x0B, 0x0C, 0x0E}
GPT_FAT_GUIDS = {"a2a0d0eb-e5b9-3344-87c0-68b6b72699c7", "28732ac1-1ff8-d211-ba4b-00a0c93ec93b"}  # basic data, ESP
LEDGER = "edgesight-files.json"
BEGIN, END = "# --- edgesight begin (edge-flash) ---", "# --- edgesight end ---"


def boot_partition_offset(image: Path) -> int:
    with open(image, "rb") as f:
        mbr = f.read(512)
        if len(mbr) < 512 or mbr[510:512] != b"\x55\xaa":
            raise EdgeSightError(f"{image}: no MBR boot signature; not a disk image")
        entries = [struct.unpack("<B3sB3sII", mbr[446 + 16 * i:462 + 16 * i]) for i in range(4)]
        if any(e[2] == 0xEE for e in entries):
            f.seek(512)
            header = f.read(92)
            if header[:8] != b"EFI PART":
                raise EdgeSightError(f"{image}: protective MBR but no GPT header")
            lba, count, size = struct.unpack("<QII", header[72:88])
            f.seek(lba * 512)
            table = f.read(count * size)
            for i in range(count):
                entry = table[i * size:(i + 1) * size]
                guid = entry[:16]
                text = "-".join([guid[:4].hex(), guid[4:6].hex(), guid[6:8].hex(), guid[8:10].hex(), guid[10:16].hex()])
                if text in GPT_FAT_GUIDS:
                    return struct.unpack("<Q", entry[32:40])[0] * 512
            raise EdgeSightError(f"{image}: no FAT partition in the GPT")
        for _, _, kind, _, start, sectors in entries:
            if kind in FAT_TYPES and sectors:
                return start * 512
    raise EdgeSightError(f"{image}: no FAT boot partition in the MBR")


class _Target:
    """A FAT filesystem reached through mtools (image) or the OS (mounted boot partition)."""

    def __init__(self, image: Path | None = None, boot: Path | None = None) -> None:
        self.image, self.boot, self.dirs = image, boot, set()
        if image is not None:
            if not shutil.which("mcopy"):
                raise EdgeSightError("writing into an image needs mtools (apt install mtools)")
            self.spec = f"{image}@@{boot_partition_offset(image)}"
        elif boot is None or not Path(boot).is_dir():
            raise EdgeSightError(f"{boot}: not a mounted boot partition folder")

    def read(self, name: str) -> bytes | None:
        if self.boot is not None:
            path = Path(self.boot) / name
            return path.read_bytes() if path.is_file() else None
        proc = subprocess.run(["mtype", "-i", self.spec, f"::/{name}"], capture_output=True)
        return proc.stdout if proc.returncode == 0 else None

    def free_bytes(self) -> int:
        if self.boot is not None:
            return shutil.disk_usage(self.boot).free
        out = subprocess.run(["mdir", "-i", self.spec, "::/"], capture_output=True, text=True).stdout
        free = [line for line in out.splitlines() if line.strip().endswith("bytes free")]
        return int("".join(ch for ch in free[-1] if ch.isdigit())) if free else 0

    def delete(self, name: str) -> None:
        if self.boot is not None:
            (Path(self.boot) / name).unlink(missing_ok=True)
        else:
            subprocess.run(["mdel", "-i", self.spec, f"::/{name}"], capture_output=True)

    def _mkdirs(self, name: str) -> None:
        """Parent folders of a wheelhouse file (mmd fails on one that exists: that is fine)."""
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            folder = "/".join(parts[:i])
            if folder not in self.dirs:
                subprocess.run(["mmd", "-i", self.spec, f"::/{folder}"], capture_output=True)
                self.dirs.add(folder)

    def write(self, name: str, data: bytes) -> None:
        if self.boot is not None:
            (Path(self.boot) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(self.boot) / name).write_bytes(data)
            return
        self._mkdirs(name)
        with tempfile.NamedTemporaryFile() as tmp:
            tmp.write(data)
            tmp.flush()
            proc = subprocess.run(["mcopy", "-o", "-i", self.spec, tmp.name, f"::/{name}"], capture_output=True,
                                  text=True)
        if proc.returncode != 0:
            raise EdgeSightError(f"mcopy {name}: {proc.stderr.strip()[-200:]}")


def merge_config_txt(existing: str, fragment: str) -> str:
    """The OS's config.txt with exactly one EdgeSight section at the end (replacing an earlier one)."""
    lines, out, skipping = existing.splitlines(), [], False
    for line in lines:
        if line.strip() == BEGIN:
            skipping = True
        elif line.strip() == END:
            skipping = False
        elif not skipping:
            out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join([*out, "", BEGIN, fragment.rstrip("\n"), END]) + "\n"


def write_boot_files(files: dict[str, Path], image: Path | None = None, boot: Path | None = None,
                     force: bool = False) -> list[dict]:
    """Copy rendered files in; return what changed (name, action, sha256). Every write is read back and compared."""
    target = _Target(image, boot)
    ledger_raw = target.read(LEDGER)
    ours = set(json.loads(ledger_raw)["files"]) if ledger_raw else set()
    changes, plan, replaced = [], {}, 0
    for name, path in files.items():
        data = Path(path).read_bytes()
        current = target.read(name)
        if name == "config.txt":
            data = merge_config_txt((current or b"").decode(errors="replace"), data.decode()).encode()
        elif current is not None and name not in ours and not force:
            raise EdgeSightError(f"{name} already exists on the boot partition and was not written by edge-flash; "
                                 "use --force to overwrite it")
        if current == data:
            changes.append({"file": name, "action": "unchanged"})
            continue
        plan[name] = data
        replaced += len(current or b"")
        changes.append({"file": name, "action": "updated" if current is not None else "created",
                        "sha256": hashlib.sha256(data).hexdigest()})
    fits_boot(sum(len(d) for d in plan.values()) - replaced, target.free_bytes())
    stale = sorted(n for n in ours if n.startswith("edgesight/") and n not in files)  # an older wheelhouse
    for name in stale:
        target.delete(name)
    for name, data in plan.items():
        target.write(name, data)
        if target.read(name) != data:
            raise EdgeSightError(f"{name}: read back differs from what was written")
    kept = (ours - set(stale)) | (set(files) - {"config.txt"})
    target.write(LEDGER, json.dumps({"files": sorted(kept)}, indent=1).encode())
    return changes
