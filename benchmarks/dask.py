"""compute.engine: dask against engine: local on generated day-partitioned logs.

    python -m benchmarks.dask [--rows 5000000,10000000,20000000] [--local-rows 5000000]
                              [--workers 2] [--memory 2GiB] [--keep DIR]

For each size, writes a synthetic transaction log one day per parquet file (about
100,000 rows a day, generated a week at a time: never whole in memory), then runs
prepare, features, train and score (the whole log) with a local Dask cluster, and prints
per stage: seconds, rows/s, the peak RSS of each worker and of the client process. With
``--local-rows`` the same stages run on ``engine: local`` at that size for comparison
(rows/s, peak RSS) and the two engines' validation PR-AUC are compared.

Targets (issue: Dask): peak RSS per worker <= 2 GiB and independent of the row count;
rows/s per stage for both engines at 5 M rows. Writes benchmarks/results/dask.json;
nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import results as result_files

REPO = Path(__file__).resolve().parents[1]
ROWS_PER_CUSTOMER_DAY = 1.65  # the generator's mean daily rate (uniform 0.3 .. 3.0)


class PeakMemory:
    """Peak RSS of this process and of each child process (Dask's workers), sampled."""

    def __init__(self, every: float = 0.2) -> None:
        import psutil

        self.me = psutil.Process()
        self.every = every
        self.client = 0
        self.children: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.client = max(self.client, self.me.memory_info().rss)
                for child in self.me.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        rss = child.memory_info().rss
                        self.children[child.pid] = max(self.children.get(child.pid, 0), rss)
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def workers(self) -> list[int]:
        """The largest child processes (workers; nannies and the scheduler are small)."""
        return sorted(self.children.values(), reverse=True)


def gib(n: int) -> str:
    return f"{n / 2**30:.2f}"


@contextlib.contextmanager
def measured(name: str, rows: int, results: list[dict[str, Any]]) -> Iterator[None]:
    with PeakMemory() as memory:
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
    workers = memory.workers()
    results.append(
        {
            "stage": name,
            "rows": rows,
            "seconds": seconds,
            "rows_per_s": rows / seconds,
            "client_gib": memory.client,
            "workers_gib": workers,
        }
    )
    shown = ", ".join(gib(w) for w in workers[:4]) or "-"
    print(
        f"  {name:<9} {seconds:8.1f} s {rows / seconds:12,.0f} rows/s   "
        f"client {gib(memory.client)} GiB   largest children {shown} GiB",
        flush=True,
    )


def run(
    root: Path, log: Path, rows: int, compute: dict[str, Any], results: list[dict[str, Any]]
) -> float:
    """prepare -> features -> train -> score; returns the validation PR-AUC."""
    import yaml

    from fraudctl.config import parse_params
    from fraudctl.paths import ProjectPaths
    from fraudctl.stages import features, prepare, train
    from fraudctl.stages.project import check_params

    raw = yaml.safe_load((REPO / "examples/transactions/params.yaml").read_text())
    raw["data"]["source"] = str(log)
    raw["compute"] = {**raw.get("compute", {}), **compute}  # engine and its block
    raw["selection"] = {"folds": 0, "budget": None}  # the dask engine selects on the hold-out split
    raw["split"]["gap"] = "2d"  # (7d in the example) leaves validation rows in short logs
    raw["emissions"] = {"enabled": False}
    raw["tracking"] = {
        **raw.get("tracking", {}),
        "uri": f"sqlite:///{root / 'mlflow.db'}",
        "artifact_location": str(root / "mlruns"),
    }
    params = check_params(parse_params(raw))
    paths = ProjectPaths(root)
    with contextlib.chdir(root):
        with measured("prepare", rows, results):
            prepare.run(params, paths)
        with measured("features", rows, results):
            features.run(params, paths)
        with measured("train", rows, results):
            result = train.run(params, paths)
        with measured("score", rows, results):
            score(params, paths, log, root)
    return result.validation["pr_auc"]


def score(params: Any, paths: Any, log: Path, root: Path) -> None:
    from fraudctl.stages.score import run as score_run

    dask = params.compute.engine == "dask"
    output = root / "scored" if dask else root / "scored.parquet"
    score_run(log, output, paths.model_dir, compute=params.compute)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", default="5000000,10000000,20000000")
    parser.add_argument("--local-rows", type=int, default=5_000_000)
    parser.add_argument("--rows-per-day", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory", default="2GiB")
    parser.add_argument("--keep", type=Path, help="keep the logs and projects here")
    args = parser.parse_args()

    from fraudctl.data.synthetic_transactions import write_partitioned_log

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    customers = round(args.rows_per_day / ROWS_PER_CUSTOMER_DAY)
    compute = {
        "engine": "dask",
        "dask": {
            "scheduler": "local-cluster",
            "workers": args.workers,
            "memory_per_worker": args.memory,
        },
    }
    sizes = [int(n) for n in args.rows.split(",") if n]
    results: dict[str, list[dict[str, Any]]] = {}
    pr_auc: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        base = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        base.mkdir(parents=True, exist_ok=True)
        for rows in sorted(set(sizes + ([args.local_rows] if args.local_rows else []))):
            days = max(1, round(rows / args.rows_per_day))
            log = base / f"log-{rows}"
            if not log.exists():
                started = time.perf_counter()
                written = write_partitioned_log(
                    log, days=days, n_customers=customers, n_terminals=2 * customers
                )
                print(
                    f"log: {written:,} rows in {days} daily files "
                    f"({time.perf_counter() - started:.0f} s to generate)",
                    flush=True,
                )
            else:
                written = rows
            engines = []
            if rows in sizes:
                engines.append(("dask", compute))
            if rows == args.local_rows:
                engines.append(("local", {"engine": "local"}))
            for engine, settings in engines:
                label = f"{engine} {rows:,}"
                print(f"{label}: {args.workers if engine == 'dask' else 1} process(es)", flush=True)
                project = base / f"project-{engine}-{rows}"
                project.mkdir(exist_ok=True)
                results[label] = []
                try:
                    pr_auc[label] = run(project, log, written, settings, results[label])
                except Exception as exc:  # e.g. the local engine's "switch engines" error
                    print(f"  failed: {exc}", flush=True)
    print("\nvalidation PR-AUC:", {k: round(v, 4) for k, v in pr_auc.items()})
    print("\npeak RSS of the largest worker per stage (GiB):")
    for label, stages in results.items():
        if label.startswith("dask"):
            row = {s["stage"]: gib(max(s["workers_gib"], default=0)) for s in stages}
            print(f"  {label}: {row}")
    conditions = (
        f"about {args.rows_per_day:,} rows a day, one parquet file per day; the example's "
        f"features; {args.workers} local workers of {args.memory}; compute.rows_per_task "
        "500000; a 2-day split gap; targets: a worker's peak <= 2 GiB and flat in the row count"
    )
    records = [
        {
            "engine": label.split()[0],
            "rows": stage["rows"],
            "stage": stage["stage"],
            "seconds": stage["seconds"],
            "rows_per_s": stage["rows_per_s"],
            "client_mib": stage["client_gib"] / 2**20,
            # the local engine has no workers: its stages run in the client process
            "worker_mib": (max(stage["workers_gib"], default=0) / 2**20)
            if label.startswith("dask")
            else None,
            "val_pr_auc": pr_auc.get(label) if stage["stage"] == "train" else None,
        }
        for label, stages in results.items()
        for stage in stages
    ]
    print(f"results: {result_files.write('dask', records, conditions)}")


if __name__ == "__main__":
    main()
