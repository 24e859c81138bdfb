"""Redis Streams behind :class:`~fraudctl.stream.transport.Transport` and the alert sink.

A consumer group on each input stream (transactions, labels) shares the messages among
consumers; a message stays pending with its consumer until acknowledged, and one whose
consumer died is taken over with XAUTOCLAIM once it has been idle long enough.

Decisions are appended and their messages acknowledged by one Lua script, which Redis
runs atomically: a set of decided transaction ids (``<decisions>:ids``) lets only the
first delivery of an id write a decision, so neither a redelivery nor a producer's retry
of the same transaction gives a second one. The alerts stream keeps its own set the same
way. Keys are named inside the scripts: one Redis server, not a cluster.
"""

from __future__ import annotations

from typing import Any

from fraudctl.errors import ConfigError
from fraudctl.stream.transport import Backlog, Message, Published, Record

# KEYS: decisions, decided ids, input stream. ARGV: group, n, then n (id, payload) pairs,
# then the entry ids to acknowledge. Returns [1 per record written (0: decided before),
# seconds, microseconds] (the server's clock).
PUBLISH = """
local n = tonumber(ARGV[2])
local new = {}
for i = 0, n - 1 do
  local tx = ARGV[3 + 2 * i]
  new[i + 1] = redis.call('SADD', KEYS[2], tx)
  if new[i + 1] == 1 then
    redis.call('XADD', KEYS[1], '*', 'transaction_id', tx, 'record', ARGV[4 + 2 * i])
  end
end
local first = 3 + 2 * n
while first <= #ARGV do
  local last = math.min(first + 499, #ARGV)
  redis.call('XACK', KEYS[3], ARGV[1], unpack(ARGV, first, last))
  first = last + 1
end
local now = redis.call('TIME')
return {new, now[1], now[2]}
"""
# KEYS: alerts stream, its ids. ARGV: (id, payload) pairs. Returns the alerts appended.
SEND_ONCE = """
local new = 0
for i = 1, #ARGV, 2 do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    redis.call('XADD', KEYS[1], '*', 'transaction_id', ARGV[i], 'record', ARGV[i + 1])
    new = new + 1
  end
end
return new
"""


def connect(uri: str, block_ms: int = 1000) -> Any:
    """A client that never retries on its own: the consumer says when Redis is away and
    retries with its own backoff, and a retried script could otherwise run twice."""
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError:  # pragma: no cover - redis comes with the serve extra
        raise ConfigError(
            "fraudctl stream needs the redis package: pip install 'fraudctl[serve]'"
        ) from None
    return redis.Redis.from_url(
        uri,
        retry=Retry(NoBackoff(), 0),
        socket_connect_timeout=2,
        socket_timeout=block_ms / 1000 + 10,
    )


def unavailable_errors() -> tuple[type[BaseException], ...]:
    import redis

    # ReadOnlyError: a replica being promoted answers writes with it for a moment.
    return (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ReadOnlyError)


class RedisStreams:
    """The consumer group ``group`` on ``inputs`` (transactions first, then labels)."""

    def __init__(
        self,
        uri: str,
        inputs: list[str],
        group: str,
        consumer: str,
        decisions: str,
        dead_letters: str,
        block_ms: int = 1000,
    ):
        self.client = connect(uri, block_ms)
        self.uri, self.inputs, self.group, self.consumer = uri, inputs, group, consumer
        self.decisions, self.dead_letters = decisions, dead_letters
        self.decided = f"{decisions}:ids"
        self.unavailable = unavailable_errors()
        self._publish = self.client.register_script(PUBLISH)
        self._cursors = dict.fromkeys(inputs, "0-0")  # XAUTOCLAIM's scan position
        self._recovering = dict.fromkeys(inputs, "0")  # own pending first, from this id

    def prepare(self) -> None:
        import redis

        for stream in self.inputs:
            try:  # from the stream's start: what was published before the group existed counts
                self.client.xgroup_create(stream, self.group, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def recover(self) -> None:
        self._recovering = dict.fromkeys(self.inputs, "0")

    def read(self, count: int, block_ms: int) -> list[Message]:
        import redis

        if self._recovering:  # own pending entries first: no blocking, they are there
            try:
                replies = self.client.xreadgroup(
                    self.group, self.consumer, dict(self._recovering), count=count
                )
            except redis.ResponseError as exc:
                self._missing_group(exc)
                return []
            messages = self._messages(replies)
            for stream in list(self._recovering):
                mine = [m for m in messages if m.stream == stream]
                if mine:
                    self._recovering[stream] = mine[-1].id
                else:
                    del self._recovering[stream]
            if messages:
                return self._with_deliveries(messages)
        try:
            replies = self.client.xreadgroup(
                self.group, self.consumer, dict.fromkeys(self.inputs, ">"), count, block_ms
            )
        except redis.ResponseError as exc:
            self._missing_group(exc)
            return []
        return self._messages(replies)

    def _missing_group(self, exc: Exception) -> None:
        """A Redis restarted without its data has no group: make it again and go on."""
        if "NOGROUP" not in str(exc):
            raise exc
        self.prepare()

    def claim(self, idle_ms: int, count: int) -> list[Message]:
        claimed: list[Message] = []
        for stream in self.inputs:
            try:
                cursor, entries, *_ = self.client.xautoclaim(
                    stream, self.group, self.consumer, idle_ms, self._cursors[stream], count
                )
            except Exception as exc:
                if "NOGROUP" in str(exc):
                    self.prepare()
                    continue
                raise
            self._cursors[stream] = _text(cursor)
            claimed += [_message(stream, entry_id, fields) for entry_id, fields in entries]
        return self._with_deliveries(claimed) if claimed else []

    def _with_deliveries(self, messages: list[Message]) -> list[Message]:
        """How many times each message has been handed out (XPENDING knows)."""
        counts: dict[tuple[str, str], int] = {}
        for stream in {m.stream for m in messages}:
            ids = [m.id for m in messages if m.stream == stream]
            first, last = min(ids, key=_order), max(ids, key=_order)
            for entry in self.client.xpending_range(
                stream, self.group, first, last, len(ids) * 2 + 10, consumername=self.consumer
            ):
                counts[stream, _text(entry["message_id"])] = int(entry["times_delivered"])
        return [
            Message(m.stream, m.id, m.fields, counts.get((m.stream, m.id), m.deliveries))
            for m in messages
        ]

    def publish(self, records: list[Record], done: list[Message]) -> Published:
        stream = done[0].stream if done else self.inputs[0]
        args: list[Any] = [self.group, len(records)]
        for record in records:
            args += [record.transaction_id, record.payload]
        args += [m.id for m in done]
        new, seconds, micros = self._publish(keys=[self.decisions, self.decided, stream], args=args)
        return Published([flag == 1 for flag in new], int(seconds) * 1000 + int(micros) / 1000)

    def acknowledge(self, done: list[Message]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for stream in {m.stream for m in done}:
            pipe.xack(stream, self.group, *[m.id for m in done if m.stream == stream])
        pipe.execute()

    def dead_letter(self, failed: list[tuple[Message, str]]) -> None:
        import orjson

        pipe = self.client.pipeline(transaction=True)  # MULTI: moved and acknowledged together
        for message, reason in failed:
            fields = {
                _text(k): v.decode("utf-8", "replace")[:10_000]
                for k, v in (message.fields or {}).items()
            }
            pipe.xadd(
                self.dead_letters,
                {
                    "stream": message.stream,
                    "id": message.id,
                    "reason": reason,
                    "fields": orjson.dumps(fields),
                    "consumer": self.consumer,
                },
            )
            pipe.xack(message.stream, self.group, message.id)
        pipe.execute()

    def backlog(self) -> dict[str, Backlog]:
        pipe = self.client.pipeline(transaction=False)
        for stream in self.inputs:
            pipe.xinfo_groups(stream)
        found = {}
        for stream, groups in zip(self.inputs, pipe.execute(raise_on_error=False), strict=True):
            mine = (
                [g for g in groups if _text(g["name"]) == self.group]
                if isinstance(groups, list)
                else []
            )
            if mine:
                lag = mine[0].get("lag")
                found[stream] = Backlog(int(mine[0]["pending"]), None if lag is None else int(lag))
        return found

    def _messages(self, replies: Any) -> list[Message]:
        return [
            _message(_text(stream), entry_id, fields)
            for stream, entries in replies or []
            for entry_id, fields in entries
        ]


class RedisStreamAlerts:
    """Alerts appended to a stream once per transaction id (``<stream>:ids``)."""

    def __init__(self, client: Any, stream: str):
        self.stream = stream
        self._send = client.register_script(SEND_ONCE)

    def send(self, alerts: list[Record]) -> int:
        if not alerts:
            return 0
        args: list[Any] = []
        for alert in alerts:
            args += [alert.transaction_id, alert.payload]
        return int(self._send(keys=[self.stream, f"{self.stream}:ids"], args=args))


class NoAlerts:
    """No alert sink configured (FRAUDCTL_STREAM_ALERTS empty)."""

    def send(self, alerts: list[Record]) -> int:
        return 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _message(stream: str, entry_id: Any, fields: Any) -> Message:
    return Message(stream, _text(entry_id), fields or None)
