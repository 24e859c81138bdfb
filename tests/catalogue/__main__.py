"""`python -m tests.catalogue`: run every case on a fresh project; print N cases, N clean."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from tests.catalogue.cases import all_cases, build_project, run_case


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="fraudctl-catalogue-") as scratch:
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{scratch}/mlflow.db")
        os.environ.setdefault("MPLBACKEND", "Agg")
        project = build_project(Path(scratch) / "project")
        cases = all_cases()
        failures = []
        for case in cases:
            problem = run_case(case, project, project / "models" / "model")
            mark = "ok  " if problem is None else "FAIL"
            print(f"{mark} {case.kind:3} {case.name}", flush=True)
            if problem:
                failures.append((case.name, problem))
        for name, problem in failures:
            print(f"\n--- {name}: {problem}")
        print(f"\n{len(cases)} cases, {len(cases) - len(failures)} clean")
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
