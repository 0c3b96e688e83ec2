"""Thermal, clock, throttling and power sensors against fake sysfs trees and a fake vcgencmd: each board's
layout read right, and "no sensor" when there is none, never a guess."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from benchmarks.rounds import Slot
from benchmarks.sensors import Device, cpu_freqs, is_throttled, passive_trips, pmic_watts, power_sensor, temperatures
from benchmarks.telemetry import Sampler, mark_rows, throttle_warnings

PMIC = """     3V7_WL_SW_A current(0)=0.00000000A
     VDD_CORE_A current(7)=2.00000000A
     EXT5V_V volt(24)=5.10000000V
     VDD_CORE_V volt(15)=0.80000000V
     3V7_WL_SW_V volt(8)=3.70000000V"""


def _write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text + "\n")


def x86_tree(root: Path, temp_mc: int = 45000, freq_khz: int = 3000000, gov: str = "performance") -> Path:
    _write(root, "sys/class/thermal/thermal_zone0/type", "x86_pkg_temp")
    _write(root, "sys/class/thermal/thermal_zone0/temp", str(temp_mc))
    _write(root, "sys/class/thermal/thermal_zone0/trip_point_0_type", "critical")
    _write(root, "sys/class/thermal/thermal_zone0/trip_point_0_temp", "105000")
    _write(root, "sys/class/thermal/thermal_zone0/trip_point_1_type", "passive")
    _write(root, "sys/class/thermal/thermal_zone0/trip_point_1_temp", "95000")
    for cpu in (0, 1):
        _write(root, f"sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_cur_freq", str(freq_khz))
        _write(root, f"sys/devices/system/cpu/cpu{cpu}/cpufreq/cpuinfo_max_freq", "3000000")
    _write(root, "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", gov)
    _write(root, "sys/class/hwmon/hwmon0/name", "coretemp")
    _write(root, "sys/class/hwmon/hwmon0/temp1_input", "47000")
    _write(root, "sys/class/powercap/intel-rapl:0/name", "package-0")
    _write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "1000000")
    _write(root, "sys/class/powercap/intel-rapl:0/max_energy_range_uj", "262143328850")
    _write(root, "sys/class/powercap/intel-rapl:0:0/energy_uj", "5")  # a subzone: not added on top
    return root


def no_vcgencmd(args):
    return None


def pi_vcgencmd(throttled: str = "0x0"):
    answers = {"measure_temp": "temp=61.2'C", "get_throttled": f"throttled={throttled}", "pmic_read_adc": PMIC}
    return lambda args: answers.get(args[1]) if args[0] == "vcgencmd" else None


def test_x86_tree_reads_temperatures_clocks_trips_and_rapl(tmp_path):
    dev = Device(x86_tree(tmp_path), no_vcgencmd)
    assert temperatures(dev) == {"thermal_zone0:x86_pkg_temp": 45.0, "hwmon0:coretemp:temp1": 47.0}
    assert passive_trips(dev) == {"thermal_zone0:x86_pkg_temp": 95.0}
    assert cpu_freqs(dev) == {"cpu0": (3000.0, 3000.0), "cpu1": (3000.0, 3000.0)}
    rapl = power_sensor(dev)
    assert rapl.kind == "rapl" and "package-0" in rapl.name and len(rapl.zones) == 1
    token = rapl.start()
    _write(tmp_path, "sys/class/powercap/intel-rapl:0/energy_uj", "3500000")
    assert rapl.stop(token) == pytest.approx(2.5)
    _write(tmp_path, "sys/class/powercap/intel-rapl:0/energy_uj", "100")  # the counter wrapped
    assert rapl.stop([262143328800]) == pytest.approx(150 / 1e6)


def test_throttling_is_seen_from_trip_points_clocks_and_vcgencmd(tmp_path):
    cool = Device(x86_tree(tmp_path / "a"), no_vcgencmd)
    hot = Device(x86_tree(tmp_path / "b", temp_mc=96000), no_vcgencmd)
    slow = Device(x86_tree(tmp_path / "c", freq_khz=1200000), no_vcgencmd)
    slow_powersave = Device(x86_tree(tmp_path / "d", freq_khz=1200000, gov="powersave"), no_vcgencmd)
    for dev, expected in ((cool, False), (hot, True), (slow, True), (slow_powersave, False)):
        sampler = Sampler(dev)
        assert sampler.compact(_sample(dev))["throttled"] is expected, dev.root
    pi_root = tmp_path / "pi"
    pi_root.mkdir()
    for bits, expected in (("0x0", False), ("0x50000", False), ("0x50005", True), ("0x8", True)):
        dev = Device(pi_root, pi_vcgencmd(bits))
        s = _sample(dev)
        assert s["temps"] == {"vcgencmd": 61.2} and is_throttled(s, {}, None) is expected, bits


def _sample(dev):
    from benchmarks.telemetry import read_sample

    return read_sample(dev)


def test_jetson_ina3221_hwmon_and_iio_and_pi5_pmic(tmp_path):
    hw = tmp_path / "hw"
    _write(hw, "sys/class/hwmon/hwmon1/name", "ina3221")
    for ch, (mv, ma) in enumerate(((5000, 1000), (5000, 200)), start=1):
        _write(hw, f"sys/class/hwmon/hwmon1/in{ch}_input", str(mv))
        _write(hw, f"sys/class/hwmon/hwmon1/curr{ch}_input", str(ma))
    _write(hw, "sys/class/hwmon/hwmon1/in7_input", "5000")  # a voltage without a current: not a rail
    sensor = power_sensor(Device(hw, no_vcgencmd))
    assert sensor.kind == "ina3221" and sensor.watts() == pytest.approx(6.0) and "2 rails" in sensor.name
    iio = tmp_path / "iio"
    _write(iio, "sys/bus/iio/devices/iio:device0/name", "ina3221x")
    _write(iio, "sys/bus/iio/devices/iio:device0/in_power0_input", "3000")
    _write(iio, "sys/bus/iio/devices/iio:device0/in_power1_input", "1500")
    sensor = power_sensor(Device(iio, no_vcgencmd))
    assert sensor.kind == "ina3221" and sensor.watts() == pytest.approx(4.5)
    token = sensor.start()
    time.sleep(0.05)
    assert sensor.stop(token) == pytest.approx(4.5 * 0.05, rel=0.6)
    assert pmic_watts(PMIC) == pytest.approx(2.0 * 0.8)  # rails with both a current and a voltage
    pi = tmp_path / "pi"
    pi.mkdir()
    sensor = power_sensor(Device(pi, pi_vcgencmd()))
    assert sensor.kind == "pi5-pmic" and sensor.watts() == pytest.approx(1.6)


def test_no_sensor_means_no_energy_figure(tmp_path):
    assert power_sensor(Device(tmp_path, no_vcgencmd)) is None
    slot = Slot.__new__(Slot)
    slot.meter, slot.ms, slot.joules = None, [1.0], 0.0
    assert slot._energy()["sensor"] is None and "no sensor" in slot._energy()["note"]
    sampler = Sampler(Device(tmp_path, no_vcgencmd), interval_s=0.01)
    with sampler:
        time.sleep(0.05)
    rep = sampler.report()
    assert rep["series"] and not any(rep["sensors"].values()) and rep["throttled_samples"] == 0
    rows = [{"status": "ok", "config": {"id": "x"}, "timed_span": [rep["start"], rep["start"] + 1]}]
    mark_rows(rows, sampler.series)
    assert rows[0]["throttled"] is None  # no sensor: unknown, not "not throttled"
    assert any("no temperature" in w for w in throttle_warnings([], rep))


def test_sampler_series_marks_the_rows_timed_while_throttled(tmp_path):
    root = x86_tree(tmp_path)
    sampler = Sampler(Device(root, no_vcgencmd), interval_s=0.02)
    spans = {}
    with sampler:
        t0 = time.time()
        time.sleep(0.1)
        spans["cool"] = [t0, time.time()]
        _write(root, "sys/class/thermal/thermal_zone0/temp", "97000")
        time.sleep(0.05)
        t1 = time.time()
        time.sleep(0.1)
        spans["hot"] = [t1, time.time()]
    rows = [{"status": "ok", "config": {"id": k}, "timed_span": v} for k, v in spans.items()]
    mark_rows(rows, sampler.series)
    assert [r["throttled"] for r in rows] == [False, True]
    assert rows[1]["thermal"]["temp_c_max"] == 97.0 and rows[0]["thermal"]["freq_mhz_min"] == 3000.0
    assert "1 row(s) measured while the device throttled (hot)" in throttle_warnings(rows, sampler.report())[0]
    assert threading.active_count() >= 1


def test_edge_bench_here_reports_telemetry_and_energy_honestly(tmp_path):
    import json

    from tests.conftest import run_cli

    root = x86_tree(tmp_path / "sys-root")
    stop = threading.Event()

    def burn():  # a fake RAPL counter that climbs 1 J per 10 ms
        e = 1_000_000
        while not stop.wait(0.01):
            e += 1_000_000
            _write(root, "sys/class/powercap/intel-rapl:0/energy_uj", str(e))
    t = threading.Thread(target=burn, daemon=True)
    t.start()
    try:
        proc = run_cli("edge-bench", "digits", "--formats", "tflite-int8", "--threads", "1", "--xnnpack-only",
                       "--no-keras", "--runs", "300", "--warmup", "2", "--sysfs-root", str(root), "--json")
    finally:
        stop.set()
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    row = next(r for r in data["rows"] if r["status"] == "ok")
    assert row["energy"]["kind"] == "rapl" and row["energy"]["mj_per_inference"] > 0
    assert row["throttled"] is False and data["telemetry"]["sensors"]["temperature"]
    assert data["telemetry"]["series"][0]["temp_c"] == 47.0
    assert data["telemetry"]["machine_speed"]["p50_ms"] > 0 and row["machine_speed_ratio"] > 0


def test_the_reference_loop_shows_a_machine_that_changed_speed_and_marks_rows_and_baselines():
    """Where no sensor is readable (this VM), a fixed loop timed beside the rounds still says the machine slowed:
    drift over the run, a ratio per row, a warning past 3 %, and how a baseline's machine compares."""
    from benchmarks.speedprobe import baseline_speed, probe_ms, speed_summary, speed_warnings

    assert probe_ms(steps=1000, repeats=2) > 0
    series = [{"t": float(i), "probe_ms": 1.0 if i < 10 else 1.1} for i in range(20)]
    speed = speed_summary(series)
    assert speed["first_third_p50_ms"] == 1.0 and speed["last_third_p50_ms"] == 1.1
    assert speed["drift_pct"] == pytest.approx(10.0)
    assert "10.0 % slower" in speed_warnings(speed)[0]
    assert speed_warnings({**speed, "drift_pct": 1.0}) == [] and speed_summary(series[:1]) is None
    rows = [{"status": "ok", "config": {"id": "early"}, "timed_span": [0.0, 5.0]},
            {"status": "ok", "config": {"id": "late"}, "timed_span": [12.0, 19.0]}]
    mark_rows(rows, [], series)
    assert rows[0]["machine_speed_ratio"] < rows[1]["machine_speed_ratio"]
    assert rows[1]["machine_speed_ratio"] == pytest.approx(1.1 / speed["p50_ms"], abs=1e-3)
    now, then = {"telemetry": {"machine_speed": {"p50_ms": 1.05}}}, {"telemetry": {"machine_speed": {"p50_ms": 1.0}}}
    moved = baseline_speed(now, then)
    assert moved["change_pct"] == pytest.approx(5.0) and "5.0 % slower than in the baseline" in moved["note"]
    assert baseline_speed(now, {"rows": []}) is None  # a report from before the loop: nothing said
