"""A raw batch against a saved model: the contract's check of raw rows, and the columns a
scored batch gains (shared by ``fraudctl score`` on both engines and the online store's
loader)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fraudctl.data.validate import validate_model_input
from fraudctl.features.transform import FeatureTransform
from fraudctl.io import read_table
from fraudctl.model.bundle import FraudModel

PROBABILITY = "fraud_probability"
DECISION = "fraud_decision"


@dataclass
class ScoreResult:
    rows: int
    flagged: int
    threshold: float
    seconds: float
    output: Path


def read_raw(path: Path, model: FraudModel) -> pd.DataFrame:
    frame = read_table(path, shared=True)
    return check_raw(frame, model.transform, str(path), limits=model.input_limits)


def check_raw(
    frame: pd.DataFrame,
    transform: FeatureTransform,
    source: str,
    history_only: bool = False,
    limits: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Raw rows against the model's own input contract; history rows need only what the
    feature kernel reads (time, ids, amount, label)."""
    return validate_model_input(
        frame,
        time=transform.time,
        entities=list(transform.entities.values()),
        numeric=[] if history_only else transform.numeric,
        categorical=[] if history_only else list(transform.categorical),
        amount=transform.amount,
        target=transform.target,
        source=source,
        limits=None if history_only else limits,
    )
