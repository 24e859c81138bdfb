"""Readers of the features stage's outputs: the model inputs and the fitted transform.

``data/features/{train,validation,test}.parquet`` hold the transform's output columns plus
the columns metrics need (label, time, amount, group, entity ids). The schema's
``features`` are the transform's output columns, so nothing downstream of the transform
knows which columns were raw.
"""

from __future__ import annotations

import pandas as pd

from fraudctl.data.schema import Schema
from fraudctl.data.splits import load_raw_schema
from fraudctl.errors import ArtifactError
from fraudctl.features.transform import FeatureTransform
from fraudctl.io import read_json, read_table
from fraudctl.paths import ProjectPaths


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
        time_unit=raw.time_unit,
    )


def raw_rows_of(paths: ProjectPaths, split: str, features: pd.DataFrame, time: str) -> pd.DataFrame:
    """The prepared (raw) rows of a split, row for row with its features file: rules read
    raw fields as they arrived (a category as text, an id as its value). The features
    stage writes each split's rows stably sorted by time, so the same sort aligns them, and
    the time column both files keep checks it."""
    import numpy as np

    from fraudctl.data.splits import load_prepared

    raw = load_prepared(paths, split)
    raw = raw.take(np.argsort(raw[time].to_numpy(), kind="stable")).reset_index(drop=True)
    aligned = len(raw) == len(features) and (
        time not in features.columns
        or np.array_equal(raw[time].to_numpy(), features[time].to_numpy())
    )
    if not aligned:
        raise ArtifactError(
            f"{paths.split_file(split)}: its rows are not those of {paths.features_file(split)}"
            " (the prepared data changed after the features were built); run "
            "`fraudctl features build` (or `dvc repro`) first"
        )
    return raw
