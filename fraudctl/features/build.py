"""The features stage's work: prepared raw splits -> model inputs, point-in-time correct.

The transform is fitted on the train split (categorical vocabularies) and applied once to
every prepared row in time order, gap rows included: a validation row's history is
everything before it, as it would be in production. Gap rows are history only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fraudctl.config import FeaturesParams
from fraudctl.data.schema import Schema
from fraudctl.data.splits import load_prepared, load_raw_schema
from fraudctl.features.transform import FeatureTransform
from fraudctl.io import atomic_directory, read_json, write_json
from fraudctl.paths import SPLITS, ProjectPaths
from fraudctl.progress import Progress, quiet

SPLIT_COLUMN = "__split"


@dataclass
class FeaturesResult:
    transform: FeatureTransform
    rows: dict[str, int]
    seconds: float
    outputs: list[Path]
    notes: list[str] = field(default_factory=list)  # facts a user should know, not errors


def level_notes(train: pd.DataFrame, transform: FeatureTransform) -> list[str]:
    from fraudctl.features.transform import MAX_CATEGORY_LEVELS, capped_levels

    return [
        f"categorical column {column!r} has {levels:,} levels in the train split: the "
        f"{MAX_CATEGORY_LEVELS:,} most frequent are kept, the rest score as unknown (is it "
        "an id? then declare it in data.schema.entities or exclude it)"
        for column, levels in capped_levels(train, transform).items()
    ]


def fit_transform(
    settings: FeaturesParams, schema: Schema, train: pd.DataFrame
) -> FeatureTransform:
    return FeatureTransform.fit(
        train,
        time=schema.time,
        target=schema.target,
        amount=schema.amount,
        features=list(schema.features),
        categorical=list(schema.categorical),
        entities=schema.entities,
        params=settings,
        analyst=schema.analyst_label,
        time_unit=schema.time_unit,
    )


def clock_notes(settings: FeaturesParams, schema: Schema, paths: ProjectPaths) -> list[str]:
    """The features' side of the clock check (:mod:`fraudctl.data.clock`): a numeric clock
    shorter than the shortest window (every window would hold the whole log), or than a
    day with calendar features (they would not vary). Its span is read from the prepare
    stage's report, so both engines say the same."""
    import math

    from fraudctl.data.clock import DAY, clock_note
    from fraudctl.durations import clock_seconds, parse_duration

    splits = read_json(paths.data_report)["splits"].values()
    bounds = [split[key] for split in splits for key in ("time_min", "time_max")]
    if not all(isinstance(b, int | float) for b in bounds):
        return []  # a datetime clock carries its own unit
    bounds = [b for b in bounds if not math.isnan(b)]
    if not bounds:
        return []
    windows = [
        (parse_duration(window), f"features.entities.{role}.{kind}: {window}")
        for role, entity in settings.entities.items()
        for kind, listed in (
            ("windows", entity.windows),
            ("risk.windows", entity.risk.windows if entity.risk else []),
        )
        for window in listed
    ]
    measures = {}
    if windows:
        length, where = min(windows)
        measures[f"the shortest feature window ({where})"] = length
    if settings.calendar:
        measures["one day (features.calendar)"] = DAY
    first, last = clock_seconds([min(bounds), max(bounds)], schema.time_unit)
    if not measures or last - first >= max(measures.values()):
        return []  # a clock too long for its unit is prepare's note
    return [clock_note(schema.time, float(last - first), schema.time_unit, measures) or ""]


def passthrough_columns(schema: Schema) -> list[str]:
    """Raw columns kept beside the model inputs: what metrics and experiments need."""
    columns = [schema.target, schema.time, *schema.entities.values()]
    columns += [c for c in (schema.amount, schema.group) if c]
    return list(dict.fromkeys(columns))


def check_fits_in_memory(settings: FeaturesParams, paths: ProjectPaths, schema: Schema) -> None:
    """Every prepared row and its feature matrix are in memory at once on this engine."""
    from fraudctl.capacity import FEATURES_COPIES, require_memory
    from fraudctl.features.transform import window_specs

    report = read_json(paths.data_report)
    rows = sum(split["rows"] for split in report["splits"].values()) + report["gap_rows"]
    outputs = len(schema.features) + len(settings.calendar)
    outputs += sum(len(spec.names()) for spec in window_specs(settings))
    require_memory(rows * (report["source"]["columns"] + outputs), FEATURES_COPIES, "features")


def build_features(
    settings: FeaturesParams, paths: ProjectPaths, progress: Progress = quiet
) -> FeaturesResult:
    """The stage in this process (:mod:`fraudctl.stages.features` chooses the engine)."""
    schema = load_raw_schema(paths)
    check_fits_in_memory(settings, paths, schema)
    progress("loading the prepared splits")
    parts = {name: load_prepared(paths, name) for name in (*SPLITS, "gap")}
    transform = fit_transform(settings, schema, parts["train"])
    notes = clock_notes(settings, schema, paths) + level_notes(parts["train"], transform)

    progress(f"computing {len(transform.output_columns)} features")
    started = time.perf_counter()
    tagged = pd.concat(
        [part.assign(**{SPLIT_COLUMN: name}) for name, part in parts.items()], ignore_index=True
    )
    del parts
    order = np.argsort(tagged[schema.time].to_numpy(), kind="stable")
    tagged = tagged.take(order).reset_index(drop=True)
    features = transform.matrix(tagged)  # (rows x features), a view of one array
    seconds = time.perf_counter() - started

    keep = [c for c in passthrough_columns(schema) if c not in transform.output_columns]
    split_of = tagged[SPLIT_COLUMN].to_numpy()
    rows = {}
    progress("writing data/features")
    # One split at a time, straight from column slices: the whole table is never copied.
    with atomic_directory(paths.features_dir) as staging:
        staging.mkdir()
        for name in SPLITS:
            mine = np.flatnonzero(split_of == name)
            columns = {c: features[mine, j] for j, c in enumerate(transform.output_columns)}
            columns.update({c: tagged[c].to_numpy()[mine] for c in keep})
            pd.DataFrame(columns, copy=False).to_parquet(staging / f"{name}.parquet", index=False)
            rows[name] = len(mine)
            del columns
        write_json(staging / paths.transform_file.name, transform.to_dict())
    outputs = [paths.features_file(s) for s in SPLITS] + [paths.transform_file]
    return FeaturesResult(
        transform=transform, rows=rows, seconds=seconds, outputs=outputs, notes=notes
    )
