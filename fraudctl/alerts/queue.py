"""The queue as an analyst sees it: each alert with its current state, and the queue's
metrics. Plain functions over alerts and decisions, so the web app, a report and the tests
compute them the same way.

- **state**: an alert's latest decision (``open`` when it has none);
- **reviewed**: settled as fraud or legitimate (an escalation is still being worked);
- **precision of reviewed alerts**: fraud among the reviewed;
- **time to decision**: from queueing to the first fraud or legitimate decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudctl.alerts.records import Alert, AnalystDecision, day_of

OPEN = "open"
SORT_KEYS = {"risk": "probability", "amount": "amount", "time": "time_ms"}


def current_state(decisions: list[AnalystDecision]) -> dict[str, AnalystDecision]:
    """Each alert's latest decision (decisions in the order made)."""
    latest: dict[str, AnalystDecision] = {}
    for decision in decisions:
        latest[decision.transaction_id] = decision
    return latest


def first_final(decisions: list[AnalystDecision]) -> dict[str, AnalystDecision]:
    found: dict[str, AnalystDecision] = {}
    for decision in decisions:
        if decision.final:
            found.setdefault(decision.transaction_id, decision)
    return found


def queue_frame(
    alerts: list[Alert], decisions: list[AnalystDecision], sort: str = "risk"
) -> pd.DataFrame:
    """One row per alert, riskiest (or largest, or oldest) first, open alerts before
    settled ones."""
    latest = current_state(decisions)
    rows = [
        {
            "transaction_id": alert.transaction_id,
            "time_ms": alert.time_ms,
            "time": pd.Timestamp(alert.time_ms, unit="ms", tz="UTC"),
            "amount": np.nan if alert.amount is None else alert.amount,
            "probability": alert.probability,
            "decision": alert.decision,
            "reason": alert.rule or "model",
            "state": latest[alert.transaction_id].outcome
            if alert.transaction_id in latest
            else OPEN,
            "analyst": latest[alert.transaction_id].analyst
            if alert.transaction_id in latest
            else "",
            **{f"{role}": entity for role, entity in alert.entities.items()},
        }
        for alert in alerts
    ]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["settled"] = frame["state"].isin(("fraud", "legitimate"))
    key = SORT_KEYS[sort]
    ascending = sort == "time"
    frame = frame.sort_values(
        ["settled", key, "transaction_id"],
        ascending=[True, ascending, True],
        na_position="last",
        kind="stable",
    )
    return frame.drop(columns="settled").reset_index(drop=True)


@dataclass(frozen=True)
class QueueMetrics:
    alerts: int
    reviewed: int
    escalated: int
    fraud: int
    per_day: pd.DataFrame  # day, alerts, reviewed, fraud
    median_minutes_to_decision: float | None
    p90_minutes_to_decision: float | None

    @property
    def share_reviewed(self) -> float | None:
        return self.reviewed / self.alerts if self.alerts else None

    @property
    def precision(self) -> float | None:
        """Fraud among the reviewed alerts: how good the alerts are, as analysts find them."""
        return self.fraud / self.reviewed if self.reviewed else None


def queue_metrics(alerts: list[Alert], decisions: list[AnalystDecision]) -> QueueMetrics:
    ids = {alert.transaction_id for alert in alerts}
    mine = [d for d in decisions if d.transaction_id in ids]
    latest = current_state(mine)
    settled = first_final(mine)
    states = {tx: d.outcome for tx, d in latest.items()}
    minutes = np.array(
        [
            (settled[a.transaction_id].at_ms - a.created_ms) / 60_000
            for a in alerts
            if a.transaction_id in settled and a.created_ms
        ]
    )
    by_day: dict[str, list[int]] = {}
    for alert in alerts:
        counts = by_day.setdefault(day_of(alert.time_ms), [0, 0, 0])
        state = states.get(alert.transaction_id, OPEN)
        counts[0] += 1
        counts[1] += state in ("fraud", "legitimate")
        counts[2] += state == "fraud"
    per_day = pd.DataFrame(
        [(day, *counts) for day, counts in sorted(by_day.items())],
        columns=["day", "alerts", "reviewed", "fraud"],
    )
    return QueueMetrics(
        alerts=len(alerts),
        reviewed=sum(state in ("fraud", "legitimate") for state in states.values()),
        escalated=sum(state == "escalate" for state in states.values()),
        fraud=sum(state == "fraud" for state in states.values()),
        per_day=per_day,
        median_minutes_to_decision=float(np.median(minutes)) if minutes.size else None,
        p90_minutes_to_decision=float(np.quantile(minutes, 0.9)) if minutes.size else None,
    )
