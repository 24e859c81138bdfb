"""Energy and CO₂ of a stage, measured by CodeCarbon in offline mode (no network).

CodeCarbon reads the CPU's energy counters where the machine exposes them and otherwise
estimates from the CPU model's power and its load; the country's grid carbon intensity
comes from data shipped with the package (``emissions.country_iso_code``). Each measured
stage writes ``reports/emissions/<stage>.json`` (untracked: it describes the machine; the
pull-request report shows it) and the training run in MLflow gets the numbers too.

Unlike every other output, these numbers differ between two runs of the same stage on the
same data: they measure the machine, not the model. They are kept to three significant
digits and live in their own files, so the deterministic outputs stay byte-identical.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fraudctl.config import EmissionsParams
from fraudctl.io import read_json, write_json
from fraudctl.numbers import significant
from fraudctl.paths import ProjectPaths

STAGES = ("train", "poison", "fairness", "drift")


@dataclass
class Measurement:
    stage: str
    energy_kwh: float | None = None
    emissions_kg: float | None = None
    seconds: float | None = None
    method: str = ""

    def as_metrics(self) -> dict[str, float]:
        if self.energy_kwh is None or self.emissions_kg is None:
            return {}
        return {
            "energy_kwh": significant(self.energy_kwh, 3),
            "emissions_kg_co2eq": significant(self.emissions_kg, 3),
        }


@contextlib.contextmanager
def measured(stage: str, settings: EmissionsParams) -> Iterator[Measurement]:
    """Measure the block; the measurement is filled in when it ends (also on failure)."""
    measurement = Measurement(stage)
    if not settings.enabled:
        yield measurement
        return
    from codecarbon import OfflineEmissionsTracker

    # After the import, which sets its own level: codecarbon warns at every start that
    # several instances may run (we allow them: no lock file) and logs its set-up at INFO.
    logging.getLogger("codecarbon").setLevel(logging.ERROR)

    with _cpu_model_from_proc():
        tracker = OfflineEmissionsTracker(
            country_iso_code=settings.country_iso_code,
            save_to_file=False,
            log_level="error",
            measure_power_secs=settings.measure_seconds,
            allow_multiple_runs=True,
            project_name=f"fraudctl-{stage}",
        )
        tracker.start()
    try:
        yield measurement
    finally:
        tracker.stop()
        data: Any = tracker.final_emissions_data
        if data is not None:
            measurement.energy_kwh = float(data.energy_consumed)
            measurement.emissions_kg = float(data.emissions)
            measurement.seconds = float(data.duration)
            measurement.method = f"CodeCarbon offline, {data.cpu_model}, {data.country_name}"


@contextlib.contextmanager
def _cpu_model_from_proc() -> Iterator[None]:
    """CodeCarbon asks py-cpuinfo for the CPU's model name, to look up its power. py-cpuinfo
    gathers every field it can in a child process (CPUID probes, clock measurements), about
    a second of CPU at every measured stage's start; its first source on Linux,
    /proc/cpuinfo, already holds the name, and reading only that takes a millisecond. Where
    it does not (no such file, or no model name there), py-cpuinfo runs in full as before."""
    try:
        import cpuinfo
        from cpuinfo.cpuinfo import _get_cpu_info_from_proc_cpuinfo
    except ImportError:  # a py-cpuinfo without that reader: nothing to shortcut
        yield
        return
    full = cpuinfo.get_cpu_info

    def brand_first() -> dict[str, Any]:
        found = _get_cpu_info_from_proc_cpuinfo()
        return found if found.get("brand_raw") else full()

    cpuinfo.get_cpu_info = brand_first
    try:
        yield
    finally:
        cpuinfo.get_cpu_info = full


def emissions_file(paths: ProjectPaths, stage: str) -> Path:
    return paths.reports_dir / "emissions" / f"{stage}.json"


def record(paths: ProjectPaths, measurement: Measurement) -> None:
    """Write the stage's emissions file (temp file + rename); with measuring switched off it
    says so, because DVC expects every declared output to exist."""
    metrics = measurement.as_metrics() or {"measured": False}
    write_json(emissions_file(paths, measurement.stage), metrics)


def recorded(paths: ProjectPaths) -> dict[str, dict[str, float]]:
    """Every stage's last recorded emissions (stages never measured are left out)."""
    found = {}
    for stage in STAGES:
        path = emissions_file(paths, stage)
        if path.exists() and "energy_kwh" in (values := read_json(path)):
            found[stage] = values
    return found
