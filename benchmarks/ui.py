"""`fraudctl ui` start-up: seconds until the server answers, and until a browser shows the
Model page with its numbers.

    python -m benchmarks.ui [--project DIR] [--runs 3]

Run it in a project where `dvc repro` (or `make repro`) has run; default: this checkout.
Times count from the process start. "first numbers": the Model page shows the test PR-AUC
(read from the stage outputs; the browser's own start is not counted). "whole page": the
registry table at its end is there too (it imports MLflow), browser start included.
Target (issue: the web app): the app starts
in <= 5 s on the defaults. Prints numbers and writes benchmarks/results/ui.json; nothing
here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from benchmarks import results
from benchmarks.chromium import free_port, render

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", type=Path, default=REPO)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    browsers = ("chromium", "chromium-browser", "google-chrome")
    chromium = next(filter(None, map(shutil.which, browsers)), None)
    fraudctl = Path(sys.executable).parent / "fraudctl"
    print(f"{'run':>4}{'server ready s':>16}{'first numbers s':>17}{'whole page s':>14}")
    rows = []
    for run in range(1, args.runs + 1):
        port = free_port()
        started = time.perf_counter()
        server = subprocess.Popen(
            [str(fraudctl), "ui", "--port", str(port)],
            cwd=args.project,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).is_success:
                        break
                except httpx.HTTPError:
                    time.sleep(0.05)
            ready = time.perf_counter() - started
            first = whole = float("nan")
            if chromium:
                navigated = time.perf_counter() - started
                url = f"http://127.0.0.1:{port}/"
                _, _, seen = render(chromium, url, "Champion and challenger", ("test PR-AUC",))
                first = navigated + seen.get("test PR-AUC", float("nan"))
                whole = time.perf_counter() - started
            print(f"{run:>4}{ready:>16.2f}{first:>17.2f}{whole:>14.2f}", flush=True)
            rows.append(
                {
                    "run": run,
                    "ready_s": ready,
                    "first_numbers_s": None if first != first else first,  # NaN: no browser
                    "whole_page_s": None if whole != whole else whole,
                }
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    print("target: the app starts in <= 5 s")
    conditions = "a project after `make repro`; times from the process start; target <= 5 s"
    print(f"results: {results.write('ui', rows, conditions, {'ready_s': ('<=', 5.0)})}")


if __name__ == "__main__":
    main()
