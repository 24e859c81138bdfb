"""Stage ``prepare``: ingest -> validate -> de-duplicate -> split -> data/prepared/*.parquet.

Nothing is written until the whole table has passed validation and been split, and each
file is renamed into place, so a bad input leaves the previous outputs untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fraudctl.config import SPLITS, Params, ProjectPaths, SplitParams
from fraudctl.data.schema import Schema
from fraudctl.data.validate import ValidationSummary, validate_table
from fraudctl.errors import ArtifactError, DataError
from fraudctl.io import read_json, read_table, write_json, write_parquet


@dataclass
class SplitSummary:
    rows: int
    frauds: int
    fraud_rate: float
    time_min: float
    time_max: float


@dataclass
class PrepareResult:
    validation: ValidationSummary
    schema: Schema
    splits: dict[str, SplitSummary]
    outputs: list[Path]


def load_source(params: Params, source: str | None = None) -> tuple[pd.DataFrame, str]:
    """The raw table and a name for it in messages: the synthetic generator or a file."""
    source = source or params.data.source
    if source == "synthetic":
        from fraudctl.data.synthetic import generate_transactions

        synthetic = params.data.synthetic
        frame = generate_transactions(
            n_rows=synthetic.n_rows,
            fraud_rate=synthetic.fraud_rate,
            days=synthetic.days,
            seed=params.base.seed,
        )
        return frame, "synthetic"
    return read_table(Path(source)), source


def split_table(
    frame: pd.DataFrame, schema: Schema, split: SplitParams, seed: int
) -> dict[str, pd.DataFrame]:
    """Train on the past, validate on the near future, test on the far future.

    ``method: random`` is an opt-in stratified shuffle, for data without a usable clock.
    """
    n = len(frame)
    if split.method == "time":
        order = np.argsort(frame[schema.time].to_numpy(), kind="stable")
    else:
        order = _stratified_permutation(frame[schema.target].to_numpy(), seed)
    ordered = frame.iloc[order].reset_index(drop=True)
    first = round(n * split.train)
    second = first + round(n * split.validation)
    parts = {
        "train": ordered.iloc[:first],
        "validation": ordered.iloc[first:second],
        "test": ordered.iloc[second:],
    }
    for name, part in parts.items():
        labels = part[schema.target]
        if part.empty or labels.nunique() < 2:
            raise DataError(
                f"the {name} split has {len(part)} rows and {int(labels.sum())} frauds; "
                "every split needs both classes: use more data or change split fractions"
            )
    return {name: part.reset_index(drop=True) for name, part in parts.items()}


def _stratified_permutation(labels: np.ndarray, seed: int) -> np.ndarray:
    """A shuffle interleaving each class evenly, so every contiguous cut keeps the fraud rate."""
    rng = np.random.default_rng(seed)
    keys = np.empty(len(labels))
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        keys[members] = (rng.permutation(len(members)) + rng.random(len(members))) / len(members)
    return np.argsort(keys, kind="stable")


def _summarise(part: pd.DataFrame, schema: Schema) -> SplitSummary:
    frauds = int(part[schema.target].sum())
    times = part[schema.time]
    return SplitSummary(
        rows=len(part),
        frauds=frauds,
        fraud_rate=frauds / len(part),
        time_min=float(times.min()),
        time_max=float(times.max()),
    )


def prepare(params: Params, paths: ProjectPaths, source: str | None = None) -> PrepareResult:
    """Run the whole stage; ``source`` overrides ``data.source`` from params."""
    raw, name = load_source(params, source)
    clean, schema, summary = validate_table(
        raw, params.data.schema_, source=name, drop_duplicates=params.data.drop_duplicates
    )
    parts = split_table(clean, schema, params.split, params.base.seed)
    splits = {name: _summarise(parts[name], schema) for name in SPLITS}

    outputs = []
    for split_name in SPLITS:
        target = paths.split_file(split_name)
        write_parquet(target, parts[split_name])
        outputs.append(target)
    report = {
        "source": summary.to_dict(),
        "schema": {
            "time": schema.time,
            "amount": schema.amount,
            "target": schema.target,
            "group": schema.group,
            "features": list(schema.features),
        },
        "split_method": params.split.method,
        "splits": {k: vars(v) for k, v in splits.items()},
    }
    write_json(paths.data_report, report)
    outputs.append(paths.data_report)
    return PrepareResult(validation=summary, schema=schema, splits=splits, outputs=outputs)


def load_split(paths: ProjectPaths, split: str) -> pd.DataFrame:
    """Read one prepared split, with a hint when the prepare stage has not run."""
    path = paths.split_file(split)
    if not path.exists():
        raise ArtifactError(
            f"{path}: not found; run `fraudctl data` (or `dvc repro prepare`) first"
        )
    return pd.read_parquet(path)


def load_schema(paths: ProjectPaths) -> Schema:
    """The schema the prepare stage resolved, so later stages use exactly the same features."""
    if not paths.data_report.exists():
        raise ArtifactError(f"{paths.data_report}: not found; run `fraudctl data` first")
    info = read_json(paths.data_report)["schema"]
    return Schema(
        time=info["time"],
        amount=info["amount"],
        target=info["target"],
        features=tuple(info["features"]),
        group=info.get("group"),
    )
