"""The embedded alert store (``sqlite:///path``): one file, WAL mode, a connection per
thread. Decisions are append-only in the database itself: triggers refuse an UPDATE or a
DELETE, whoever sends it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from fraudctl.alerts.records import OUTCOMES, Alert, AnalystDecision, day_of
from fraudctl.errors import ArtifactError, DataError

_OUTCOMES = ", ".join(f"'{outcome}'" for outcome in OUTCOMES)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS alerts (
    transaction_id TEXT PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    day TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (time_ms);
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id TEXT NOT NULL,
    analyst TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ({_OUTCOMES})),
    at_ms INTEGER NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_alert ON decisions (transaction_id, seq);
CREATE TRIGGER IF NOT EXISTS decisions_are_not_updated BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_are_not_deleted BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
"""
_MANY = 500  # ids per IN (...) query, under SQLite's parameter limit


class SQLiteAlerts:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        try:
            self._connection().executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            if type(exc) is not sqlite3.DatabaseError:
                raise
            raise ArtifactError(f"{self.path}: not an alert store ({exc})") from None

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            self._local.connection = connection
        return connection

    def add(self, alerts: list[Alert]) -> int:
        db = self._connection()
        rows = [(a.transaction_id, a.time_ms, day_of(a.time_ms), a.to_json()) for a in alerts]
        before = db.total_changes
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT OR IGNORE INTO alerts (transaction_id, time_ms, day, body) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return db.total_changes - before

    def alerts(self, since_ms: int, until_ms: int) -> list[Alert]:
        rows = self._connection().execute(
            "SELECT body FROM alerts WHERE time_ms >= ? AND time_ms < ? "
            "ORDER BY time_ms, transaction_id",
            (since_ms, until_ms),
        )
        return [Alert.from_json(body) for (body,) in rows]

    def alert(self, transaction_id: str) -> Alert | None:
        found = (
            self._connection()
            .execute("SELECT body FROM alerts WHERE transaction_id = ?", (transaction_id,))
            .fetchone()
        )
        return None if found is None else Alert.from_json(found[0])

    def days(self) -> dict[str, int]:
        rows = self._connection().execute(
            "SELECT day, COUNT(*) FROM alerts GROUP BY day ORDER BY day"
        )
        return {day: int(count) for day, count in rows}

    def decide(self, decision: AnalystDecision) -> None:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            known = db.execute(
                "SELECT 1 FROM alerts WHERE transaction_id = ?", (decision.transaction_id,)
            ).fetchone()
            if known is None:
                raise DataError(f"no alert for transaction {decision.transaction_id!r}")
            db.execute(
                "INSERT INTO decisions (transaction_id, analyst, outcome, at_ms, note) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    decision.transaction_id,
                    decision.analyst,
                    decision.outcome,
                    decision.at_ms,
                    decision.note,
                ),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def decisions(self, transaction_ids: list[str] | None = None) -> list[AnalystDecision]:
        db = self._connection()
        query = "SELECT seq, transaction_id, analyst, outcome, at_ms, note FROM decisions"
        if transaction_ids is None:
            rows = db.execute(query + " ORDER BY seq").fetchall()
        else:
            rows = []
            for start in range(0, len(transaction_ids), _MANY):
                chunk = transaction_ids[start : start + _MANY]
                marks = ", ".join("?" * len(chunk))  # placeholders only; values are bound
                rows += db.execute(f"{query} WHERE transaction_id IN ({marks})", chunk).fetchall()
            rows.sort()
        return [
            AnalystDecision(transaction_id=tx, analyst=who, outcome=what, at_ms=at, note=note)
            for _, tx, who, what, at, note in rows
        ]

    def count(self) -> int:
        return int(self._connection().execute("SELECT COUNT(*) FROM alerts").fetchone()[0])
