"""Stage ``features`` on Dask: the same transform, a few consecutive days per task.

Partition ``i`` of every split holds the rows of input file ``i`` (the prepare stage
keeps the numbering), so a day is read as its train, validation, test and gap pieces in
that order and sorted by time: the local engine's order. Outputs are
``data/features/<split>.parquet/part-NNNNN.parquet``; the features equal the local
engine's exactly (tests/distributed/test_engines.py).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from fraudctl.config import FeaturesParams
from fraudctl.data.splits import load_raw_schema
from fraudctl.distributed import history
from fraudctl.distributed.cluster import connect
from fraudctl.distributed.settings import DaskParams
from fraudctl.errors import ArtifactError
from fraudctl.features.build import (
    FeaturesResult,
    clock_notes,
    fit_transform,
    passthrough_columns,
)
from fraudctl.features.transform import FeatureTransform, category_strings
from fraudctl.io import atomic_directory, write_json
from fraudctl.paths import SPLITS, ProjectPaths
from fraudctl.progress import Progress, quiet

PIECES = (*SPLITS, "gap")  # the local engine's concatenation order


def prepared_partitions(paths: ProjectPaths) -> list[history.Partition]:
    by_split = {}
    for name in PIECES:
        directory = paths.gap_file if name == "gap" else paths.split_file(name)
        if not directory.is_dir():
            raise ArtifactError(
                f"{directory}: not a partitioned output; run `fraudctl data` with "
                "compute.engine: dask first (or build features with engine: local)"
            )
        by_split[name] = history.partitions_of(directory)
    numbers = sorted(set().union(*(found.keys() for found in by_split.values())))
    parts = []
    for number in numbers:
        present = [(by_split[name][number], name) for name in PIECES if number in by_split[name]]
        parts.append(
            history.Partition(number, tuple(f for f, _ in present), tuple(n for _, n in present))
        )
    return parts


def vocabulary_sample(file: str, columns: list[str], time: str) -> pd.DataFrame:
    """A partition's distinct categories and one time value: all ``fit`` reads (a task)."""
    frame = pd.read_parquet(file, columns=[time, *columns])
    distinct = {c: pd.Series(pd.unique(category_strings(frame[c]).dropna())) for c in columns}
    return pd.DataFrame({time: frame[time].iloc[:1], **distinct})


def build_features_partitioned(
    dask: DaskParams, settings: FeaturesParams, paths: ProjectPaths, progress: Progress = quiet
) -> FeaturesResult:
    schema = load_raw_schema(paths)
    parts = prepared_partitions(paths)
    started = time.perf_counter()
    with connect(dask) as client:
        progress(f"learning the categories of the train split ({len(parts)} partitions)")
        categorical = [c for c in schema.features if c in schema.categorical]
        train_files = list(history.partitions_of(paths.split_file("train")).values())
        samples = client.gather(
            client.map(vocabulary_sample, train_files, columns=categorical, time=schema.time)
        )
        transform = fit_transform(settings, schema, pd.concat(samples, ignore_index=True))
        progress("reading each partition's time range")
        stats = client.gather(client.map(history.partition_stats, parts, transform=transform))
        keep = [c for c in passthrough_columns(schema) if c not in transform.output_columns]

        def fetch_last_rows(part: history.Partition) -> dict[str, pd.DataFrame]:
            return client.submit(history.last_rows, part, transform=transform).result()

        progress(f"computing {len(transform.output_columns)} features, partition by partition")
        with atomic_directory(paths.features_dir) as staging:
            staging.mkdir()
            for name in SPLITS:
                (staging / f"{name}.parquet").mkdir()
            counts = history.run_bounded(
                client,
                features_task,
                history.plan(parts, stats, transform, fetch_last_rows, dask.rows_per_task),
                in_flight=2 * len(client.scheduler_info()["workers"]),
                transform=transform,
                staging=str(staging),
                keep=keep,
            )
            write_json(staging / paths.transform_file.name, transform.to_dict())
    rows = {name: sum(c.get(name, 0) for c in counts) for name in SPLITS}
    outputs = [paths.features_file(s) for s in SPLITS] + [paths.transform_file]
    return FeaturesResult(
        transform=transform,
        rows=rows,
        seconds=time.perf_counter() - started,
        outputs=outputs,
        notes=clock_notes(settings, schema, paths),
    )


def features_task(
    job: history.Job, transform: FeatureTransform, staging: str, keep: list[str]
) -> dict[str, int]:
    """The job's model inputs, written per partition and split; gap rows are history only.
    Partition 0 also writes empty pieces, so every split directory has the columns."""
    frame, earlier = history.job_inputs(job, transform)
    matrix = transform.matrix(frame, earlier)
    split_of = frame[history.TAG].to_numpy()
    number = frame[history.PART_NUMBER].to_numpy()
    counts: dict[str, int] = {}
    for part in job.parts:
        for name in SPLITS:
            mine = np.flatnonzero((split_of == name) & (number == part.index))
            if not mine.size and part.index != 0:
                continue
            columns = {c: matrix[mine, j] for j, c in enumerate(transform.output_columns)}
            columns.update({c: frame[c].to_numpy()[mine] for c in keep})
            target = Path(staging) / f"{name}.parquet" / f"part-{part.index:05d}.parquet"
            pd.DataFrame(columns, copy=False).to_parquet(target, index=False)
            counts[name] = counts.get(name, 0) + int(mine.size)
    return counts
