"""What the device says about its temperature, clock, throttling and power, read from sysfs and vcgencmd.

Every reader takes the sysfs root (tests point it at a fake tree in tmp_path) and a command runner
(tests fake `vcgencmd`). A sensor that is not there is None or absent, never a guess: energy per inference
comes only from a real counter or power sensor.

- temperature: /sys/class/thermal/thermal_zone*/temp, hwmon temp*_input (millidegrees), `vcgencmd measure_temp`
- clock: /sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq against cpuinfo_max_freq (kHz)
- throttling: `vcgencmd get_throttled` bits 1-3 (capped, throttled, soft limit now); a thermal zone at or
  past its first passive trip point; a clock under 85 % of its maximum with the performance governor
- energy: Intel/AMD RAPL (/sys/class/powercap/intel-rapl:N/energy_uj, a cumulative counter), Jetson
  INA3221 (hwmon in*_input mV x curr*_input mA, or iio in_power*_input mW), Raspberry Pi 5 PMIC
  (`vcgencmd pmic_read_adc`: rail currents x voltages)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

THROTTLED_NOW = 0b1110  # arm frequency capped, currently throttled, soft temperature limit active


def run_command(args: list[str]) -> str | None:
    """The real command runner: stdout, or None when the tool is missing or fails."""
    if shutil.which(args[0]) is None:
        return None
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@dataclass
class Device:
    """Where to read: a sysfs root and a command runner."""

    root: Path = Path("/")
    run: Callable[[list[str]], str | None] = field(default=run_command)

    def path(self, rel: str) -> Path:
        return self.root / rel.lstrip("/")


def _num(path: Path) -> float | None:
    try:
        return float(path.read_text().strip())
    except (OSError, ValueError):
        return None


def temperatures(dev: Device) -> dict[str, float]:
    """Every readable temperature in °C, by zone or hwmon name."""
    out: dict[str, float] = {}
    for zone in sorted(dev.path("sys/class/thermal").glob("thermal_zone*")):
        value = _num(zone / "temp")
        if value is not None:
            kind = (zone / "type").read_text().strip() if (zone / "type").is_file() else zone.name
            out[f"{zone.name}:{kind}"] = value / 1000
    for hw in sorted(dev.path("sys/class/hwmon").glob("hwmon*")):
        name = (hw / "name").read_text().strip() if (hw / "name").is_file() else hw.name
        for t in sorted(hw.glob("temp*_input")):
            value = _num(t)
            if value is not None:
                out[f"{hw.name}:{name}:{t.name.split('_')[0]}"] = value / 1000
    text = dev.run(["vcgencmd", "measure_temp"])
    m = re.search(r"temp=([\d.]+)", text or "")
    if m:
        out["vcgencmd"] = float(m.group(1))
    return out


def passive_trips(dev: Device) -> dict[str, float]:
    """The first passive trip point per thermal zone, °C: where the kernel starts throttling."""
    out = {}
    for zone in sorted(dev.path("sys/class/thermal").glob("thermal_zone*")):
        for kind in sorted(zone.glob("trip_point_*_type")):
            if kind.read_text().strip() == "passive":
                temp = _num(zone / kind.name.replace("_type", "_temp"))
                if temp is not None:
                    kind_name = (zone / "type").read_text().strip() if (zone / "type").is_file() else zone.name
                    out[f"{zone.name}:{kind_name}"] = temp / 1000
                    break
    return out


def cpu_freqs(dev: Device) -> dict[str, tuple[float, float | None]]:
    """(current MHz, maximum MHz) per CPU that has cpufreq."""
    out = {}
    for cpu in sorted(dev.path("sys/devices/system/cpu").glob("cpu[0-9]*")):
        cur = _num(cpu / "cpufreq" / "scaling_cur_freq")
        if cur is not None:
            top = _num(cpu / "cpufreq" / "cpuinfo_max_freq")
            out[cpu.name] = (cur / 1000, top / 1000 if top else None)
    return out


def governor(dev: Device) -> str | None:
    p = dev.path("sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    return p.read_text().strip() if p.is_file() else None


def throttled_bits(dev: Device) -> int | None:
    """`vcgencmd get_throttled` as an int (Pi only)."""
    m = re.search(r"throttled=(0x[0-9a-fA-F]+)", dev.run(["vcgencmd", "get_throttled"]) or "")
    return int(m.group(1), 16) if m else None


def is_throttled(sample: dict, trips: dict[str, float], gov: str | None) -> bool:
    """A sample (see sampler.read_sample) shows throttling now."""
    if sample.get("throttled_bits") is not None and sample["throttled_bits"] & THROTTLED_NOW:
        return True
    if any(sample.get("temps", {}).get(k, -1e9) >= t for k, t in trips.items()):
        return True
    freqs = sample.get("freqs", {})
    return gov == "performance" and any(top and cur < 0.85 * top for cur, top in freqs.values())


# ---- power -------------------------------------------------------------------------------------------------


class Rapl:
    """Cumulative package energy counters (µJ), wrap-around handled."""

    kind = "rapl"

    def __init__(self, zones: list[Path]) -> None:
        self.zones = zones
        self.ranges = [_num(z / "max_energy_range_uj") or 2**32 for z in zones]
        self.name = "RAPL " + ", ".join((z / "name").read_text().strip() if (z / "name").is_file() else z.name
                                        for z in zones)

    def start(self):
        return [_num(z / "energy_uj") or 0.0 for z in self.zones]

    def stop(self, token) -> float:
        """Joules since `start`."""
        total = 0.0
        for before, z, span in zip(token, self.zones, self.ranges):
            delta = (_num(z / "energy_uj") or 0.0) - before
            total += delta + span if delta < 0 else delta
        return total / 1e6


class PowerIntegrator:
    """A sensor that reads watts now: energy is the mean of the readings at both ends times the time between."""

    def __init__(self, kind: str, name: str, watts: Callable[[], float | None]) -> None:
        self.kind, self.name, self.watts = kind, name, watts

    def start(self):
        return time.perf_counter(), self.watts()

    def stop(self, token) -> float:
        t0, w0 = token
        w1 = self.watts()
        if w0 is None or w1 is None:
            return 0.0
        return (w0 + w1) / 2 * (time.perf_counter() - t0)


def _rapl(dev: Device) -> Rapl | None:
    zones = [z for z in sorted(dev.path("sys/class/powercap").glob("intel-rapl:*"))
             if z.name.count(":") == 1 and (z / "energy_uj").is_file() and _num(z / "energy_uj") is not None]
    return Rapl(zones) if zones else None


def _ina3221(dev: Device) -> PowerIntegrator | None:
    for hw in sorted(dev.path("sys/class/hwmon").glob("hwmon*")):
        if (hw / "name").is_file() and "ina3221" in (hw / "name").read_text():
            chans = [p.name[2:].split("_")[0] for p in sorted(hw.glob("in[0-9]*_input"))
                     if (hw / f"curr{p.name[2:].split('_')[0]}_input").is_file()]
            if chans:
                def watts(hw=hw, chans=chans) -> float | None:
                    vals = [(_num(hw / f"in{c}_input"), _num(hw / f"curr{c}_input")) for c in chans]
                    return sum(v * i for v, i in vals if v is not None and i is not None) / 1e6  # mV*mA = µW
                return PowerIntegrator("ina3221", f"INA3221 ({hw.name}, {len(chans)} rails)", watts)
    for dev_dir in sorted(dev.path("sys/bus/iio/devices").glob("iio:device*")):
        if (dev_dir / "name").is_file() and "ina3221" in (dev_dir / "name").read_text():
            rails = sorted(dev_dir.glob("in_power*_input"))
            if rails:
                def watts_iio(rails=rails) -> float | None:
                    vals = [_num(r) for r in rails]
                    return sum(v for v in vals if v is not None) / 1000  # mW
                return PowerIntegrator("ina3221", f"INA3221 ({dev_dir.name}, {len(rails)} rails)", watts_iio)
    return None


def pmic_watts(text: str | None) -> float | None:
    """Raspberry Pi 5 `vcgencmd pmic_read_adc`: the sum over rails of current (…_A) x voltage (…_V)."""
    if not text:
        return None
    amps = dict(re.findall(r"(\w+)_A\s+current\(\d+\)=([\d.]+)A", text))
    volts = dict(re.findall(r"(\w+)_V\s+volt\(\d+\)=([\d.]+)V", text))
    rails = set(amps) & set(volts)
    return sum(float(amps[r]) * float(volts[r]) for r in rails) if rails else None


def _pmic(dev: Device) -> PowerIntegrator | None:
    if pmic_watts(dev.run(["vcgencmd", "pmic_read_adc"])) is None:
        return None
    return PowerIntegrator("pi5-pmic", "Raspberry Pi 5 PMIC (vcgencmd pmic_read_adc)",
                           lambda: pmic_watts(dev.run(["vcgencmd", "pmic_read_adc"])))


POWER_SENSORS: dict[str, Callable[[Device], object | None]] = {"rapl": _rapl, "ina3221": _ina3221, "pi5-pmic": _pmic}


def power_sensor(dev: Device):
    """The first power sensor found (RAPL, INA3221, Pi 5 PMIC), or None: no sensor, no energy figure."""
    for find in POWER_SENSORS.values():
        sensor = find(dev)
        if sensor is not None:
            return sensor
    return None
