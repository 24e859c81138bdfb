"""One micro-batch: read messages -> checked rows -> history features -> probabilities ->
decisions -> written -> acknowledged, in that order, every write idempotent.

For a batch's transactions, in order:

1. the answers the store remembers for their ids (a redelivery, or a producer's retry, was
   already scored: its first probability stands and its features are not computed again);
2. the others' features from the online store (:class:`~fraudctl.features.online.
   OnlineFeatures`, the server's own code: stored events plus the earlier rows of the
   batch) and their probabilities from the model's scorer;
3. their answers remembered, then their events appended once per id
   (:meth:`~fraudctl.features.store.OnlineStore.append_once`);
4. alerts queued (idempotent by id), then decisions appended and the messages acknowledged
   in one atomic step that skips ids already decided.

A consumer killed between any two steps leaves its messages pending; whoever reads them
again finds the earlier steps done and does only the rest. Nothing is acknowledged before
its decision is written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from fraudctl.faults import crash_point
from fraudctl.serve.predictor import Predictor
from fraudctl.serve.telemetry import observe_all
from fraudctl.stream.decision import Decider, ModelInfo, Outcome, decider_for, record
from fraudctl.stream.messages import TransactionReader, Unreadable, read_label
from fraudctl.stream.telemetry import StreamMetrics
from fraudctl.stream.transport import AlertSink, Message, Record, Transport


@dataclass
class BatchResult:
    messages: int = 0
    transactions: int = 0
    decided: int = 0
    duplicates: int = 0
    alerts: int = 0
    labels: int = 0
    dead_letters: int = 0
    seconds: float = 0.0

    def add(self, other: BatchResult) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


class StreamConsumer:
    """Scores the batches a transport hands it with one loaded model."""

    def __init__(
        self,
        predictor: Predictor,
        transport: Transport,
        alerts: AlertSink,
        *,
        transactions: str,
        consumer: str,
        max_deliveries: int,
        metrics: StreamMetrics,
        logger: logging.Logger,
        decider: Decider | None = None,
    ):
        self.predictor, self.transport, self.alerts = predictor, transport, alerts
        self.transactions, self.consumer = transactions, consumer
        self.max_deliveries = max_deliveries
        self.metrics, self.logger = metrics, logger
        self.reader = TransactionReader(predictor.model.transform, predictor.model.input_limits)
        self.store = predictor.online.store
        self.decider = decider or decider_for(predictor.model)
        self.info = ModelInfo(predictor.name, predictor.version, predictor.threshold)

    def handle(self, messages: list[Message]) -> BatchResult:
        started = time.perf_counter()
        result = BatchResult(messages=len(messages))
        failed: list[tuple[Message, str]] = []
        transactions: list[Message] = []
        labels: list[Message] = []
        for message in messages:
            self.metrics.consumed.labels(message.stream).inc()
            if message.deliveries > self.max_deliveries:
                failed.append(
                    (
                        message,
                        f"delivered {message.deliveries} times without a decision (more than "
                        f"{self.max_deliveries}): it may stop whichever consumer reads it",
                    )
                )
            elif message.stream == self.transactions:
                transactions.append(message)
            else:
                labels.append(message)
        self._transactions(transactions, failed, result)
        self._labels(labels, failed, result)
        if failed:
            self.transport.dead_letter(failed)
            for message, _ in failed:
                self.metrics.dead_lettered.labels(message.stream).inc()
        result.dead_letters = len(failed)
        result.seconds = time.perf_counter() - started
        self.metrics.batch_seconds.observe(result.seconds)
        self.metrics.batch_size.observe(len(messages))
        return result

    def _transactions(
        self, messages: list[Message], failed: list[tuple[Message, str]], result: BatchResult
    ) -> None:
        done: list[Message] = []
        rows: list[dict[str, Any]] = []
        sources: list[Message] = []
        seen: set[str] = set()
        for message in messages:
            try:
                row = self.reader.row(message)
            except Unreadable as exc:
                failed.append((message, str(exc)))
                continue
            done.append(message)
            tx_id = str(row["transaction_id"])
            if tx_id in seen:  # twice in one batch: the first one decides
                result.duplicates += 1
                continue
            seen.add(tx_id)
            rows.append(row)
            sources.append(message)
        result.transactions = len(done)
        if not done:
            return
        ids = [str(row["transaction_id"]) for row in rows]
        records: list[Record] = []
        outcomes = []
        if rows:
            probabilities, inputs = self.scores(rows, ids)
            outcomes = self.decisions(rows, ids, inputs, probabilities)
            records = [
                Record(tx_id, record(tx_id, p, outcome, self.info, source.id, self.consumer))
                for tx_id, p, outcome, source in zip(
                    ids, probabilities.tolist(), outcomes, sources, strict=True
                )
            ]
            queued = [
                replace(records[k], row=rows[k], inputs=inputs[k])
                for k, outcome in enumerate(outcomes)
                if outcome.is_alert
            ]
            result.alerts = self.alerts.send(queued) if queued else 0
            self.metrics.alerts.inc(result.alerts)
            crash_point("stream:after-alerts")
        published = self.transport.publish(records, done)
        crash_point("stream:after-decisions")
        new = [k for k, flag in enumerate(published.new) if flag]
        result.decided = len(new)
        result.duplicates += len(records) - len(new)
        self.metrics.duplicates.inc(len(records) - len(new) + (len(done) - len(rows)))
        for k in new:
            self.metrics.decided.labels(outcomes[k].decision).inc()
        waited = [
            (published.log_time_ms - event) / 1000
            for event in (sources[k].event_ms for k in new)
            if event is not None
        ]
        observe_all(self.metrics.event_to_decision, waited)

    def probabilities(self, rows: list[dict[str, Any]], ids: list[str]) -> np.ndarray:
        """The model's probability for each row (see :meth:`scores`)."""
        return self.scores(rows, ids)[0]

    def scores(self, rows: list[dict[str, Any]], ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each row's probability and model inputs. For a model with history features, an
        id the store has answered before keeps its first answer (its inputs are NaN: its
        history now holds it), and every row's events end up in the store exactly once."""
        predictor, store = self.predictor, self.store
        if store is None:
            inputs = self._inputs(rows, None)
            return predictor.probabilities(inputs), inputs
        online = predictor.online
        txs = [online.transaction(row) for row in rows]
        known = store.recall_many(ids)
        probabilities = np.array([np.nan if p is None else p for p in known], dtype=np.float64)
        inputs = np.full((len(rows), len(predictor.features)), np.nan)
        seen = [k for k, p in enumerate(known) if p is not None]
        if seen:  # scored by a delivery that may have stopped before writing its events
            store.append_once([txs[k] for k in seen])
        fresh = [k for k, p in enumerate(known) if p is None]
        if fresh:
            inputs[fresh] = self._inputs([rows[k] for k in fresh], [txs[k] for k in fresh])
            scores = predictor.probabilities(inputs[fresh])
            probabilities[fresh] = scores
            store.remember_many([(ids[k], p) for k, p in zip(fresh, scores.tolist(), strict=True)])
            crash_point("stream:after-answers")
            store.append_once([txs[k] for k in fresh])
            crash_point("stream:after-history")
        return probabilities, inputs

    def decisions(
        self,
        rows: list[dict[str, Any]],
        ids: list[str],
        inputs: np.ndarray,
        probabilities: np.ndarray,
    ) -> list[Outcome]:
        """Each row's decision. With rules and history features, a redelivered id keeps the
        first decision the store remembered (its inputs cannot be computed again); one
        never remembered (a crash in between) is decided on its raw fields, its history
        fields unknown."""
        outcomes = self.decider(rows, inputs, probabilities)
        store = self.store
        if store is None or not self.predictor.model.rules:
            return outcomes
        for k, tx_id in enumerate(ids):
            if np.isnan(inputs[k]).all() and inputs.shape[1]:
                first = store.recall_decision(tx_id)
                if first is not None:
                    outcomes[k] = Outcome(first[0], first[1])
            else:
                store.remember_decision(tx_id, outcomes[k].decision, outcomes[k].rule)
        return outcomes

    def _inputs(self, rows: list[dict[str, Any]], txs: list[Any] | None) -> np.ndarray:
        predictor = self.predictor
        if predictor.raw_only:  # the inputs are the raw numbers (the ULB table)
            return np.array([[row[f] for f in predictor.features] for row in rows], dtype=float)
        return predictor.online.matrix(rows, txs)

    def _labels(
        self, messages: list[Message], failed: list[tuple[Message, str]], result: BatchResult
    ) -> None:
        applied = []
        for message in messages:
            try:
                tx_id, fraud = read_label(message)
            except Unreadable as exc:
                failed.append((message, str(exc)))
                continue
            if self.store is None:
                failed.append((message, "this model has no history features: labels are not used"))
            elif self.store.label(tx_id, fraud):
                applied.append(message)
            else:
                failed.append(
                    (
                        message,
                        f"transaction_id: no stored transaction has the id {tx_id[:100]!r} "
                        "(a label follows its transaction's decision)",
                    )
                )
        if applied:
            self.transport.acknowledge(applied)
            self.metrics.labels.inc(len(applied))
        result.labels = len(applied)
