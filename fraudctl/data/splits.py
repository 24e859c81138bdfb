"""Readers of the stages' data outputs: the prepared (raw) splits and the model inputs.

``data/prepared/{train,gap,validation,test}.parquet`` are validated raw rows;
``data/features/{train,validation,test}.parquet`` hold the transform's output columns plus
the columns metrics need (label, time, amount, group, entity ids). The schema's
``features`` are the transform's output columns, so nothing downstream of the transform
knows which columns were raw.
"""

from __future__ import annotations

import pandas as pd

from fraudctl.data.schema import Schema
from fraudctl.errors import ArtifactError
from fraudctl.features.transform import FeatureTransform
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
    )


def load_split(paths: ProjectPaths, split: str) -> pd.DataFrame:
    """One split of model inputs, with a hint when the features stage has not run."""
    path = paths.features_file(split)
    if not path.exists():
        raise ArtifactError(
            f"{path}: not found; run `fraudctl features build` (or `dvc repro features`) first"
        )
    return read_table(path)


def load_transform(paths: ProjectPaths) -> FeatureTransform:
    """The transform the features stage fitted (data/features/transform.json)."""
    if not paths.transform_file.exists():
        raise ArtifactError(
            f"{paths.transform_file}: not found; run `fraudctl features build` first"
        )
    try:
        return FeatureTransform.from_dict(read_json(paths.transform_file))
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(
            f"{paths.transform_file}: unreadable ({exc}); run `fraudctl features build` again"
        ) from None


def load_schema(paths: ProjectPaths) -> Schema:
    """The schema of the model inputs: the transform's output columns as features."""
    raw = load_raw_schema(paths)
    transform = load_transform(paths)
    return Schema(
        time=raw.time,
        amount=raw.amount,
        target=raw.target,
        features=tuple(transform.output_columns),
        group=raw.group,
        entities=raw.entities,
        categorical=tuple(transform.categorical),
    )
