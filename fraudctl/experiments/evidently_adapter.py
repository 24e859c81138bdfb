"""The one place that knows Evidently's API (0.7: ``Report``, ``DataDriftPreset``, snapshots).

An Evidently upgrade that moves things around touches this file only. Importing Evidently
takes seconds, so it happens inside the function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fraudctl.io import write_with

_COLUMN = re.compile(r"ValueDrift\(column=(?P<column>[^,]+),")


@dataclass
class ColumnDrift:
    column: str
    method: str
    threshold: float
    score: float
    drifted: bool


@dataclass
class DataDrift:
    columns: list[ColumnDrift]
    drifted_count: int
    drifted_share: float


def _is_p_value(method: str) -> bool:
    """Statistical tests report p-values (drift when small); distances drift when large."""
    return "p_value" in method.lower() or "p-value" in method.lower()


def data_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    html: Path,
    json: Path,
    categorical: list[str] | None = None,
) -> DataDrift:
    """Run Evidently's data-drift preset; save its HTML and JSON; return per-column results.

    ``categorical`` columns (category codes) are compared as categories (chi-square or
    Jensen-Shannon, Evidently's choice), not as numbers.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    categorical = [c for c in categorical or [] if c in reference.columns]
    definition = DataDefinition(
        numerical_columns=[c for c in reference.columns if c not in categorical],
        categorical_columns=categorical,
    )

    def dataset(frame: pd.DataFrame) -> Any:
        frame = frame.assign(
            **{c: frame[c].astype("string").fillna("missing") for c in categorical}
        )
        return Dataset.from_pandas(frame, data_definition=definition)

    snapshot = Report([DataDriftPreset()]).run(
        current_data=dataset(current), reference_data=dataset(reference)
    )
    write_with(html, lambda tmp: _save_stable(snapshot.save_html, tmp))
    write_with(json, lambda tmp: _save_stable(snapshot.save_json, tmp))
    return parse_metrics(snapshot.dict()["metrics"])


_RANDOM_IDS = re.compile(
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|metric_[0-9a-f]{32}(?![0-9a-f])"
)


def _save_stable(save: Any, path: Path) -> None:
    """Save, then number Evidently's random widget ids in order of appearance: the same
    data gives the same file, so DVC sees no change when nothing changed."""
    save(str(path))
    text = path.read_text(encoding="utf-8")
    seen: dict[str, str] = {}

    def renumber(match: re.Match[str]) -> str:
        found = match.group(0)
        if found not in seen:
            n = len(seen) + 1
            seen[found] = (
                f"metric_{n:032x}"
                if found.startswith("metric_")
                else f"{n:08x}-0000-4000-8000-{n:012x}"
            )
        return seen[found]

    path.write_text(_RANDOM_IDS.sub(renumber, text), encoding="utf-8")


def parse_metrics(metrics: list[dict[str, Any]]) -> DataDrift:
    columns = []
    count = share = None
    for metric in metrics:
        name = metric.get("metric_name", "")
        config = metric.get("config", {})
        if name.startswith("DriftedColumnsCount"):
            count, share = int(metric["value"]["count"]), float(metric["value"]["share"])
        elif name.startswith("ValueDrift"):
            match = _COLUMN.match(name)
            column = config.get("column") or (match.group("column") if match else name)
            method = str(config.get("method", ""))
            threshold = float(config.get("threshold", 0.0))
            score = float(metric["value"])
            drifted = score < threshold if _is_p_value(method) else score >= threshold
            columns.append(ColumnDrift(column, method, threshold, score, drifted))
    if count is None:
        count = sum(c.drifted for c in columns)
        share = count / len(columns) if columns else 0.0
    return DataDrift(columns=columns, drifted_count=count, drifted_share=float(share))
