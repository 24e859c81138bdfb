"""Request bodies for load tests, from real rows (kept apart from the locustfile, whose
import patches the standard library for gevent)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd


def _json_value(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value.item() if hasattr(value, "item") else value


def transactions(inputs: list[str], rows: Path, limit: int = 5_000) -> list[bytes]:
    """Request bodies built from real rows, only with the fields the model reads."""
    if not rows.exists():
        raise SystemExit(
            f"{rows}: no transactions to replay; run `make repro` or set FRAUDCTL_LOAD_ROWS"
        )
    frame = pd.read_parquet(rows) if rows.suffix == ".parquet" else pd.read_csv(rows)
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        raise SystemExit(f"{rows}: the served model needs columns {missing}, which it lacks")
    frame = frame[inputs].head(limit)
    return [
        json.dumps({k: _json_value(v) for k, v in record.items()}).encode()
        for record in frame.to_dict(orient="records")
    ]
