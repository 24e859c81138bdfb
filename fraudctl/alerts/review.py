"""An analyst's decision: appended to the alert store, then sent to the online store as a
label from the ``analyst`` source (the history features see it at once; a chargeback for
the same transaction later overrides it)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fraudctl.alerts.records import AnalystDecision
from fraudctl.alerts.store import AlertStore

LABEL_SOURCE = "analyst"
LABELS = {"fraud": 1, "legitimate": 0}  # an escalation is no label


@dataclass(frozen=True)
class Recorded:
    decision: AnalystDecision
    # None: no label (an escalation, or no online store); False: the online store has no
    # transaction with that id (it was never scored through it); True: labelled
    labelled: bool | None


def record_decision(
    alerts: AlertStore,
    transaction_id: str,
    analyst: str,
    outcome: str,
    note: str = "",
    online: Any = None,  # fraudctl.features.store.OnlineStore
    at_ms: int | None = None,
) -> Recorded:
    """Append the decision (the record of what was decided, kept whatever happens next),
    then send its label. A store that is down raises after the decision is kept."""
    decision = AnalystDecision(
        transaction_id=transaction_id,
        analyst=analyst.strip(),
        outcome=outcome,
        at_ms=int(time.time() * 1000) if at_ms is None else at_ms,
        note=note.strip(),
    )
    alerts.decide(decision)
    if online is None or outcome not in LABELS:
        return Recorded(decision, None)
    return Recorded(decision, online.label(transaction_id, LABELS[outcome], source=LABEL_SOURCE))
