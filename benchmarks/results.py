"""Benchmark results as files: what the manual's numbers are rendered from.

Each benchmark that calls :func:`write` leaves ``benchmarks/results/<name>.json`` with the
machine it ran on, when, the command line and its rows, so the numbers a reader sees are
the numbers a benchmark printed, never copied by hand (``make docs-numbers`` renders them
into the pages' generated blocks: docgen/).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import sys
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
    # what else ran meanwhile: on 2 cores a busy machine changes every time measured
    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return {
        "load_average": load,
        "cores": os.cpu_count(),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "system": platform.system(),
    }


def command(name: str) -> str:
    """The command line that ran, arguments included: a short run says so on the page."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is None or script.parent.resolve() != RESULTS.parent:
        return f"python -m benchmarks.{name}"  # called from elsewhere (a test, a notebook)
    return shlex.join(["python", "-m", f"benchmarks.{script.stem}", *sys.argv[1:]])


def write(
    name: str,
    rows: list[dict[str, Any]],
    targets: str = "",
    limits: dict[str, tuple[str, float]] | None = None,
) -> Path:
    """Record a run's rows (one dict per case), replacing the previous results.

    ``targets`` says in words what the run was held to; ``limits`` maps a column to
    (">=" | "<=", bound) so a page can mark each value against its target.
    """
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {
        "benchmark": name,
        "command": command(name),
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "targets": targets,
        "limits": {column: list(limit) for column, limit in (limits or {}).items()},
        "rows": rows,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
