"""A measured stage names the CPU as py-cpuinfo's full detection names it, without running
that detection (a child process and about a second) where /proc/cpuinfo already names it."""

from __future__ import annotations

import pytest

from fraudctl.config import EmissionsParams
from fraudctl.emissions import _cpu_model_from_proc, measured


def test_the_cpu_model_comes_from_proc_cpuinfo_and_matches_the_full_detection(monkeypatch):
    import cpuinfo
    from cpuinfo.cpuinfo import _get_cpu_info_from_proc_cpuinfo

    if not _get_cpu_info_from_proc_cpuinfo().get("brand_raw"):
        pytest.skip("this machine's /proc/cpuinfo names no CPU model")
    detected = cpuinfo.get_cpu_info()["brand_raw"]  # every source, in a child process
    full_runs: list[int] = []
    monkeypatch.setattr(cpuinfo, "get_cpu_info", lambda: full_runs.append(1) or {})
    with _cpu_model_from_proc():
        assert cpuinfo.get_cpu_info()["brand_raw"] == detected
    assert full_runs == []
    assert cpuinfo.get_cpu_info() == {}  # put back after the block


def test_without_a_model_name_in_proc_cpuinfo_the_full_detection_runs(monkeypatch):
    import cpuinfo
    import cpuinfo.cpuinfo as reader

    monkeypatch.setattr(reader, "_get_cpu_info_from_proc_cpuinfo", lambda: {})
    monkeypatch.setattr(cpuinfo, "get_cpu_info", lambda: {"brand_raw": "from every source"})
    with _cpu_model_from_proc():
        assert cpuinfo.get_cpu_info()["brand_raw"] == "from every source"


def test_a_measured_block_names_the_cpu_in_its_method():
    from cpuinfo.cpuinfo import _get_cpu_info_from_proc_cpuinfo

    brand = _get_cpu_info_from_proc_cpuinfo().get("brand_raw")
    with measured("train", EmissionsParams(enabled=True, measure_seconds=1.0)) as measurement:
        pass
    assert measurement.energy_kwh is not None and measurement.energy_kwh >= 0
    if brand:
        assert f"CodeCarbon offline, {brand}," in measurement.method
