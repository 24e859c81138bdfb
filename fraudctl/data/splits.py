"""Readers of the prepare stage's outputs: ``data/prepared/{train,gap,validation,test}.parquet``
(validated raw rows) and the raw schema it resolved (``reports/data.json``). The features
stage's outputs are read by :mod:`fraudctl.features.outputs`.
"""

from __future__ import annotations

import pandas as pd

from fraudctl.data.schema import Schema
from fraudctl.durations import DEFAULT_TIME_UNIT
from fraudctl.errors import ArtifactError
from fraudctl.io import read_json, read_table
from fraudctl.paths import ProjectPaths


def load_prepared(paths: ProjectPaths, split: str) -> pd.DataFrame:
    """Read one prepared (raw, validated) split; ``"gap"`` is the rows inside split gaps."""
    path = paths.gap_file if split == "gap" else paths.split_file(split)
    if not path.exists():
        raise ArtifactError(
            f"{path}: not found; run `fraudctl data` (or `dvc repro prepare`) first"
        )
    return read_table(path)


def prepared_head(paths: ProjectPaths, split: str, rows: int) -> pd.DataFrame:
    """The first rows of a prepared split, without reading a partitioned one whole."""
    path = paths.gap_file if split == "gap" else paths.split_file(split)
    if not path.is_dir():
        return load_prepared(paths, split).head(rows)
    for part in sorted(path.glob("*.parquet")):
        frame = pd.read_parquet(part)
        if len(frame):
            return frame.head(rows)
    return frame


def load_history(paths: ProjectPaths) -> pd.DataFrame:
    """Every prepared row, gap rows included: the history a model was trained with."""
    return pd.concat(
        [load_prepared(paths, split) for split in ("train", "gap", "validation", "test")],
        ignore_index=True,
    )


def load_raw_schema(paths: ProjectPaths) -> Schema:
    """The raw-column schema the prepare stage resolved."""
    if not paths.data_report.exists():
        raise ArtifactError(f"{paths.data_report}: not found; run `fraudctl data` first")
    info = read_json(paths.data_report)["schema"]
    return Schema(
        time=info["time"],
        amount=info["amount"],
        target=info["target"],
        features=tuple(info["features"]),
        group=info.get("group"),
        entities=dict(info.get("entities") or {}),
        categorical=tuple(info.get("categorical") or ()),
        analyst_label=info.get("analyst_label"),
        time_unit=info.get("time_unit", DEFAULT_TIME_UNIT),
    )
