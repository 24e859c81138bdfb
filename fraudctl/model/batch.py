"""A raw batch against a saved model: the contract's check of raw rows, and the columns a
scored batch gains (shared by ``fraudctl score`` on both engines and the online store's
loader).

A scored row gains ``fraud_probability``, ``fraud_decision`` (1 at or above the model's
threshold, else 0: the model alone, as before rules existed), ``decision`` (block, review or
allow: the model's rules, then its threshold) and ``rule`` (the deciding rule, null where
the model decided).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.data.validate import validate_model_input
from fraudctl.errors import DataError
from fraudctl.features.door_columns import door_columns
from fraudctl.features.transform import FeatureTransform
from fraudctl.io import read_table
from fraudctl.model.bundle import FraudModel

PROBABILITY = "fraud_probability"
DECISION = "fraud_decision"
ACTION = "decision"
RULE = "rule"
SCORED_COLUMNS = (PROBABILITY, DECISION, ACTION, RULE)


@dataclass
class ScoreResult:
    rows: int
    flagged: int  # at or above the threshold (fraud_decision = 1)
    threshold: float
    seconds: float
    output: Path
    alerts: int = 0  # decided block or review (rules, then the threshold)
    by_rule: int = 0  # rows a rule decided
    rules: int = 0  # the model's rules


@dataclass(frozen=True)
class Scored:
    """A scored batch's new columns and its counts."""

    columns: dict[str, Any]
    flagged: int
    alerts: int
    by_rule: int

    def plus(self, other: Scored) -> Scored:
        """The counts of two slices (the columns are written slice by slice, not kept)."""
        return Scored(
            {},
            self.flagged + other.flagged,
            self.alerts + other.alerts,
            self.by_rule + other.by_rule,
        )


def scored_columns(decisions: Any, threshold: float) -> Scored:
    """The columns a batch gains from its decisions (:meth:`FraudModel.decide`): typed the
    same in every file (``rule`` is text with nulls even where no rule fired, so the files
    of a partitioned output share one schema)."""
    flagged = decisions.probability >= threshold
    rule = _text(decisions.rule)
    return Scored(
        columns={
            PROBABILITY: decisions.probability,
            DECISION: flagged.astype(np.int8),
            ACTION: _text(decisions.decision),
            RULE: rule,
        },
        flagged=int(flagged.sum()),
        alerts=int(decisions.alert.sum()),
        by_rule=len(rule) - int(rule.isna().sum()),
    )


def _text(values: np.ndarray) -> Any:
    """Python strings (or None) as an Arrow-backed text column (Arrow's ``string``, as the
    files always held), converted in one C pass: the parquet writer hands it on as it is,
    where pandas' own text array was checked and converted element by element (a tenth of
    a million-row score)."""
    import pyarrow as pa

    return pd.arrays.ArrowExtensionArray(pa.chunked_array([pa.array(values, type=pa.string())]))


def check_output_names(frame: pd.DataFrame, source: str) -> None:
    """The input must not hold the columns scoring adds (``decision``, ``rule``): a scored
    file's own column would be overwritten without a word."""
    taken = [c for c in (ACTION, RULE) if c in frame.columns]
    if taken:
        raise DataError(
            f"{source}: has column(s) {', '.join(taken)}, which `fraudctl score` writes "
            "(block/review/allow and the deciding rule); rename them in the input"
        )


def read_raw(path: Path, model: FraudModel) -> pd.DataFrame:
    frame = read_table(path, shared=True)
    return check_raw(frame, model.transform, str(path), limits=model.input_limits)


def read_input(path: Path, model: FraudModel) -> pd.DataFrame:
    """The rows to score: checked against the contract and free of the output's names."""
    frame = read_raw(path, model)
    check_output_names(frame, str(path))
    return frame


def check_raw(
    frame: pd.DataFrame,
    transform: FeatureTransform,
    source: str,
    history_only: bool = False,
    limits: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Raw rows against the model's own input contract, by the one rule every door applies
    (:mod:`fraudctl.features.door_columns`); history rows need only what the feature
    kernel reads (time, ids, amount, label)."""
    if history_only:
        return validate_model_input(
            frame,
            time=transform.time,
            entities=list(transform.entities.values()),
            numeric=[],
            categorical=[],
            amount=transform.amount,
            target=transform.target,
            source=source,
        )
    door = door_columns(transform)
    missing = door.missing(frame.columns)
    if missing:
        raise DataError(f"{source}: {door.missing_message(missing)}")
    read = set(door.required)
    return validate_model_input(
        frame,
        time=transform.time if transform.time in read else None,
        entities=[c for c in transform.entities.values() if c in read],
        numeric=transform.numeric,
        categorical=list(transform.categorical),
        amount=transform.amount if transform.amount in read else None,
        target=transform.target if transform.target in door.optional else "",  # "": unread
        source=source,
        limits=limits,
    )
