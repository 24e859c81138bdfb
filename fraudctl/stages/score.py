"""``fraudctl score``: a raw transaction file in, scores and decisions out.

The saved model's own transform computes the history features from the input itself plus
an optional ``--history`` file of earlier transactions (with labels where known), so a
batch is scored exactly as the features stage computed training rows; the model's own
rules then decide each row (:meth:`~fraudctl.model.bundle.FraudModel.decide`). A directory
or glob of daily files is scored on the Dask engine when params.yaml says
``compute.engine: dask``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from fraudctl.config import ComputeParams
from fraudctl.errors import DataError
from fraudctl.io import TABLE_SUFFIXES, is_partitioned
from fraudctl.model.batch import Scored, ScoreResult, read_input, read_raw, scored_columns
from fraudctl.model.bundle import load_model
from fraudctl.progress import Progress, quiet
from fraudctl.table_writer import table_with_columns


def run(
    input_path: Path,
    output_path: Path,
    model_path: Path,
    history_path: Path | None = None,
    compute: ComputeParams | None = None,
    progress: Progress = quiet,
) -> ScoreResult:
    """Score a file here, or a partitioned input on the engine ``compute`` names."""
    if compute is not None and compute.engine == "dask" and is_partitioned(str(input_path)):
        from fraudctl.distributed.score import score_partitions
        from fraudctl.distributed.settings import dask_settings

        return score_partitions(
            str(input_path),
            output_path,
            model_path,
            dask_settings(compute),
            str(history_path) if history_path else None,
            progress=progress,
        )
    return score_file(input_path, output_path, model_path, history_path, progress)


def score_file(
    input_path: Path,
    output_path: Path,
    model_path: Path,
    history_path: Path | None = None,
    progress: Progress = quiet,
) -> ScoreResult:
    if not str(output_path).lower().endswith(TABLE_SUFFIXES):
        raise DataError(f"{output_path}: the output must end in {', '.join(TABLE_SUFFIXES)}")
    if str(output_path).endswith(("/", "\\")) or Path(output_path).is_dir():
        raise DataError(f"{output_path}: a folder; the output must be a file path")
    for name, given in (("input", input_path), ("history", history_path)):
        if given is not None and Path(output_path).resolve() == Path(given).resolve():
            raise DataError(
                f"{output_path}: the output would overwrite the {name} file; "
                "write the scores to another path"
            )
    progress(f"loading the model from {model_path}")
    model = load_model(model_path, lazy=True)
    started = time.perf_counter()
    progress(f"reading {input_path}")
    # The compiled kernels load while the files are read (the reader releases the GIL).
    warming = threading.Thread(target=_quietly, args=(model.warm_up,), daemon=True)
    warming.start()
    try:
        frame = read_input(input_path, model)
        history = read_raw(history_path, model) if history_path else None
    finally:
        warming.join()  # never left running once the command returns, even on bad input
    if history is not None and not model.transform.needs_history:
        history = None  # nothing to learn from it: the model has no history features
    progress(f"computing features, scoring {len(frame):,} rows and writing {output_path}")
    counts = Scored({}, 0, 0, 0)
    with table_with_columns(Path(output_path), frame) as write:  # a slice is written while
        for rows, decided in model.decision_pieces(frame, history):  # the next scores
            scored = scored_columns(decided, model.threshold)
            write(rows, scored.columns)
            counts = counts.plus(scored)
    return ScoreResult(
        rows=len(frame),
        flagged=counts.flagged,
        threshold=model.threshold,
        seconds=time.perf_counter() - started,
        output=output_path,
        alerts=counts.alerts,
        by_rule=counts.by_rule,
        rules=len(model.rules),
    )


def _quietly(job: Callable[[], None]) -> None:
    """Run a best-effort job in a thread: any real failure shows again on the main path."""
    with contextlib.suppress(Exception):
        job()
