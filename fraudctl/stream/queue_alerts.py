"""Alerts into the analysts' queue: the alert store the web app's Alert queue page reads,
as ``fraudctl serve`` fills it, so a transaction decided on the stream is worked like one
decided over HTTP (its reasons: the rule's condition, or the model's top SHAP
contributions). Adding is idempotent by transaction id: a redelivered alert stays one."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from fraudctl.stream.transport import AlertSink, Record


class QueueAlerts:
    """An :class:`~fraudctl.stream.transport.AlertSink` writing to an alert store."""

    def __init__(self, uri: str, model: Any) -> None:  # model: FraudModel
        from fraudctl.alerts.store import open_alerts

        self.store = open_alerts(uri)
        self.model = model

    def send(self, alerts: list[Record]) -> int:
        import pandas as pd

        from fraudctl.alerts.enqueue import shap_reasons
        from fraudctl.alerts.reasons import RawColumns, alerts_from_decisions
        from fraudctl.rules.decide import Decisions

        if not alerts:
            return 0
        decided = [orjson.loads(alert.payload) for alert in alerts]
        raw = pd.DataFrame([alert.row or {} for alert in alerts])
        raw["transaction_id"] = [alert.transaction_id for alert in alerts]
        inputs = np.vstack([alert.inputs for alert in alerts]).astype(np.float64)
        decisions = Decisions(
            np.array([d["decision"] for d in decided], dtype=object),
            np.array([d["rule"] for d in decided], dtype=object),
            np.array([d["probability"] for d in decided], dtype=np.float64),
            np.zeros((len(alerts), 0), dtype=bool),
            [],
        )
        model = self.model

        def explain(positions: np.ndarray) -> list[list[dict[str, Any]]]:
            return shap_reasons(model, raw, inputs, positions)

        queued = alerts_from_decisions(
            raw, decisions, RawColumns.of(model.transform), model.rules, explain
        )
        return self.store.add(queued)


class AlertSinks:
    """Several sinks (the alerts stream and the queue); counts as the first one does."""

    def __init__(self, sinks: list[AlertSink]) -> None:
        self.sinks = sinks

    def send(self, alerts: list[Record]) -> int:
        counts = [sink.send(alerts) for sink in self.sinks]
        return counts[0] if counts else 0
