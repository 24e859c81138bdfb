"""Batch scoring benchmark: the compiled forest beside lleaves on the same model, and the
whole `fraudctl score` command on a million-row parquet file.

    make bench-batch
    python -m benchmarks.batch [--model models/model] [--rows 1000000] [--threads 2]
                               [--repeats 5] [--lleaves-python .venv-lleaves/bin/python]

1. In process, on one (rows x inputs) float64 matrix computed by the model's own transform
   from generated ULB-shaped rows: ``FraudModel.probabilities`` (the scorer every door
   uses, here the compiled forest) against lleaves 1.3.0 (LLVM-compiled trees, in its own
   virtualenv: ``make bench-batch`` builds it) and LightGBM's ``Booster.predict``, each on
   ``--threads`` threads. The forest and lleaves alternate run by run (A/B), best of
   ``--repeats``; LightGBM runs once. Target: the forest >= 4x lleaves.
2. ``fraudctl score in.parquet -o out.parquet`` as a subprocess on a ``--rows`` parquet
   file of the same rows: wall time of the whole command (start-up, reading, checks,
   scoring, writing) and its CPU time, best and median of ``--repeats``. Target >= 400,000
   rows/s.

Prints a table and writes benchmarks/results/batch.json (the machine's load average is in
the rows: on a shared machine the numbers move with it). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.results import write

if TYPE_CHECKING:
    import pandas as pd

    from fraudctl.model.bundle import FraudModel

REPO = Path(__file__).resolve().parents[1]
LLEAVES_PYTHON = REPO / ".venv-lleaves" / "bin" / "python"
TARGETS = "compiled forest >= 4x lleaves (in process); fraudctl score >= 400,000 rows/s"

# Runs in lleaves' virtualenv: compile once, then time one predict per line on stdin.
LLEAVES_CHILD = """
import json, sys, time
import numpy as np
import lleaves
model_file, matrix_file, cache, threads, expected_file = sys.argv[1:6]
model = lleaves.Model(model_file=model_file)
model.compile(cache=cache)
matrix = np.load(matrix_file)
scores = model.predict(matrix, n_jobs=int(threads))
gap = float(np.max(np.abs(scores - np.load(expected_file))))
from importlib.metadata import version
print(json.dumps({"version": version("lleaves"), "max_abs_difference": gap}), flush=True)
for _ in sys.stdin:
    started = time.perf_counter()
    model.predict(matrix, n_jobs=int(threads))
    print(time.perf_counter() - started, flush=True)
"""


def _load(model_dir: Path) -> FraudModel:
    from fraudctl.model.bundle import load_model

    model = load_model(model_dir, lazy=True)
    if model.transform.needs_history:
        raise SystemExit("a model with history features: use python -m benchmarks.transactions")
    return model


def raw_rows(rows: int) -> pd.DataFrame:
    from fraudctl.data.synthetic import generate_transactions

    return generate_transactions(n_rows=rows, seed=7).drop(columns="Class")


def in_process(
    model: FraudModel, matrix: np.ndarray, args: argparse.Namespace, scratch: Path
) -> list[dict[str, Any]]:
    """The forest and lleaves alternated, then LightGBM once: rows for the result file."""
    from fraudctl.model.bundle import LIGHTGBM_FILE

    text_model = model.payload / LIGHTGBM_FILE
    expected = model.probabilities(matrix, threads=args.threads)  # also warms the kernel
    np.save(scratch / "matrix.npy", matrix)
    np.save(scratch / "expected.npy", expected)
    child = subprocess.Popen(
        [
            str(args.lleaves_python),
            "-c",
            LLEAVES_CHILD,
            str(text_model),
            str(scratch / "matrix.npy"),
            str(scratch / "lleaves.so"),
            str(args.threads),
            str(scratch / "expected.npy"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    lleaves = json.loads(child.stdout.readline())
    forest_s, lleaves_s = [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        model.probabilities(matrix, threads=args.threads)
        forest_s.append(time.perf_counter() - started)
        child.stdin.write("go\n")
        child.stdin.flush()
        lleaves_s.append(float(child.stdout.readline()))
    child.stdin.close()
    child.wait()

    import lightgbm

    booster = lightgbm.Booster(model_file=str(text_model))
    started = time.perf_counter()
    booster.predict(matrix, num_threads=args.threads)
    lightgbm_s = [time.perf_counter() - started]

    rows, trees = len(matrix), booster.num_trees()
    return [
        _row(
            f"compiled forest, {trees} trees (FraudModel.probabilities)",
            rows,
            args.threads,
            forest_s,
            vs_lleaves=min(lleaves_s) / min(forest_s),
        ),
        _row(
            f"lleaves {lleaves['version']}",
            rows,
            args.threads,
            lleaves_s,
            vs_lleaves=1.0,
            max_abs_difference=lleaves["max_abs_difference"],
        ),
        _row(
            f"LightGBM {lightgbm.__version__} Booster.predict",
            rows,
            args.threads,
            lightgbm_s,
            vs_lleaves=min(lleaves_s) / min(lightgbm_s),
        ),
    ]


def _row(
    case: str,
    rows: int,
    threads: int | None,
    seconds: list[float],
    vs_lleaves: float | None = None,
    cpu_seconds: float | None = None,
    max_abs_difference: float | None = None,
) -> dict[str, Any]:
    """One result row; every row has the same columns (the results page takes them from
    the first)."""
    return {
        "case": case,
        "rows": rows,
        "threads": threads,
        "rows_per_s": rows / min(seconds),
        "median_rows_per_s": rows / statistics.median(seconds),
        "vs_lleaves": vs_lleaves,
        "best_seconds": min(seconds),
        "cpu_seconds": cpu_seconds,
        "runs": len(seconds),
        "max_abs_difference": max_abs_difference,
    }


def whole_command(
    model_dir: Path, frame: pd.DataFrame, args: argparse.Namespace, scratch: Path
) -> dict[str, Any]:
    """`fraudctl score` on the rows as a parquet file: wall and CPU time of the process."""
    source = scratch / "in.parquet"
    frame.to_parquet(source, index=False)
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    command = ["fraudctl", "score", str(source), "-o", str(scratch / "out.parquet")]
    command += ["--model", str(model_dir)]
    subprocess.run(command, env=env, cwd=scratch, check=True, capture_output=True)  # warm-up
    walls, cpus = [], []
    for _ in range(args.repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, env=env, cwd=scratch, check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return _row(
        "fraudctl score, whole command (parquet in and out)",
        len(frame),
        None,
        walls,
        cpu_seconds=min(cpus),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=REPO / "models" / "model")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lleaves-python", type=Path, default=LLEAVES_PYTHON)
    args = parser.parse_args()
    if not (args.model / "MLmodel").exists():
        raise SystemExit(f"{args.model}: no model; run `make repro` first")
    if not args.lleaves_python.exists():
        raise SystemExit(f"{args.lleaves_python}: no lleaves; run `make bench-batch`")
    model = _load(args.model)
    frame = raw_rows(args.rows)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fraudctl-batch-") as scratch:
        rows = in_process(model, model.inputs(frame), args, Path(scratch))
        rows.append(whole_command(args.model.resolve(), frame, args, Path(scratch)))
    load = f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    for row in rows:
        row["load_average_1min"] = load
    print(f"{'case':<52} {'rows/s':>11} {'median':>11}  ratio")
    for row in rows:
        ratio = f"{row['vs_lleaves']:.2f}x lleaves" if row["vs_lleaves"] else ""
        print(
            f"{row['case']:<52} {row['rows_per_s']:>11,.0f} "
            f"{row['median_rows_per_s']:>11,.0f}  {ratio}"
        )
    print(f"targets: {TARGETS}; load average {load} on {os.cpu_count()} cores")
    print(f"written to {write('batch', rows, TARGETS)}")


if __name__ == "__main__":
    main()
