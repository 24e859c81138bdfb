"""The embedded online store: one SQLite file (``sqlite:///path``), shared by the worker
processes of one pod, nothing else to run."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from fraudctl.errors import ArtifactError
from fraudctl.features.store import (
    DEFAULT_LABEL_SOURCE,
    LABEL_BITS,
    Events,
    Lookup,
    Transaction,
    label_rank,
)

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
CREATE TABLE IF NOT EXISTS answers (tx TEXT PRIMARY KEY, probability REAL NOT NULL);
CREATE TABLE IF NOT EXISTS decided (tx TEXT PRIMARY KEY, decision TEXT NOT NULL, rule TEXT);
CREATE TABLE IF NOT EXISTS labels (
    tx TEXT NOT NULL,
    source TEXT NOT NULL,
    fraud INTEGER NOT NULL,
    PRIMARY KEY (tx, source)
);
"""


# Look-ups (or rows) per statement: SQLite allows 32,766 parameters and 500 SELECTs in a
# compound statement.
_UNION_LIMIT = 400
# A multi-row insert: only placeholders are joined in; every value is a bound parameter.
_INSERT_EVENTS = (
    "INSERT INTO events (role, entity, time_ms, amount_fp, labelled, fraud, tx) VALUES "
)
_EVENT_PLACEHOLDERS = "(?, ?, ?, ?, 0, 0, ?)"


@functools.lru_cache(maxsize=64)
def _window_query(lookups: int) -> str:
    """The UNION ALL of ``lookups`` window reads (built once per size, not per request)."""
    # Only the integer k is formatted in; every value is a bound parameter (bandit's B608).
    return " UNION ALL ".join(
        f"SELECT time_ms, seq * 512 + {k}, amount_fp * 16 + labelled * 4 + fraud "  # nosec B608
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

    def window(
        self, lookups: list[Lookup], labelled_roles: frozenset[str] | None = None
    ) -> list[tuple[Events, int | None]]:
        """One statement for every look-up of a request (a UNION ALL), then, for entities
        with no event in their window only, the latest earlier event.

        The index covers every column read, so a look-up never visits the table; the rows
        go into one array at once (building a tuple per event cost more than the query).
        Labels come in the same index entries, so ``labelled_roles`` changes nothing here.
        """
        db = self._connection()
        parts, which, seq = [], [], []
        for start in range(0, len(lookups), _UNION_LIMIT):
            chunk = lookups[start : start + _UNION_LIMIT]
            # Three integers a row, not six: each column read costs Python an object, and a
            # look-up returns about a hundred rows. Packed: (seq, look-up in the chunk) and
            # (amount, labelled, fraud); _UNION_LIMIT < 512 and labels are two-bit masks.
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
        time_ms, amount_fp = array[:, 0], array[:, 2] >> 4
        labelled, fraud = (array[:, 2] >> 2) & 3, array[:, 2] & 3
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
        rows = _event_rows(txs)
        with _transaction(db) if len(rows) > _UNION_LIMIT else contextlib.nullcontext():
            _insert_events(db, rows)

    def append_once(self, txs: list[Transaction]) -> int:
        """The ids already held are looked up and the rest inserted inside one write
        transaction (BEGIN IMMEDIATE): a second writer waits, then finds them held."""
        db = self._connection()
        ids = list(dict.fromkeys(tx.tx_id for tx in txs if tx.tx_id is not None))
        with _usable(self.path), _transaction(db):
            held: set[str] = set()
            for start in range(0, len(ids), _UNION_LIMIT):
                chunk = ids[start : start + _UNION_LIMIT]
                marks = ", ".join(["?"] * len(chunk))  # the ids are bound parameters
                query = f"SELECT DISTINCT tx FROM events WHERE tx IN ({marks})"  # nosec B608
                held.update(row[0] for row in db.execute(query, chunk))
            fresh = []
            for tx in txs:
                if tx.tx_id is not None:
                    if tx.tx_id in held:
                        continue
                    held.add(tx.tx_id)
                fresh.append(tx)
            _insert_events(db, _event_rows(fresh))
        return len(fresh)

    def label(self, tx_id: str, fraud: int, source: str = DEFAULT_LABEL_SOURCE) -> bool:
        """The source's bit on every event of the transaction (a later label of the same
        source replaces it; the other source's stays), and a row in ``labels``."""
        label_rank(source)  # an unknown source is refused
        bit = LABEL_BITS[source]
        db = self._connection()
        with _transaction(db):
            found = db.execute("SELECT 1 FROM events WHERE tx = ? LIMIT 1", (tx_id,)).fetchone()
            if found is None:
                return False
            db.execute(
                "INSERT INTO labels (tx, source, fraud) VALUES (?, ?, ?) "
                "ON CONFLICT (tx, source) DO UPDATE SET fraud = excluded.fraud",
                (tx_id, source, int(fraud)),
            )
            db.execute(
                "UPDATE events SET labelled = labelled | ?, fraud = (fraud & ?) | ? WHERE tx = ?",
                (bit, 3 ^ bit, bit if fraud else 0, tx_id),
            )
        return True

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

    def recall(self, tx_id: str) -> float | None:
        found = (
            self._connection()
            .execute("SELECT probability FROM answers WHERE tx = ?", (tx_id,))
            .fetchone()
        )
        return None if found is None else float(found[0])

    def remember(self, tx_id: str, probability: float) -> None:
        with _usable(self.path):
            self._connection().execute(
                "INSERT OR IGNORE INTO answers (tx, probability) VALUES (?, ?)",
                (tx_id, probability),
            )

    def recall_decision(self, tx_id: str) -> tuple[str, str | None] | None:
        found = (
            self._connection()
            .execute("SELECT decision, rule FROM decided WHERE tx = ?", (tx_id,))
            .fetchone()
        )
        return None if found is None else (str(found[0]), found[1])

    def remember_decision(self, tx_id: str, decision: str, rule: str | None) -> None:
        with _usable(self.path):
            self._connection().execute(
                "INSERT OR IGNORE INTO decided (tx, decision, rule) VALUES (?, ?, ?)",
                (tx_id, decision, rule),
            )

    def recall_many(self, tx_ids: list[str]) -> list[float | None]:
        db = self._connection()
        found: dict[str, float] = {}
        for start in range(0, len(tx_ids), _UNION_LIMIT):
            chunk = tx_ids[start : start + _UNION_LIMIT]
            marks = ", ".join(["?"] * len(chunk))  # the ids are bound parameters
            query = f"SELECT tx, probability FROM answers WHERE tx IN ({marks})"  # nosec B608
            found.update(db.execute(query, chunk).fetchall())
        return [found.get(tx) for tx in tx_ids]

    def remember_many(self, answers: list[tuple[str, float]]) -> None:
        db = self._connection()
        with _usable(self.path), _transaction(db):
            db.executemany("INSERT OR IGNORE INTO answers (tx, probability) VALUES (?, ?)", answers)

    def count(self) -> int:
        return int(self._connection().execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def clear(self) -> None:
        with _usable(self.path):
            self._connection().execute("DELETE FROM events")
            self._connection().execute("DELETE FROM answers")
            self._connection().execute("DELETE FROM decided")
            self._connection().execute("DELETE FROM labels")


def _event_rows(txs: list[Transaction]) -> list[tuple[Any, ...]]:
    return [
        (role, entity, tx.time_ms, tx.amount_fp, tx.tx_id)
        for tx in txs
        for role, entity in tx.entities.items()
    ]


def _insert_events(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    for start in range(0, len(rows), _UNION_LIMIT):
        chunk = rows[start : start + _UNION_LIMIT]
        db.execute(
            _INSERT_EVENTS + ", ".join([_EVENT_PLACEHOLDERS] * len(chunk)),
            [value for row in chunk for value in row],
        )


class _transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: Any, *_: Any) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
