"""What every experiment starts from: the prepared splits, their schema and the trained model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.data.schema import Schema
from fraudctl.experiments.results import METRICS_FILE, RESULTS_FILE
from fraudctl.features.outputs import load_schema, load_split
from fraudctl.io import write_json
from fraudctl.numbers import significant
from fraudctl.paths import ProjectPaths


@dataclass
class Workspace:
    schema: Schema
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def load_workspace(paths: ProjectPaths) -> Workspace:
    return Workspace(
        schema=load_schema(paths),
        train=load_split(paths, "train"),
        validation=load_split(paths, "validation"),
        test=load_split(paths, "test"),
    )


def sample_training_rows(
    frame: pd.DataFrame, target: str, max_rows: int, seed: int
) -> pd.DataFrame:
    """Every fraud and a random subset of legitimate rows, in their original order.

    Frauds are what the experiments are about; at 0.17 % they are cheap to keep whole.
    """
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True)
    fraud = np.flatnonzero(frame[target].to_numpy() == 1)
    legit = np.flatnonzero(frame[target].to_numpy() == 0)
    rng = np.random.default_rng(seed)
    keep = rng.choice(legit, size=max(max_rows - fraud.size, 0), replace=False)
    return frame.iloc[np.sort(np.concatenate([fraud, keep]))].reset_index(drop=True)


def write_results(directory: Path, results: dict[str, Any], headline: dict[str, Any]) -> list[Path]:
    """Every number to ``results.json`` (a plain output the reports read) and the few a
    reader compares between runs to ``metrics.json`` (the card takes one of them into
    ``reports/headline.json``, the only DVC metrics file: declaring a whole grid or
    per-feature table as metrics made 700-column tables nobody can read).

    Floats keep six significant digits, so a rerun whose statistics differ only in the
    last bits (Evidently's) writes identical files and DVC sees no change.
    """
    outputs = [directory / RESULTS_FILE, directory / METRICS_FILE]
    write_json(outputs[0], significant(results))
    write_json(outputs[1], significant(headline))
    return outputs
