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

import contextlib
import functools
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from fraudctl.errors import ArtifactError, ConfigError
from fraudctl.features.kernel import AMOUNT_SCALE, WindowSpec, calendar_features, entity_features
from fraudctl.features.transform import FeatureTransform

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)


@dataclass
class Events:
    """One entity's stored events, oldest first, as the kernel's arrays."""

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


class OnlineStore(Protocol):
    def window(self, lookups: list[Lookup]) -> list[tuple[Events, int | None]]:
        """For each (role, entity, since, until): the entity's events with
        since < time <= until, oldest first, and, when there are none, the time of its
        latest event at or before ``since`` (for time-since-previous), else None."""

    def append(self, txs: list[Transaction]) -> None:
        """Add scored transactions, in order, in one write."""

    def label(self, tx_id: str, fraud: int) -> bool:
        """Record a label; False when no stored transaction has that id."""

    def load(self, role: str, entities: np.ndarray, columns: dict[str, np.ndarray]) -> None: ...

    def count(self) -> int: ...

    def clear(self) -> None: ...


def open_store(uri: str) -> OnlineStore:
    """Open the store and ask it one question, so an unreachable Redis, a folder where the
    SQLite file should be or a file that is not a database is one line here."""
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        if path.is_dir():
            raise ArtifactError(f"online store {uri}: {path} is a folder, not a database file")
        opener: Any = lambda: SQLiteStore(path)  # noqa: E731
    elif uri.startswith(("redis://", "rediss://", "unix://")):
        opener = lambda: RedisStore(uri)  # noqa: E731
    else:
        raise ConfigError(
            f"online store {uri!r}: expected sqlite:///path/to/file.db or redis://host:port/db"
        )
    try:
        store = opener()
        store.count()
    except Exception as exc:
        if type(exc).__module__.split(".")[0] not in {"sqlite3", "redis"}:
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ArtifactError(f"online store {uri}: {first}") from None
    return store


# --- SQLite ------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    role TEXT NOT NULL,
    entity TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    amount_fp INTEGER NOT NULL,
    labelled INTEGER NOT NULL,
    fraud INTEGER NOT NULL,
    tx TEXT
);
DROP INDEX IF EXISTS events_by_entity;
CREATE INDEX IF NOT EXISTS events_window
    ON events (role, entity, time_ms, seq, amount_fp, labelled, fraud);
CREATE INDEX IF NOT EXISTS events_by_tx ON events (tx);
"""


# Look-ups (or rows) per statement: SQLite allows 32,766 parameters and 500 SELECTs in a
# compound statement.
_UNION_LIMIT = 400


@functools.lru_cache(maxsize=64)
def _window_query(lookups: int) -> str:
    """The UNION ALL of ``lookups`` window reads (built once per size, not per request)."""
    return " UNION ALL ".join(
        f"SELECT time_ms, seq * 512 + {k}, amount_fp * 4 + labelled * 2 + fraud "
        "FROM events WHERE role = ? AND entity = ? AND time_ms > ? AND time_ms <= ?"
        for k in range(lookups)
    )


@contextlib.contextmanager
def _usable(path: Path) -> Iterator[None]:
    """A damaged store file (or one that is not SQLite at all, or a database copied without
    its -wal file) gets one message that says what to do, not SQLite's traceback."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if type(exc) is not sqlite3.DatabaseError:  # locked, constraint...: not damage
            raise
        raise ArtifactError(
            f"{path}: not a usable online store ({exc}); delete it with its -wal and -shm "
            "files, then run `fraudctl features materialize`"
        ) from None


class SQLiteStore:
    """One file; WAL mode so readers never wait for the writer; a connection per thread."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with _usable(self.path):
            self._connection().executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            # No fsync: a power cut may lose the last events (as Redis's default does); the
            # store can always be rebuilt with `features materialize`. An fsync at each
            # checkpoint made the slowest requests 3x slower.
            connection.execute("PRAGMA synchronous=OFF")
            # Read through memory maps and keep hot pages: look-ups hit random entities.
            connection.execute("PRAGMA mmap_size=1073741824")
            connection.execute("PRAGMA cache_size=-131072")
            self._local.connection = connection
        return connection

    def window(self, lookups: list[Lookup]) -> list[tuple[Events, int | None]]:
        """One statement for every look-up of a request (a UNION ALL), then, for entities
        with no event in their window only, the latest earlier event.

        The index covers every column read, so a look-up never visits the table; the rows
        go into one array at once (building a tuple per event cost more than the query).
        """
        db = self._connection()
        parts, which, seq = [], [], []
        for start in range(0, len(lookups), _UNION_LIMIT):
            chunk = lookups[start : start + _UNION_LIMIT]
            # Three integers a row, not six: each column read costs Python an object, and a
            # look-up returns about a hundred rows. Packed: (seq, look-up in the chunk) and
            # (amount, labelled, fraud); _UNION_LIMIT < 512 and labels are 0 or 1.
            # No ORDER BY: it costs SQLite a temporary B-tree; the array is sorted below.
            query = _window_query(len(chunk))
            rows = db.execute(query, [value for lookup in chunk for value in lookup]).fetchall()
            part = np.array(rows, dtype=np.int64).reshape(-1, 3)
            parts.append(part)
            which.append((part[:, 1] & 511) + start)
            seq.append(part[:, 1] >> 9)
        array, look_up, order_within = (np.concatenate(x) for x in (parts, which, seq))
        if array.shape[0] > 1:  # (look-up, time, seq): arrival order within equal times
            order = np.lexsort((order_within, array[:, 0], look_up))
            array, look_up = array[order], look_up[order]
        time_ms, amount_fp = array[:, 0], array[:, 2] >> 2
        labelled, fraud = (array[:, 2] >> 1) & 1, array[:, 2] & 1
        bounds = np.searchsorted(look_up, np.arange(len(lookups) + 1))
        out = []
        for k, (role, entity, since_ms, _) in enumerate(lookups):
            at = slice(bounds[k], bounds[k + 1])
            previous = None
            if at.start == at.stop:  # only then can the previous event lie before the window
                found = db.execute(
                    "SELECT time_ms FROM events WHERE role = ? AND entity = ? AND time_ms <= ? "
                    "ORDER BY time_ms DESC, seq DESC LIMIT 1",
                    (role, entity, since_ms),
                ).fetchone()
                previous = None if found is None else found[0]
            out.append((Events(time_ms[at], amount_fp[at], labelled[at], fraud[at]), previous))
        return out

    def append(self, txs: list[Transaction]) -> None:
        """One multi-row INSERT per chunk: a single statement is its own transaction."""
        db = self._connection()
        rows = [
            (role, entity, tx.time_ms, tx.amount_fp, tx.tx_id)
            for tx in txs
            for role, entity in tx.entities.items()
        ]
        with _transaction(db) if len(rows) > _UNION_LIMIT else contextlib.nullcontext():
            for start in range(0, len(rows), _UNION_LIMIT):
                chunk = rows[start : start + _UNION_LIMIT]
                db.execute(
                    "INSERT INTO events (role, entity, time_ms, amount_fp, labelled, fraud, tx) "
                    "VALUES " + ", ".join(["(?, ?, ?, ?, 0, 0, ?)"] * len(chunk)),
                    [value for row in chunk for value in row],
                )

    def label(self, tx_id: str, fraud: int) -> bool:
        db = self._connection()
        with _transaction(db):
            cursor = db.execute(
                "UPDATE events SET labelled = 1, fraud = ? WHERE tx = ?", (int(fraud), tx_id)
            )
        return cursor.rowcount > 0

    def load(self, role: str, entities: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        db = self._connection()
        rows = zip(
            [role] * len(entities),
            entities.tolist(),
            columns["time_ms"].tolist(),
            columns["amount_fp"].tolist(),
            columns["labelled"].tolist(),
            columns["fraud"].tolist(),
            columns["tx"].tolist(),
            strict=True,
        )
        with _usable(self.path), _transaction(db):
            db.executemany(
                "INSERT INTO events (role, entity, time_ms, amount_fp, labelled, fraud, tx) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        # Fold the bulk load into the database now, so the server does not pay for
        # checkpointing it while requests wait.
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def count(self) -> int:
        return int(self._connection().execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def clear(self) -> None:
        with _usable(self.path):
            self._connection().execute("DELETE FROM events")


class _transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: Any, *_: Any) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


# --- Redis -------------------------------------------------------------------------------

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
                known = label is not None
                rows.append((int(score), int(part[1]), int(known), int(label or 0)))
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

    def label(self, tx_id: str, fraud: int) -> bool:
        known = self.client.sismember(f"{self.prefix}:txs", tx_id)
        if known:
            self.client.hset(f"{self.prefix}:labels", tx_id, int(fraud))
        return bool(known)

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
        known = {tx: int(fraud) for tx, fraud, has_label in flags if tx and has_label}
        if known:
            pipe.hset(f"{self.prefix}:labels", mapping=known)
        ids = [tx for tx in tx_ids if tx]
        for start in range(0, len(ids), 10_000):
            pipe.sadd(f"{self.prefix}:txs", *ids[start : start + 10_000])
        pipe.execute()

    def count(self) -> int:
        return int(self.client.get(f"{self.prefix}:seq") or 0)

    def clear(self) -> None:
        keys = list(self.client.scan_iter(f"{self.prefix}:*", count=10_000))
        for start in range(0, len(keys), 10_000):
            self.client.delete(*keys[start : start + 10_000])


# --- features from the store -------------------------------------------------------------


def time_ms_of(value: Any, kind: str) -> int:
    """Epoch milliseconds exactly as the offline transform computes them."""
    if kind == "datetime":
        if not isinstance(value, datetime):
            value = datetime.fromisoformat(str(value))
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return (value - EPOCH) // ONE_MS
    return int(np.round(np.float64(value) * 1000))


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
        self.calendar = tuple(transform.calendar)

    def transaction(self, row: dict[str, Any]) -> Transaction:
        transform = self.transform
        return Transaction(
            tx_id=None if row.get("transaction_id") is None else str(row["transaction_id"]),
            time_ms=time_ms_of(row[transform.time], transform.time_kind),
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
        histories = self.store.window(lookups) if lookups else []  # type: ignore[union-attr]
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
    from fraudctl.features.transform import (
        amount_fixed_point,
        entity_keys,
        label_arrays,
    )

    if replace:
        store.clear()
    if not transform.specs:
        return 0
    order = np.argsort(transform.time_ms(history[transform.time]), kind="stable")
    history = history.iloc[order].reset_index(drop=True)
    labelled, fraud = label_arrays(history, transform.target)
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
