"""Benchmark results as files: what the docs site's results page is built from.

Each benchmark that calls :func:`write` leaves ``benchmarks/results/<name>.json`` with the
machine it ran on, when, and its rows, so the numbers a reader sees are the numbers a
benchmark printed, never copied by hand (`mkdocs build` renders them: docs/gen_results.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "system": platform.system(),
    }


def write(name: str, rows: list[dict[str, Any]], targets: str = "") -> Path:
    """Record a run's rows (one dict per case) beside the previous results."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {
        "benchmark": name,
        "command": f"python -m benchmarks.{name}",
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "targets": targets,
        "rows": rows,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
