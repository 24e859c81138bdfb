"""The online store's interface: what a store keeps per entity (:class:`Events`), what a
scored transaction adds (:class:`Transaction`), and the protocol each backend implements
(:mod:`~fraudctl.features.sqlite_store`, :mod:`~fraudctl.features.redis_store`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class Events:
    """One entity's stored events, oldest first, as the kernel's arrays; ``labelled`` and
    ``fraud`` are bit masks by source (bit 0 chargeback, bit 1 analyst: LABEL_BITS)."""

    time_ms: np.ndarray
    amount_fp: np.ndarray
    labelled: np.ndarray
    fraud: np.ndarray

    @classmethod
    def from_rows(cls, rows: list[tuple[int, int, int, int]]) -> Events:
        if not rows:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, empty, empty, empty)
        array = np.asarray(rows, dtype=np.int64)
        return cls(array[:, 0], array[:, 1], array[:, 2], array[:, 3])


@dataclass(frozen=True)
class Transaction:
    """What the online path needs of one raw transaction."""

    tx_id: str | None
    time_ms: int
    amount_fp: int
    entities: dict[str, str]  # role -> entity id


Lookup = tuple[str, str, int, int]  # role, entity, since_ms, until_ms

# Where a label comes from, least trusted first: an analyst's decision arrives within hours
# and is sometimes wrong; a chargeback arrives weeks later and settles it. A store keeps
# each source's label on the event, as a bit (labels loaded with the history count as
# chargebacks); the kernel reads the most trusted one known, and an analyst's label on its
# own delay where a risk feature asks for it (fraudctl.features.kernel).
LABEL_SOURCES = ("analyst", "chargeback")
DEFAULT_LABEL_SOURCE = "chargeback"
LABEL_BITS = {"chargeback": 1, "analyst": 2}


def label_rank(source: str) -> int:
    if source not in LABEL_SOURCES:
        raise ValueError(f"unknown label source {source!r}; expected one of {LABEL_SOURCES}")
    return LABEL_SOURCES.index(source)


class OnlineStore(Protocol):
    def window(
        self, lookups: list[Lookup], labelled_roles: frozenset[str] | None = None
    ) -> list[tuple[Events, int | None]]:
        """For each (role, entity, since, until): the entity's events with
        since < time <= until, oldest first, and, when there are none, the time of its
        latest event at or before ``since`` (for time-since-previous), else None.
        Labels are read only for ``labelled_roles`` (None: every role); the others' events
        come unlabelled (only risk features read labels)."""

    def append(self, txs: list[Transaction]) -> None:
        """Add scored transactions, in order, in one write."""

    def append_once(self, txs: list[Transaction]) -> int:
        """Add the transactions whose id the store does not hold yet, in order, atomically
        (two writers of one id add it once); returns how many were added. A redelivered
        transaction (a stream consumer's retry) never counts twice in a window."""

    def label(self, tx_id: str, fraud: int, source: str = DEFAULT_LABEL_SOURCE) -> bool:
        """Record a label from ``source``; the features see it unless a more trusted
        source has labelled the transaction. False when no stored transaction has that id."""

    def load(self, role: str, entities: np.ndarray, columns: dict[str, np.ndarray]) -> None: ...

    def recall(self, tx_id: str) -> float | None:
        """The probability a transaction id was first answered with, if it was scored."""

    def remember(self, tx_id: str, probability: float) -> None:
        """Keep the first answer for a transaction id (a later one does not replace it)."""

    def recall_decision(self, tx_id: str) -> tuple[str, str | None] | None:
        """The (decision, rule) a transaction id was first answered with by a model with
        rules: a replay cannot decide again (its history now holds the transaction)."""

    def remember_decision(self, tx_id: str, decision: str, rule: str | None) -> None:
        """Keep the first (decision, rule) for a transaction id."""

    def recall_many(self, tx_ids: list[str]) -> list[float | None]:
        """:meth:`recall` for many ids in one round trip."""

    def remember_many(self, answers: list[tuple[str, float]]) -> None:
        """:meth:`remember` for many ids in one round trip."""

    def count(self) -> int: ...

    def clear(self) -> None: ...
