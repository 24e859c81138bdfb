"""``fraudctl features materialize`` and ``labels``: fill and update the online store with
the history a model was trained on, and with labels as they arrive."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fraudctl.errors import DataError
from fraudctl.features.online import materialize, open_store
from fraudctl.io import read_table
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet


@dataclass
class MaterializeResult:
    rows: int
    entities: int
    seconds: float


def materialize_store(
    paths: ProjectPaths,
    model_dir: Path,
    store_uri: str,
    history_path: Path | None = None,
    progress: Progress = quiet,
) -> MaterializeResult:
    from fraudctl.data.splits import load_history
    from fraudctl.model.batch import read_raw
    from fraudctl.model.bundle import load_model

    store = open_store(store_uri)  # a wrong URI is an error even when nothing is loaded
    model = load_model(model_dir)
    transform = model.transform
    if not transform.needs_history:
        progress("the model has no history features: nothing to load")
        return MaterializeResult(0, 0, 0.0)
    started = time.perf_counter()
    if history_path is not None:
        progress(f"reading {history_path}")
        history = read_raw(history_path, model)
    else:
        progress("reading the prepared splits")
        history = load_history(paths)
    progress(f"loading {len(history):,} transactions into {store_uri}")
    rows = materialize(transform, store, history)
    return MaterializeResult(rows, len(transform.specs), time.perf_counter() - started)


def record_labels(path: Path, store_uri: str) -> tuple[int, int]:
    frame = read_table(path)
    missing = [c for c in ("transaction_id", "is_fraud") if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    labels = pd.to_numeric(frame["is_fraud"], errors="coerce").to_numpy()
    wrong = np.flatnonzero(~np.isin(labels, [0, 1]))
    if wrong.size:
        raise DataError(f"{path}: column 'is_fraud': expected 0 or 1 at row {wrong[0] + 1}")
    store = open_store(store_uri)
    found = [
        store.label(str(tx), int(label))
        for tx, label in zip(frame["transaction_id"].tolist(), labels.tolist(), strict=True)
    ]
    return sum(found), len(found) - sum(found)
