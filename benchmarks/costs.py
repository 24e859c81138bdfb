"""The cost model of ``selection.budget`` against the clock: what each fit really takes.

    python -m benchmarks.costs [--repeats 2] [--scale 1.0] [--only lightgbm,mlp]

``selection.budget`` plans with predicted seconds (fraudctl/model/costs.py; coefficients
per family in fraudctl/model/families/, per variant in families/portfolio.py), never with
the clock, so that the same params and data choose the same model on any machine. This
measures, for every family's default block and every portfolio variant, one fold's work
(a fit on ``rows`` rows and scoring a quarter as many) on two kinds of generated table:

- ``numeric``: the ULB-shaped generator (29 numeric inputs), at two sizes;
- ``categorical``: a claims-shaped table (24 categorical inputs of 2-25 levels, 4 numbers).

Each row holds the wall and CPU seconds (the best of ``--repeats``), the registry's
prediction and their ratio. Then, per entry, the coefficients (fixed seconds, microseconds
per row and numeric input, per row and categorical input) that fit the measured wall
seconds best (non-negative least squares): the values to copy into the registry when it
is run on the reference machine (2 cores, nothing else running). On a machine other jobs
share, the wall seconds are inflated, and OpenMP threads that spin while they wait make
them several times longer: run it there with ``OMP_WAIT_POLICY=PASSIVE`` and read the CPU
seconds (one core's work; a family with 2 threads divides it by its speed-up on 2 cores).
Writes benchmarks/results/costs.json.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import results
from fraudctl.data.schema import Schema

SIZES = {"numeric": (40_000, 160_000), "categorical": (15_000, 60_000)}
TARGET = "y"


@dataclass(frozen=True)
class Table:
    kind: str
    train: pd.DataFrame
    scored: pd.DataFrame
    schema: Schema


def numeric_table(rows: int, seed: int) -> tuple[pd.DataFrame, Schema]:
    from fraudctl.data.synthetic import ULB_FEATURES, generate_transactions

    frame = generate_transactions(n_rows=rows, fraud_rate=0.01, days=2, seed=seed)
    frame = frame.rename(columns={"Class": TARGET})
    schema = Schema(time="Time", amount="Amount", target=TARGET, features=(*ULB_FEATURES, "Amount"))
    return frame, schema


def categorical_table(rows: int, seed: int) -> tuple[pd.DataFrame, Schema]:
    """Category codes as floats (the features stage's encoding), effects on ten columns."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"Time": np.arange(rows, dtype=np.float64)})
    logit = np.full(rows, -3.5)
    categorical = []
    for i in range(24):
        levels = int(rng.choice([2, 3, 4, 5, 8, 9, 12, 19, 25]))
        codes = rng.choice(levels, rows, p=rng.dirichlet(np.ones(levels) * 0.7))
        if i < 10:
            logit += rng.normal(0, 0.5, levels)[codes]
        frame[f"c{i:02d}"] = codes.astype(np.float64)
        categorical.append(f"c{i:02d}")
    numeric = []
    for i in range(4):
        frame[f"x{i}"] = rng.normal(size=rows)
        logit += 0.2 * frame[f"x{i}"]
        numeric.append(f"x{i}")
    frame[TARGET] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    schema = Schema(
        time="Time",
        amount=None,
        target=TARGET,
        features=(*categorical, *numeric),
        categorical=tuple(categorical),
    )
    return frame, schema


def tables() -> list[Table]:
    made = []
    for kind, sizes in SIZES.items():
        build = numeric_table if kind == "numeric" else categorical_table
        for rows in sizes:
            frame, schema = build(rows + rows // 4, seed=rows)
            made.append(Table(kind, frame.iloc[:rows], frame.iloc[rows:], schema))
    return made


def entries() -> dict[str, tuple[Any, Any]]:
    """name -> (model spec, cost): each family's defaults, then each portfolio variant."""
    from fraudctl.config import ModelParams
    from fraudctl.model.families import FAMILIES, model_spec
    from fraudctl.model.families.portfolio import PORTFOLIO

    base = model_spec(ModelParams())
    found = {}
    for name, entry in FAMILIES.items():
        if entry.cost is not None:
            found[name] = (base.named(name), entry.cost)
    for variant in PORTFOLIO:
        if variant.name not in found:
            spec = base.with_section(variant.family, dict(variant.settings), "portfolio")
            found[variant.name] = (spec, variant.cost or FAMILIES[variant.family].cost)
    return found


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(spec: Any, table: Table, repeats: int) -> tuple[float, float]:
    from fraudctl.model.fitting import fit, score

    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), cpu_seconds()
        estimator = fit(spec, 0, table.train, table.schema)
        score(estimator, table.scored, table.schema)
        walls.append(time.perf_counter() - wall)
        cpus.append(cpu_seconds() - cpu)
    return min(walls), min(cpus)


def fitted(rows: list[dict[str, Any]], clock: str) -> dict[str, float]:
    """fixed, per_numeric, per_categorical (microseconds) fitting one entry's rows."""
    from scipy.optimize import nnls

    design = np.array(
        [[1.0, r["rows"] * r["numeric"] * 1e-6, r["rows"] * r["categorical"] * 1e-6] for r in rows]
    )
    solution, _ = nnls(design, np.array([r[clock] for r in rows]))
    return {
        "fixed": round(float(solution[0]), 2),
        "per_numeric": round(float(solution[1]), 3),
        "per_categorical": round(float(solution[2]), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", default="", help="entries to measure, comma-separated")
    args = parser.parse_args()

    from fraudctl.model.costs import Shape

    chosen = {k: v for k, v in entries().items() if not args.only or k in args.only.split(",")}
    made = tables()
    rows: list[dict[str, Any]] = []
    print("entry | table | rows | wall_s | cpu_s | predicted_s | predicted/wall")
    for name, (spec, cost) in chosen.items():
        measured = []
        for table in made:
            wall, cpu = measure(spec, table, args.repeats)
            categorical = len(table.schema.categorical)
            shape = Shape(
                len(table.train),
                int(table.train[TARGET].sum()),
                len(table.schema.features) - categorical,
                categorical,
            )
            predicted = cost.seconds(shape, spec.section().model_dump())
            row = {
                "entry": name,
                "table": table.kind,
                "rows": shape.rows,
                "numeric": shape.numeric,
                "categorical": shape.categorical,
                "wall_s": wall,
                "cpu_s": cpu,
                "predicted_s": predicted,
                "predicted_over_wall": predicted / wall,
                # what the clock was shared with: the 1-minute load average, and whether
                # OpenMP threads spin while they wait (they do unless told PASSIVE)
                "load_average": os.getloadavg()[0],
                "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
            }
            measured.append(row)
            print(
                f"{name} | {table.kind} | {shape.rows:,} | {wall:.2f} | {cpu:.2f} | "
                f"{predicted:.2f} | {predicted / wall:.2f}",
                flush=True,
            )
        fit_wall, fit_cpu = fitted(measured, "wall_s"), fitted(measured, "cpu_s")
        print(f"{name}: fitted to wall {fit_wall}; to CPU {fit_cpu}", flush=True)
        for row in measured:
            row |= {"fitted_to_wall": fit_wall, "fitted_to_cpu": fit_cpu}
        rows += measured
        results.write(
            "costs",
            rows,
            "selection.budget's predicted seconds (the registry's cost models) against the "
            "wall and CPU seconds of one fold's fit and scoring; on the reference machine "
            "(2 cores, quiet) predicted/wall should be near 1",
        )
    print(f"results: {results.RESULTS / 'costs.json'}")


if __name__ == "__main__":
    main()
