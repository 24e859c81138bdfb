"""Online history features: an event store keyed by entity, and the same kernel as offline.

For each entity kind (customer, terminal, ...) the store keeps that entity's transactions
(time, fixed-point amount, label when known) in arrival order. Scoring a transaction reads
the events inside the longest window, appends the transaction itself, and runs
:func:`fraudctl.features.kernel.entity_features` on those few rows: the very function the
offline stage runs over the whole table, so the numbers are identical (the skew test
replays a log through this path and compares with the features stage to 1e-9).

Two stores behind one interface:

- :class:`SQLiteStore` (``sqlite:///path``), the embedded default: one file, shared by the
  worker processes of one pod, nothing else to run.
- :class:`RedisStore` (``redis://host:port/db``), for several pods (GKE): a sorted set per
  entity (score = time, members ordered by a global sequence) and a hash of labels.

Why not Feast: Feast's online store serves feature *values* materialised ahead of time;
exact sliding windows that include the transaction being scored need the raw events at
request time, which Feast would only hold as opaque blobs (see ARCHITECTURE.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from fraudctl.durations import DEFAULT_TIME_UNIT, clock_seconds
from fraudctl.errors import ConfigError
from fraudctl.features.kernel import AMOUNT_SCALE, WindowSpec, calendar_features, entity_features
from fraudctl.features.redis_store import RedisStore
from fraudctl.features.sqlite_store import SQLiteStore
from fraudctl.features.store import Events, Lookup, OnlineStore, Transaction
from fraudctl.features.transform import FeatureTransform
from fraudctl.store_uri import open_uri

__all__ = [
    "Events",
    "OnlineFeatures",
    "OnlineStore",
    "RedisStore",
    "SQLiteStore",
    "Transaction",
    "materialize",
    "open_store",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)


def open_store(uri: str) -> OnlineStore:
    """Open the store and ask it one question, so an unreachable Redis, a folder where the
    SQLite file should be or a file that is not a database is one line here."""
    return open_uri("online store", uri, SQLiteStore, RedisStore, "path/to/file.db")


# --- features from the store -------------------------------------------------------------


def time_ms_of(value: Any, kind: str, unit: str = DEFAULT_TIME_UNIT) -> int:
    """Epoch milliseconds exactly as the offline transform computes them (a numeric clock
    through its unit: the store keeps and compares milliseconds whatever the unit)."""
    if kind == "datetime":
        if not isinstance(value, datetime):
            value = datetime.fromisoformat(str(value))
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return (value - EPOCH) // ONE_MS
    return int(np.round(clock_seconds(np.float64(value), unit) * 1000))


def amount_fp_of(value: float) -> int:
    return int(np.round(np.float64(value) * AMOUNT_SCALE))


class OnlineFeatures:
    """The transform's output for one raw transaction, history from an online store."""

    def __init__(self, transform: FeatureTransform, store: OnlineStore | None):
        if transform.needs_history and store is None:
            raise ConfigError("this model has history features: it needs an online store")
        self.transform = transform
        self.store = store
        self.columns = transform.output_columns
        self.position = {name: j for j, name in enumerate(self.columns)}
        self.vocabulary = {
            column: {value: float(code) for code, value in enumerate(values)}
            for column, values in transform.categorical.items()
        }
        self.horizon_ms = max((spec.horizon_ms for spec in transform.specs), default=0)
        self.first_column = [self.position[spec.names()[0]] for spec in transform.specs]
        # only risk features read labels: a store need not fetch them for other roles
        self.labelled_roles = frozenset(s.role for s in transform.specs if s.risk_windows_ms)
        self.calendar = tuple(transform.calendar)

    def transaction(self, row: dict[str, Any]) -> Transaction:
        transform = self.transform
        return Transaction(
            tx_id=None if row.get("transaction_id") is None else str(row["transaction_id"]),
            time_ms=time_ms_of(row[transform.time], transform.time_kind, transform.time_unit),
            amount_fp=amount_fp_of(row[transform.amount]) if transform.amount else 0,
            entities={
                spec.role: str(row[transform.entities[spec.role]]) for spec in transform.specs
            },
        )

    def vector(self, row: dict[str, Any], tx: Transaction | None = None) -> np.ndarray:
        """Model inputs for one validated raw transaction, history from the store."""
        return self.matrix([row], None if tx is None else [tx])[0]

    def matrix(
        self, rows: list[dict[str, Any]], txs: list[Transaction] | None = None
    ) -> np.ndarray:
        """Model inputs for raw transactions in arrival order: each row's history holds the
        stored events and the rows before it. One store look-up per distinct entity."""
        out = np.empty((len(rows), len(self.columns)))
        position = self.position
        for column in self.transform.numeric:
            out[:, position[column]] = [float(row[column]) for row in rows]
        for column, lookup in self.vocabulary.items():
            out[:, position[column]] = [
                lookup.get(str(row[column]), np.nan) if row.get(column) is not None else np.nan
                for row in rows
            ]
        if not self.transform.needs_time:
            return out
        txs = txs or [self.transaction(row) for row in rows]
        times = np.fromiter((tx.time_ms for tx in txs), dtype=np.int64, count=len(txs))
        plans = [self._plan(spec, txs) for spec in self.transform.specs]
        lookups = [lookup for _, lookup_list in plans for lookup in lookup_list]
        histories = (
            self.store.window(lookups, self.labelled_roles)  # type: ignore[union-attr]
            if lookups
            else []
        )
        at = 0
        for spec, first, (rows_of, lookup_list) in zip(
            self.transform.specs, self.first_column, plans, strict=True
        ):
            mine = histories[at : at + len(lookup_list)]
            at += len(lookup_list)
            self._entity_block(spec, txs, rows_of, mine, out, first)
        for name, values in calendar_features(times, self.calendar).items():
            out[:, position[name]] = values
        return out

    def _plan(
        self, spec: WindowSpec, txs: list[Transaction]
    ) -> tuple[dict[str, list[int]], list[Lookup]]:
        """The rows of each entity in the request, and the store look-up each one needs."""
        rows_of: dict[str, list[int]] = {}
        for k, tx in enumerate(txs):
            rows_of.setdefault(tx.entities[spec.role], []).append(k)
        lookups = [
            (
                spec.role,
                entity,
                min(txs[k].time_ms for k in members) - self.horizon_ms,
                max(txs[k].time_ms for k in members),
            )
            for entity, members in rows_of.items()
        ]
        return rows_of, lookups

    def _entity_block(
        self,
        spec: WindowSpec,
        txs: list[Transaction],
        rows_of: dict[str, list[int]],
        histories: list[tuple[Events, int | None]],
        out: np.ndarray,
        first: int,
    ) -> None:
        """The kernel over every involved entity's stored events plus the new rows, written
        into columns ``first...`` of the request's rows in ``out``."""
        new_times = [tx.time_ms for tx in txs]
        sizes = [
            (previous is not None) + events.time_ms.size + len(members)
            for (events, previous), members in zip(histories, rows_of.values(), strict=True)
        ]
        total = sum(sizes)
        code = np.empty(total, np.int64)
        time_ms = np.empty(total, np.int64)
        amount = np.zeros(total, np.int64)
        labelled = np.zeros(total, np.int64)
        fraud = np.zeros(total, np.int64)
        row = np.full(total, -1, np.int64)
        at = 0
        for entity_code, ((events, previous), members, size) in enumerate(
            zip(histories, rows_of.values(), sizes, strict=True)
        ):
            code[at : at + size] = entity_code
            if previous is not None:  # outside every window: only its time matters
                time_ms[at] = previous
                at += 1
            stored = events.time_ms.size
            time_ms[at : at + stored] = events.time_ms
            amount[at : at + stored] = events.amount_fp
            labelled[at : at + stored] = events.labelled
            fraud[at : at + stored] = events.fraud
            at += stored
            for k in members:  # after the stored events: arrival order
                time_ms[at] = new_times[k]
                amount[at] = txs[k].amount_fp
                row[at] = k
                at += 1
        same = code[1:] == code[:-1]
        if not np.all(~same | (time_ms[1:] >= time_ms[:-1])):  # a batch out of time order
            order = np.lexsort((np.arange(total), time_ms, code))
            code, time_ms, amount = code[order], time_ms[order], amount[order]
            labelled, fraud, row = labelled[order], fraud[order], row[order]
        entity_features(
            spec, code, time_ms, amount, labelled, fraud, rows=row, out=out, first=first
        )

    def record(self, txs: list[Transaction]) -> None:
        """Add scored transactions to the history, in one write."""
        txs = [tx for tx in txs if tx.entities]
        if self.store is not None and txs:
            self.store.append(txs)


def materialize(
    transform: FeatureTransform, store: OnlineStore, history: Any, replace: bool = True
) -> int:
    """Load a history table (raw rows, labels where known) into the store, oldest first."""
    from fraudctl.features.labels import source_labels
    from fraudctl.features.transform import amount_fixed_point, entity_keys

    if replace:
        store.clear()
    if not transform.specs:
        return 0
    order = np.argsort(transform.time_ms(history[transform.time]), kind="stable")
    history = history.iloc[order].reset_index(drop=True)
    labelled, fraud = source_labels(history, transform.target, transform.analyst)
    columns = {
        "time_ms": transform.time_ms(history[transform.time]),
        "amount_fp": amount_fixed_point(history[transform.amount].to_numpy(dtype=np.float64))
        if transform.amount
        else np.zeros(len(history), dtype=np.int64),
        "labelled": labelled,
        "fraud": fraud,
        "tx": (
            entity_keys(history["transaction_id"]).to_numpy()
            if "transaction_id" in history.columns
            else np.full(len(history), None, dtype=object)
        ),
    }
    for spec in transform.specs:
        ids = entity_keys(history[transform.entities[spec.role]]).to_numpy()
        store.load(spec.role, ids, columns)
    return len(history)
