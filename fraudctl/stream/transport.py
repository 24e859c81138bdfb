"""What the consumer needs of a message log, and of the place alerts go.

Two small interfaces, so another log is one module beside
:mod:`fraudctl.stream.redis_streams`. A Kafka transport would map them this way: ``read``
is a poll of the group's assigned partitions (its own uncommitted offsets come back first
after a restart, as Redis's pending entries do); ``claim`` returns nothing, because the
group's rebalance hands a dead member's partitions to the others; ``publish`` writes the
decisions and commits the consumed offsets in one transaction (``send_offsets_to_
transaction``), skipping ids already decided (a compacted topic or a keyed store holds
them); ``dead_letter`` produces to a dead-letter topic and commits.

Effects are applied once because every write is idempotent by transaction id and
acknowledging comes last: a message read again after a crash finds its answer remembered,
its history stored and its decision written, and only the missing steps happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Message:
    """One entry of an input stream."""

    stream: str  # the stream's name
    id: str  # its position in the stream (Redis: the entry id, "ms-seq")
    fields: dict[bytes, bytes] | None  # None: the entry was deleted before it was read
    deliveries: int = 1  # times the group has handed it out (known for claimed ones)

    @property
    def event_ms(self) -> int | None:
        """When the producer appended it (the id's time part), in the log's clock."""
        head = self.id.split("-", 1)[0]
        return int(head) if head.isdigit() else None


@dataclass(frozen=True)
class Record:
    """A decision to append: its transaction id (the idempotency key) and its bytes; an
    alert also carries its raw fields and model inputs (an alert store records them)."""

    transaction_id: str
    payload: bytes
    row: dict[str, Any] | None = field(default=None, compare=False)
    inputs: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class Published:
    new: list[bool]  # per record: appended now (False: an earlier delivery wrote it)
    log_time_ms: float  # the log's clock when they were written (for event-to-decision)


@dataclass(frozen=True)
class Backlog:
    pending: int  # delivered to a consumer of the group, not acknowledged yet
    lag: int | None  # in the stream, not delivered to the group yet (None: unknown)


class Transport(Protocol):
    """A consumer group's view of the input streams and its output streams."""

    unavailable: tuple[type[BaseException], ...]  # errors meaning "the log is away: retry"

    def prepare(self) -> None:
        """Create the group on every input stream if it is missing."""

    def recover(self) -> None:
        """After a restart or an outage: the next reads return this consumer's own pending
        messages (delivered, never acknowledged) before new ones."""

    def read(self, count: int, block_ms: int) -> list[Message]:
        """Up to ``count`` messages of each input stream, waiting up to ``block_ms``."""

    def claim(self, idle_ms: int, count: int) -> list[Message]:
        """Messages pending with any consumer for at least ``idle_ms``, now this one's."""

    def publish(self, records: list[Record], done: list[Message]) -> Published:
        """Append each record whose transaction id has no decision yet and acknowledge
        ``done``, as one atomic step."""

    def acknowledge(self, done: list[Message]) -> None: ...

    def dead_letter(self, failed: list[tuple[Message, str]]) -> None:
        """Move messages to the dead-letter stream with their reason, and acknowledge them
        (atomically per batch)."""

    def backlog(self) -> dict[str, Backlog]:
        """Pending and lag of the group, by input stream name."""


class AlertSink(Protocol):
    """Where alerts go (an analyst's queue). Idempotent by transaction id: an alert sent
    again after a crash is not queued twice."""

    def send(self, alerts: list[Record]) -> int:
        """Queue the alerts not queued yet; returns how many were new."""
