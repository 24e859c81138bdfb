"""The alert store's interface, and opening one from a URI.

Two stores behind one interface, with the online store's URI scheme
(:func:`fraudctl.features.online.open_store`):

- :class:`~fraudctl.alerts.sqlite_alerts.SQLiteAlerts` (``sqlite:///path``), the default:
  one file beside the project, shared by the server's workers and the web app;
- :class:`~fraudctl.alerts.redis_alerts.RedisAlerts` (``redis://host:port/db``), for
  several pods: it can share the online store's Redis, under a prefix of its own.

Adding an alert is idempotent (a redelivered transaction does not queue twice: the first
alert stays); decisions are appended and never updated or deleted.
"""

from __future__ import annotations

from typing import Protocol

from fraudctl.alerts.records import Alert, AnalystDecision, day_bounds, day_of
from fraudctl.store_uri import is_redis, open_uri

__all__ = [
    "DEFAULT_ALERT_STORE",
    "AlertStore",
    "alert_store_uri",
    "day_bounds",
    "day_of",
    "open_alerts",
]

DEFAULT_ALERT_STORE = "sqlite:///data/alerts/alerts.db"
OFF = "off"


class AlertStore(Protocol):
    def add(self, alerts: list[Alert]) -> int:
        """Queue alerts; a transaction already queued keeps its first alert. Returns how
        many were new."""

    def alerts(self, since_ms: int, until_ms: int) -> list[Alert]:
        """Alerts whose transaction time is in [since_ms, until_ms), oldest first."""

    def alert(self, transaction_id: str) -> Alert | None: ...

    def days(self) -> dict[str, int]:
        """Alerts per UTC day of the transaction time ('YYYY-MM-DD' -> count)."""

    def decide(self, decision: AnalystDecision) -> None:
        """Append a decision; an alert that was never queued is an error."""

    def decisions(self, transaction_ids: list[str] | None = None) -> list[AnalystDecision]:
        """Decisions in the order they were made (all, or those on these alerts)."""

    def count(self) -> int: ...

    def clear(self) -> None: ...


def alert_store_uri(configured: str, online_store: str) -> str | None:
    """The store alerts go to: the one configured; else the online store's Redis when the
    service uses one; else the default SQLite file the web app reads; None when ``off``."""
    if configured.strip().lower() == OFF:
        return None
    if configured.strip():
        return configured.strip()
    if is_redis(online_store):
        return online_store
    return DEFAULT_ALERT_STORE


def open_alerts(uri: str) -> AlertStore:
    """Open the store and ask it one question, so an unreachable Redis or a folder where the
    database should be is one line here."""
    from fraudctl.alerts.redis_alerts import RedisAlerts
    from fraudctl.alerts.sqlite_alerts import SQLiteAlerts

    return open_uri("alert store", uri, SQLiteAlerts, RedisAlerts, "path/to/alerts.db")
