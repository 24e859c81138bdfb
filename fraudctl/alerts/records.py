"""What the queue holds: alerts (one per transaction a rule or the model sent for review or
blocked) and analysts' decisions on them (appended, never overwritten: the latest is the
alert's current state, the earlier ones its history)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from fraudctl.errors import ConfigError, DataError

ALERT_DECISIONS = ("block", "review")
OUTCOMES = ("fraud", "legitimate", "escalate")
# outcomes that settle an alert (and become labels); an escalation hands it on
FINAL_OUTCOMES = ("fraud", "legitimate")
MAX_NOTE = 2000
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Alert:
    transaction_id: str
    time_ms: int  # the transaction's time, epoch milliseconds UTC
    probability: float  # the model's score (a rank for a rank-average blend)
    decision: str  # block | review
    rule: str | None = None  # the deciding rule; None: the model's threshold
    amount: float | None = None
    entities: dict[str, str] = field(default_factory=dict)  # role -> id
    # why: {"feature", "value", "contribution"} rows (SHAP, largest first) or a rule's
    # {"rule", "condition"}
    reasons: list[dict[str, Any]] = field(default_factory=list)
    row: dict[str, Any] = field(default_factory=dict)  # the raw fields, JSON values
    created_ms: int = 0  # when the alert was queued

    def __post_init__(self) -> None:
        if not self.transaction_id:
            raise DataError("an alert needs a transaction_id")
        if self.decision not in ALERT_DECISIONS:
            raise DataError(
                f"alert {self.transaction_id}: decision {self.decision!r} is not an alert; "
                f"expected one of {ALERT_DECISIONS}"
            )
        if not math.isfinite(self.probability):
            raise DataError(f"alert {self.transaction_id}: probability {self.probability!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, allow_nan=False, default=str)

    @classmethod
    def from_json(cls, text: str | bytes) -> Alert:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class AnalystDecision:
    transaction_id: str
    analyst: str
    outcome: str  # fraud | legitimate | escalate
    at_ms: int
    note: str = ""

    def __post_init__(self) -> None:
        if not self.analyst.strip():
            raise DataError("a decision needs the analyst's name")
        if self.outcome not in OUTCOMES:
            raise DataError(f"outcome {self.outcome!r}: expected one of {OUTCOMES}")
        if len(self.note) > MAX_NOTE:
            raise DataError(f"the note has {len(self.note)} characters; at most {MAX_NOTE}")

    @property
    def final(self) -> bool:
        return self.outcome in FINAL_OUTCOMES

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> AnalystDecision:
        return cls(**json.loads(text))


def json_value(value: Any) -> Any:
    """A raw field as JSON: numpy scalars as Python's, timestamps as ISO text, NaN as None."""
    if value is None or type(value).__name__ in ("NaTType", "NAType"):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def day_of(time_ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(time_ms // 1000, dt.UTC).strftime("%Y-%m-%d")


def day_bounds(day: str) -> tuple[int, int]:
    """[start, end) of a UTC day in epoch milliseconds."""
    import datetime as dt

    try:
        start = dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    except ValueError:
        raise ConfigError(f"day {day!r}: expected YYYY-MM-DD") from None
    first = int(start.timestamp() * 1000)
    return first, first + DAY_MS
