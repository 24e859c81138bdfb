"""The online store for several pods (``redis://host:port/db``): a sorted set per entity
(score = time, members ordered by a global sequence) and a hash of labels."""

from __future__ import annotations

from typing import Any

import numpy as np

from fraudctl.errors import ConfigError
from fraudctl.features.store import (
    DEFAULT_LABEL_SOURCE,
    LABEL_BITS,
    Events,
    Lookup,
    Transaction,
    label_rank,
)

SEQ_WIDTH = 20


class RedisStore:
    """``{prefix}:{role}:{entity}`` sorted sets of ``seq|amount_fp|tx`` members scored by
    time (equal times order by the zero-padded sequence), and a ``{prefix}:labels`` hash."""

    def __init__(self, uri: str, prefix: str = "fraudctl"):
        try:
            import redis
        except ImportError:  # pragma: no cover - redis comes with the serve extra
            raise ConfigError(
                "the redis online store needs the redis package: pip install 'fraudctl[serve]'"
            ) from None
        self.client = redis.Redis.from_url(uri)
        self.prefix = prefix

    def _key(self, role: str, entity: str) -> str:
        return f"{self.prefix}:{role}:{entity}"

    def window(self, lookups: list[Lookup]) -> list[tuple[Events, int | None]]:
        pipe = self.client.pipeline(transaction=False)
        for role, entity, since_ms, until_ms in lookups:
            key = self._key(role, entity)
            pipe.zrangebyscore(key, f"({since_ms}", until_ms, withscores=True)
            pipe.zrevrangebyscore(key, since_ms, "-inf", start=0, num=1, withscores=True)
        replies = pipe.execute()
        parsed = []
        tx_ids: list[bytes] = []
        for k in range(len(lookups)):
            members, previous = replies[2 * k], replies[2 * k + 1]
            parts = [member.split(b"|", 2) for member, _ in members]
            tx_ids += [p[2] for p in parts]
            parsed.append((members, parts, previous))
        labels = self.client.hmget(f"{self.prefix}:labels", tx_ids) if tx_ids else []
        out, offset = [], 0
        for members, parts, previous in parsed:
            rows = []
            for (_, score), part in zip(members, parts, strict=True):
                label = labels[offset] if part[2] else None
                offset += 1
                known, fraud = _bits(label)
                rows.append((int(score), int(part[1]), known, fraud))
            before = int(previous[0][1]) if previous else None
            out.append((Events.from_rows(rows), before))
        return out

    def append(self, txs: list[Transaction]) -> None:
        last = self.client.incrby(f"{self.prefix}:seq", len(txs))
        pipe = self.client.pipeline(transaction=False)
        for seq, tx in enumerate(txs, start=last - len(txs) + 1):
            member = f"{seq:0{SEQ_WIDTH}d}|{tx.amount_fp}|{tx.tx_id or ''}"
            for role, entity in tx.entities.items():
                pipe.zadd(self._key(role, entity), {member: tx.time_ms})
            if tx.tx_id:
                pipe.sadd(f"{self.prefix}:txs", tx.tx_id)
        pipe.execute()

    def label(self, tx_id: str, fraud: int, source: str = DEFAULT_LABEL_SOURCE) -> bool:
        """Each source's label in its own hash (``{prefix}:label-source:{source}``: roles
        are lower-case names, so no entity key looks like it); the labels hash the windows
        read holds every source's bit (:func:`_code`), updated under WATCH so two sources
        racing on one transaction cannot lose either's label."""
        label_rank(source)  # an unknown source is refused
        bit = LABEL_BITS[source]
        if not self.client.sismember(f"{self.prefix}:txs", tx_id):
            return False
        labels = f"{self.prefix}:labels"

        def apply(pipe: Any) -> None:
            known, frauds = _bits(pipe.hget(labels, tx_id))
            pipe.multi()
            pipe.hset(f"{self.prefix}:label-source:{source}", tx_id, int(fraud))
            pipe.hset(labels, tx_id, _code(known | bit, (frauds & (3 ^ bit)) | (bit * int(fraud))))

        self.client.transaction(apply, labels)
        return True

    def load(self, role: str, entities: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        first = self.client.incrby(f"{self.prefix}:seq", len(entities)) - len(entities) + 1
        pipe = self.client.pipeline(transaction=False)
        tx_ids = columns["tx"].tolist()
        for k, (entity, time_ms, amount, tx) in enumerate(
            zip(
                entities.tolist(),
                columns["time_ms"].tolist(),
                columns["amount_fp"].tolist(),
                tx_ids,
                strict=True,
            )
        ):
            member = f"{first + k:0{SEQ_WIDTH}d}|{amount}|{tx or ''}"
            pipe.zadd(self._key(role, entity), {member: time_ms})
            if k % 10_000 == 9_999:
                pipe.execute()
        flags = zip(tx_ids, columns["fraud"].tolist(), columns["labelled"].tolist(), strict=True)
        known = {tx: _code(has_label, fraud) for tx, fraud, has_label in flags if tx and has_label}
        if known:
            pipe.hset(f"{self.prefix}:labels", mapping=known)
        ids = [tx for tx in tx_ids if tx]
        for start in range(0, len(ids), 10_000):
            pipe.sadd(f"{self.prefix}:txs", *ids[start : start + 10_000])
        pipe.execute()

    def recall(self, tx_id: str) -> float | None:
        found = self.client.hget(f"{self.prefix}:answers", tx_id)
        return None if found is None else float(found)

    def remember(self, tx_id: str, probability: float) -> None:
        self.client.hsetnx(f"{self.prefix}:answers", tx_id, repr(probability))

    def count(self) -> int:
        return int(self.client.get(f"{self.prefix}:seq") or 0)

    def clear(self) -> None:
        keys = list(self.client.scan_iter(f"{self.prefix}:*", count=10_000))
        for start in range(0, len(keys), 10_000):
            self.client.delete(*keys[start : start + 10_000])


def _code(labelled: int, fraud: int) -> int:
    """Both sources' bits as one value of the labels hash: 4 to 15 (0 and 1 are the values
    a store written before label sources holds: a chargeback's label)."""
    return 4 * int(labelled) + int(fraud)


def _bits(value: Any) -> tuple[int, int]:
    """(labelled, fraud) bit masks of a labels-hash value (None: no label)."""
    if value is None:
        return 0, 0
    code = int(value)
    return (1, code) if code < 4 else (code >> 2, code & 3)
