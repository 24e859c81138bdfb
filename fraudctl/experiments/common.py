"""What every experiment starts from: the prepared splits, their schema and the trained model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudctl.config import ProjectPaths
from fraudctl.data.schema import Schema
from fraudctl.data.splits import load_schema, load_split


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
