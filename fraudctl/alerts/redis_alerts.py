"""The alert store for several pods (``redis://host:port/db``), beside the online store.

Keys live under their own prefix (``fraudctl-alerts``), not the online store's
``fraudctl``: rebuilding the online store (``features materialize``) deletes its prefix
and must never take the queue with it.

- ``{prefix}:alert``: hash transaction id -> the alert as JSON (HSETNX: the first stays);
- ``{prefix}:by-time``: sorted set of transaction ids scored by transaction time;
- ``{prefix}:days``: hash UTC day -> alerts that day;
- ``{prefix}:decisions``: list of every decision as JSON, in the order made (a sequence
  number from ``{prefix}:decision-seq`` in each), and ``{prefix}:decided:{transaction id}``
  the same per alert (RPUSH only: append-only).
"""

from __future__ import annotations

import json

from fraudctl.alerts.records import Alert, AnalystDecision, day_of
from fraudctl.errors import ConfigError, DataError

PREFIX = "fraudctl-alerts"


class RedisAlerts:
    def __init__(self, uri: str, prefix: str = PREFIX):
        try:
            import redis
        except ImportError:  # pragma: no cover - redis comes with the serve extra
            raise ConfigError(
                "the redis alert store needs the redis package: pip install 'fraudctl[serve]'"
            ) from None
        self.client = redis.Redis.from_url(uri)
        self.prefix = prefix

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def add(self, alerts: list[Alert]) -> int:
        if not alerts:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for alert in alerts:
            pipe.hsetnx(self._key("alert"), alert.transaction_id, alert.to_json())
        new = [alert for alert, added in zip(alerts, pipe.execute(), strict=True) if added]
        pipe = self.client.pipeline(transaction=True)
        for alert in new:
            pipe.zadd(self._key("by-time"), {alert.transaction_id: alert.time_ms})
            pipe.hincrby(self._key("days"), day_of(alert.time_ms), 1)
        if new:
            pipe.execute()
        return len(new)

    def alerts(self, since_ms: int, until_ms: int) -> list[Alert]:
        ids = self.client.zrangebyscore(self._key("by-time"), since_ms, f"({until_ms}")
        if not ids:
            return []
        bodies = self.client.hmget(self._key("alert"), ids)
        alerts = [Alert.from_json(body) for body in bodies if body is not None]
        return sorted(alerts, key=lambda a: (a.time_ms, a.transaction_id))

    def alert(self, transaction_id: str) -> Alert | None:
        body = self.client.hget(self._key("alert"), transaction_id)
        return None if body is None else Alert.from_json(body)

    def days(self) -> dict[str, int]:
        counts = self.client.hgetall(self._key("days"))
        return {day.decode(): int(count) for day, count in sorted(counts.items())}

    def decide(self, decision: AnalystDecision) -> None:
        if not self.client.hexists(self._key("alert"), decision.transaction_id):
            raise DataError(f"no alert for transaction {decision.transaction_id!r}")
        seq = self.client.incr(self._key("decision-seq"))
        body = json.dumps({"seq": seq, **json.loads(decision.to_json())}, sort_keys=True)
        pipe = self.client.pipeline(transaction=True)
        pipe.rpush(self._key("decisions"), body)
        pipe.rpush(self._key(f"decided:{decision.transaction_id}"), body)
        pipe.execute()

    def decisions(self, transaction_ids: list[str] | None = None) -> list[AnalystDecision]:
        if transaction_ids is None:
            bodies = self.client.lrange(self._key("decisions"), 0, -1)
        else:
            pipe = self.client.pipeline(transaction=False)
            for tx in transaction_ids:
                pipe.lrange(self._key(f"decided:{tx}"), 0, -1)
            bodies = [body for found in pipe.execute() for body in found]
        records = sorted((json.loads(body) for body in bodies), key=lambda r: r["seq"])
        return [AnalystDecision(**{k: v for k, v in r.items() if k != "seq"}) for r in records]

    def count(self) -> int:
        return int(self.client.hlen(self._key("alert")))
