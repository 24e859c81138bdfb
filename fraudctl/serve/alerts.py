"""The analysts' queue as the service fills it: every transaction a rule or the model sends
for review or blocks becomes an alert in the alert store, written off the request path.

A request only appends (model, raw rows, input vectors, decisions) to a bounded queue; a
writer thread turns what gathered into alerts (the rule's condition, or the model's top SHAP
contributions for the model's own alerts) and adds them in one write. The store is the one
the web app's Alert queue page reads (``FRAUDCTL_ALERT_STORE``): SQLite by default, the
online store's Redis when the service uses one. Adding is idempotent by transaction id, so
a client's retry never queues twice; a request without a ``transaction_id`` gets one of
its own, so two such alerts never collide.
"""

from __future__ import annotations

import collections
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

QUEUE_ITEMS = 10_000


@dataclass(frozen=True)
class Pending:
    """Alerts of one request, as decided: raw rows, their model inputs, their decisions."""

    model: Any  # fraudctl.serve.predictor.Predictor
    rows: list[dict[str, Any]]
    inputs: np.ndarray  # (rows, features)
    decision: list[str]
    rule: list[str | None]
    probability: list[float]


class AlertWriter:
    """A bounded queue of pending alerts and the thread that queues them for analysts."""

    def __init__(self, uri: str, metrics: Any, logger: logging.Logger) -> None:
        self.uri = uri
        self.metrics = metrics
        self.logger = logger
        self._pending: collections.deque[Pending] = collections.deque()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._store: Any = None
        self._failed = False

    def submit(self, pending: Pending) -> None:
        """Queue one request's alerts; never blocks (a full queue counts them as dropped)."""
        if len(self._pending) >= QUEUE_ITEMS:
            self.metrics.alerts_dropped.inc(len(pending.rows))
            return
        self._pending.append(pending)
        self._wake.set()
        if self._closed:  # a test client without its lifespan: at once
            self.flush()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="alert-writer", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the writer and queue what is left (the app's shutdown)."""
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.flush()

    def flush(self) -> int:
        """Queue every pending alert now; returns how many were new in the store."""
        added = 0
        while self._pending:
            pending = self._pending.popleft()
            try:
                added += self._write(pending)
            except Exception as exc:  # a store away: counted, said once, the service serves on
                self.metrics.alerts_dropped.inc(len(pending.rows))
                if not self._failed:
                    self._failed = True
                    self.logger.error(f"alert store {self.uri}: {exc}")
        return added

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            self.flush()

    def _write(self, pending: Pending) -> int:
        import pandas as pd

        from fraudctl.alerts.enqueue import shap_reasons
        from fraudctl.alerts.reasons import RawColumns, alerts_from_decisions
        from fraudctl.alerts.store import open_alerts
        from fraudctl.rules.decide import Decisions

        if self._store is None:
            self._store = open_alerts(self.uri)
        fraud_model = pending.model.model
        raw = pd.DataFrame(pending.rows)
        if "transaction_id" not in raw.columns:
            raw["transaction_id"] = [f"req-{uuid.uuid4().hex}" for _ in pending.rows]
        else:
            missing = raw["transaction_id"].isna()
            raw.loc[missing, "transaction_id"] = [
                f"req-{uuid.uuid4().hex}" for _ in range(int(missing.sum()))
            ]
        decisions = Decisions(
            np.asarray(pending.decision, dtype=object),
            np.asarray(pending.rule, dtype=object),
            np.asarray(pending.probability, dtype=np.float64),
            np.zeros((len(pending.rows), 0), dtype=bool),
            [],
        )

        def explain(positions: np.ndarray) -> list[list[dict[str, Any]]]:
            return shap_reasons(fraud_model, raw, pending.inputs, positions)

        alerts = alerts_from_decisions(
            raw, decisions, RawColumns.of(fraud_model.transform), fraud_model.rules, explain
        )
        added = self._store.add(alerts)
        self.metrics.alerts_queued.inc(added)
        return added
