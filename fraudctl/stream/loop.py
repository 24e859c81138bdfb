"""The consumer's loop: claim what others left, read, handle, and ride out broker outages.

Each round claims messages idle too long with any consumer (at most every quarter of the
idle time), reads up to a batch of new ones, and hands them to
:class:`~fraudctl.stream.consumer.StreamConsumer`. When Redis stops answering, the loop
says so in one line, waits 0.1 s, 0.2 s, 0.4 s, ... (up to ``retry_max_seconds``) between
attempts, and when it answers again starts with its own pending messages: the batch cut
short is read again and finished, nothing is lost or decided twice.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field

from fraudctl.stream.consumer import BatchResult, StreamConsumer
from fraudctl.stream.telemetry import Health, StreamMetrics
from fraudctl.stream.transport import Transport

FIRST_RETRY_SECONDS = 0.1
BACKLOG_EVERY_SECONDS = 1.0


@dataclass(frozen=True)
class LoopSettings:
    batch_size: int
    block_ms: int
    claim_idle_ms: int
    retry_max_seconds: float
    exit_when_idle: float
    broker: str  # for messages only (without a password)


@dataclass
class RunSummary:
    totals: BatchResult = field(default_factory=BatchResult)
    batches: int = 0
    claimed: int = 0
    outages: int = 0
    seconds: float = 0.0


class ConsumerLoop:
    def __init__(
        self,
        consumer: StreamConsumer,
        transport: Transport,
        settings: LoopSettings,
        metrics: StreamMetrics,
        health: Health,
        logger: logging.Logger,
    ):
        self.consumer, self.transport, self.settings = consumer, transport, settings
        self.metrics, self.health, self.logger = metrics, health, logger
        self.claim_every = max(0.05, settings.claim_idle_ms / 4000)
        self._last_claim = 0.0
        self._last_backlog = 0.0

    def run(self, stop: threading.Event) -> RunSummary:
        summary = RunSummary()
        started = time.monotonic()
        idle_since = time.monotonic()
        down_since: float | None = None
        wait = FIRST_RETRY_SECONDS
        prepared = False
        while not stop.is_set():
            self.health.tick()
            try:
                if not prepared:
                    self.transport.prepare()
                    prepared = True
                handled = self._round(summary)
                if down_since is not None:
                    self._back(time.monotonic() - down_since)
                    down_since, wait = None, FIRST_RETRY_SECONDS
                self.health.ready = True
                self.metrics.broker_up.set(1)
            except self.transport.unavailable as exc:
                if down_since is None:
                    down_since = time.monotonic()
                    summary.outages += 1
                    self._away(exc)
                self.health.ready = False
                self.metrics.broker_up.set(0)
                self.transport.recover()
                stop.wait(wait)
                wait = min(wait * 2, self.settings.retry_max_seconds)
                continue
            if handled:
                idle_since = time.monotonic()
            elif (
                self.settings.exit_when_idle
                and time.monotonic() - idle_since >= self.settings.exit_when_idle
            ):
                if not self._group_pending():
                    break
                idle_since = time.monotonic()  # a batch a stopped consumer held is still due
        summary.seconds = time.monotonic() - started
        return summary

    def _group_pending(self) -> int:
        """Messages the group has read but not acknowledged, by any of its consumers: a
        consumer killed with a batch in hand leaves them for the others to claim, so a
        consumer told to stop when idle must not stop before they are claimable."""
        return sum(backlog.pending for backlog in self.transport.backlog().values())

    def _round(self, summary: RunSummary) -> int:
        handled = 0
        now = time.monotonic()
        if now - self._last_claim >= self.claim_every:
            self._last_claim = now
            claimed = self.transport.claim(self.settings.claim_idle_ms, self.settings.batch_size)
            if claimed:
                summary.claimed += len(claimed)
                self.metrics.claimed.inc(len(claimed))
                handled += self._batch(claimed, summary, claimed=len(claimed))
        messages = self.transport.read(self.settings.batch_size, self.settings.block_ms)
        if messages:
            handled += self._batch(messages, summary)
        if time.monotonic() - self._last_backlog >= BACKLOG_EVERY_SECONDS:
            self._last_backlog = time.monotonic()
            for stream, backlog in self.transport.backlog().items():
                self.metrics.pending.labels(stream).set(backlog.pending)
                if backlog.lag is not None:
                    self.metrics.lag.labels(stream).set(backlog.lag)
        return handled

    def _batch(self, messages: list, summary: RunSummary, claimed: int = 0) -> int:
        result = self.consumer.handle(messages)
        summary.totals.add(result)
        summary.batches += 1
        fields = {"event": "batch", **asdict(result), "claimed": claimed}
        fields["seconds"] = round(result.seconds, 6)
        self.logger.info(
            f"batch of {result.messages}: {result.decided} decided, {result.duplicates} "
            f"duplicate(s), {result.labels} label(s), {result.dead_letters} dead letter(s)",
            extra={"fields": fields},
        )
        return result.messages

    def _away(self, exc: BaseException) -> None:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        self.logger.warning(
            f"redis at {self.settings.broker} is not answering ({first}); retrying with "
            f"backoff up to {self.settings.retry_max_seconds:g} s",
            extra={"fields": {"event": "broker_down", "error": type(exc).__name__}},
        )

    def _back(self, seconds: float) -> None:
        self.logger.warning(
            f"redis at {self.settings.broker} answers again after {seconds:.1f} s; "
            "resuming with this consumer's pending messages",
            extra={"fields": {"event": "broker_back", "down_seconds": round(seconds, 3)}},
        )
