"""``fraudctl score`` on Dask: a directory (or glob) of daily parquet files in, one scored
file per input file out, written by the workers in parallel.

Each file is scored with the days before it as history (and ``--history`` files before
those), exactly as :mod:`fraudctl.distributed.features` computes training rows, so a
worker holds one day plus its history window whatever the input's length. Every file is
validated first: a bad file stops the command before anything is written, and the
output directory appears only once every partition is scored.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import pandas as pd

from fraudctl.distributed import history
from fraudctl.distributed.cluster import connect
from fraudctl.distributed.settings import DaskParams
from fraudctl.errors import DataError
from fraudctl.features.transform import FeatureTransform
from fraudctl.io import TABLE_SUFFIXES, atomic_directory, partition_files
from fraudctl.model.batch import ScoreResult, check_output_names, check_raw, scored_columns
from fraudctl.model.bundle import FraudModel, load_model
from fraudctl.progress import Progress, quiet


def score_partitions(
    source: str,
    output: Path,
    model_path: Path,
    compute: DaskParams,
    history_source: str | None = None,
    progress: Progress = quiet,
) -> ScoreResult:
    if str(output).lower().endswith(TABLE_SUFFIXES):
        raise DataError(
            f"{output}: a partitioned input is scored into a directory (one file per input "
            "file); give a directory name without a file suffix"
        )
    model = load_model(model_path, lazy=True)
    transform = model.transform
    earlier = partition_files(history_source) if history_source else []
    files = partition_files(source)
    names = [f.name for f in files]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(
            f"{source}: several input files are named {repeated[0]}; outputs are named after inputs"
        )
    parts = [
        history.Partition(i, (str(f),), ("",), output=False) for i, f in enumerate(earlier)
    ] + [history.Partition(len(earlier) + i, (str(f),), ("",)) for i, f in enumerate(files)]
    started = time.perf_counter()
    model_dir = str(Path(model_path).resolve())
    with connect(compute) as client:
        progress(f"validating {len(parts)} partitions")
        clean = functools.partial(_clean, transform=transform)
        clean_history = functools.partial(_clean, transform=transform, history_only=True)
        stats = client.gather(
            [
                client.submit(
                    history.partition_stats,
                    part,
                    transform=transform,
                    clean=clean if part.output else clean_history,
                    pure=False,
                )
                for part in parts
            ]
        )
        history.check_time_order(parts, stats)

        def fetch_last_rows(part: history.Partition) -> dict[str, pd.DataFrame]:
            return client.submit(
                history.last_rows, part, transform=transform, clean_history=clean_history
            ).result()

        rows = sum(s.rows for p, s in zip(parts, stats, strict=True) if p.output)
        progress(f"scoring {rows:,} rows")
        with atomic_directory(output) as staging:
            staging.mkdir()
            counts = history.run_bounded(
                client,
                score_task,
                history.plan(parts, stats, transform, fetch_last_rows, compute.rows_per_task),
                in_flight=2 * len(client.scheduler_info()["workers"]),
                model_dir=model_dir,
                staging=str(staging),
                clean=clean,
                clean_history=clean_history,
            )
    return ScoreResult(
        rows=sum(count[0] for count in counts),
        flagged=sum(count[1] for count in counts),
        threshold=model.threshold,
        seconds=time.perf_counter() - started,
        output=output,
        alerts=sum(count[2] for count in counts),
        by_rule=sum(count[3] for count in counts),
        rules=len(model.rules),
    )


def _clean(
    frame: pd.DataFrame, file: str, transform: FeatureTransform, history_only: bool = False
) -> pd.DataFrame:
    checked = check_raw(frame, transform, file, history_only)
    if not history_only:
        check_output_names(checked, file)
    return checked


@functools.lru_cache(maxsize=2)
def _model(model_dir: str) -> FraudModel:
    """One loaded model per worker process, reused by every partition it scores."""
    return load_model(Path(model_dir), lazy=True)


def score_task(
    job: history.Job,
    model_dir: str,
    staging: str,
    clean: history.Clean,
    clean_history: history.Clean,
) -> tuple[int, int, int, int]:
    """Score the job's partitions (the model's rules deciding, as in one process) and write
    each under its input file's name: (rows, flagged, alerts, decided by a rule)."""
    model = _model(model_dir)
    frame, earlier = history.job_inputs(job, model.transform, clean, clean_history)
    number = frame[history.PART_NUMBER].to_numpy()
    raw = frame.drop(columns=[history.TAG, history.PART_NUMBER])
    scored = scored_columns(model.decide(raw, earlier), model.threshold)
    out = raw.assign(**scored.columns)
    for part in job.parts:
        mine = out[number == part.index]
        mine.to_parquet(Path(staging) / Path(part.files[0]).name, index=False)
    return len(out), scored.flagged, scored.alerts, scored.by_rule
