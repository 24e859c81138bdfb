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

# append_once as one script: Redis runs it atomically, so the check (SADD says whether the
# id is new) and the writes cannot be split by a crash or interleaved with another writer.
# Keys are built inside the script, as the pipeline in `append` does: one server, no
# cluster slots. ARGV: prefix, then per transaction: id, time, amount, n roles, role/entity.
APPEND_ONCE = """
local prefix = ARGV[1]
local txs = prefix .. ':txs'
local i, added = 2, 0
while i <= #ARGV do
  local tx, time, amount, roles = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  i = i + 4
  if redis.call('SADD', txs, tx) == 1 then
    local seq = redis.call('INCR', prefix .. ':seq')
    local member = string.format('%020d|%s|%s', seq, amount, tx)
    for r = 0, roles - 1 do
      local key = prefix .. ':' .. ARGV[i + 2 * r] .. ':' .. ARGV[i + 2 * r + 1]
      redis.call('ZADD', key, time, member)
    end
    added = added + 1
  end
  i = i + 2 * roles
end
return added
"""
# window in one command: for each look-up (role, entity, since, until, with labels?) the
# members in the window with their scores, the score of the latest one at or before `since`
# (false: none), and, when asked, each member's label (false: none). One round trip for a
# whole batch, and no command per look-up for the client to build.
WINDOW = """
local prefix = ARGV[1]
local labels = prefix .. ':labels'
local out = {}
for i = 2, #ARGV, 5 do
  local key = prefix .. ':' .. ARGV[i] .. ':' .. ARGV[i + 1]
  local since, till = ARGV[i + 2], ARGV[i + 3]
  local members = redis.call('ZRANGEBYSCORE', key, '(' .. since, till, 'WITHSCORES')
  local before = redis.call('ZREVRANGEBYSCORE', key, since, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
  local known = {}
  if ARGV[i + 4] == '1' then
    for j = 1, #members, 2 do
      local tx = string.match(members[j], '^[^|]*|[^|]*|(.*)$')
      known[#known + 1] = (tx ~= nil and tx ~= '') and redis.call('HGET', labels, tx) or false
    end
  end
  out[#out + 1] = members
  out[#out + 1] = before[2] or false
  out[#out + 1] = known
end
return out
"""
# remember_many in one command (a pipeline of HSETNX costs the client a command per id).
REMEMBER = """
for i = 1, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 0
"""


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
        self._append_once = self.client.register_script(APPEND_ONCE)
        self._remember = self.client.register_script(REMEMBER)
        self._window = self.client.register_script(WINDOW)

    def _key(self, role: str, entity: str) -> str:
        return f"{self.prefix}:{role}:{entity}"

    def window(
        self, lookups: list[Lookup], labelled_roles: frozenset[str] | None = None
    ) -> list[tuple[Events, int | None]]:
        if not lookups:
            return []
        args: list[str | int] = [self.prefix]
        for role, entity, since_ms, until_ms in lookups:
            wanted = labelled_roles is None or role in labelled_roles
            args += [role, entity, since_ms, until_ms, int(wanted)]
        replies = self._window(args=args)
        out = []
        for k in range(len(lookups)):
            members, before, labels = replies[3 * k : 3 * k + 3]
            labels = labels or [None] * (len(members) // 2)
            rows = []
            for j, label in zip(range(0, len(members), 2), labels, strict=True):
                known, fraud = _bits(label)  # each source's bit (None: no label)
                rows.append((int(members[j + 1]), int(members[j].split(b"|", 2)[1]), known, fraud))
            out.append((Events.from_rows(rows), None if before is None else int(before)))
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

    def append_once(self, txs: list[Transaction]) -> int:
        args: list[str | int] = [self.prefix]
        anonymous = [tx for tx in txs if not tx.tx_id]
        for tx in txs:
            if tx.tx_id:
                args += [tx.tx_id, tx.time_ms, tx.amount_fp, len(tx.entities)]
                for role, entity in tx.entities.items():
                    args += [role, entity]
        added = int(self._append_once(args=args)) if len(args) > 1 else 0
        if anonymous:  # no id to recognise a retry by: appended as they come
            self.append(anonymous)
        return added + len(anonymous)

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
        labelled = columns["labelled"].tolist()
        # A labelled row without a transaction id keeps its label under "#<seq>": labels
        # live in the hash, keyed by the id in the member (the SQLite store has a column).
        keys = [
            tx or (f"#{first + k}" if has_label else "")
            for k, (tx, has_label) in enumerate(zip(tx_ids, labelled, strict=True))
        ]
        for k, (entity, time_ms, amount, key) in enumerate(
            zip(
                entities.tolist(),
                columns["time_ms"].tolist(),
                columns["amount_fp"].tolist(),
                keys,
                strict=True,
            )
        ):
            member = f"{first + k:0{SEQ_WIDTH}d}|{amount}|{key}"
            pipe.zadd(self._key(role, entity), {member: time_ms})
            if k % 10_000 == 9_999:
                pipe.execute()
        flags = zip(keys, columns["fraud"].tolist(), labelled, strict=True)
        known = {
            key: _code(has_label, fraud) for key, fraud, has_label in flags if key and has_label
        }
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

    def recall_decision(self, tx_id: str) -> tuple[str, str | None] | None:
        found = self.client.hget(f"{self.prefix}:decided", tx_id)
        if found is None:
            return None
        decision, _, rule = (found.decode() if isinstance(found, bytes) else found).partition(
            _DECIDED_SEPARATOR
        )
        return decision, rule or None

    def remember_decision(self, tx_id: str, decision: str, rule: str | None) -> None:
        value = f"{decision}{_DECIDED_SEPARATOR}{rule or ''}"
        self.client.hsetnx(f"{self.prefix}:decided", tx_id, value)

    def recall_many(self, tx_ids: list[str]) -> list[float | None]:
        if not tx_ids:
            return []
        found = self.client.hmget(f"{self.prefix}:answers", tx_ids)
        return [None if value is None else float(value) for value in found]

    def remember_many(self, answers: list[tuple[str, float]]) -> None:
        if answers:
            args = [value for tx_id, p in answers for value in (tx_id, repr(p))]
            self._remember(keys=[f"{self.prefix}:answers"], args=args)

    def count(self) -> int:
        return int(self.client.get(f"{self.prefix}:seq") or 0)

    def clear(self) -> None:
        keys = list(self.client.scan_iter(f"{self.prefix}:*", count=10_000))
        for start in range(0, len(keys), 10_000):
            self.client.delete(*keys[start : start + 10_000])


_DECIDED_SEPARATOR = "\x1f"  # a rule's name is a word: it never holds the unit separator


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
