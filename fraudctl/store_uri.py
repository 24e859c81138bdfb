"""Opening a store from its URI, the one way every store of the project is opened (the
online store, the alert store): ``sqlite:///path`` or ``redis://host:port/db``, then one
question asked at once, so an unreachable Redis, a folder where the database file should
be or a file that is not a database is one line naming the store, not a traceback later."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fraudctl.errors import ArtifactError, ConfigError

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def is_redis(uri: str) -> bool:
    return uri.startswith(REDIS_SCHEMES)


def open_uri(
    what: str,
    uri: str,
    sqlite: Callable[[Path], Any],
    redis: Callable[[str], Any],
    example_file: str,
) -> Any:
    """``what`` names the store in messages ("online store"); ``sqlite`` and ``redis`` open
    one kind; ``example_file`` is the path the error suggests. The store must answer
    ``count()``."""
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        if path.is_dir():
            raise ArtifactError(f"{what} {uri}: {path} is a folder, not a database file")
        opener: Callable[[], Any] = lambda: sqlite(path)  # noqa: E731
    elif is_redis(uri):
        opener = lambda: redis(uri)  # noqa: E731
    else:
        raise ConfigError(
            f"{what} {uri!r}: expected sqlite:///{example_file} or redis://host:port/db"
        )
    try:
        store = opener()
        store.count()
    except Exception as exc:
        if type(exc).__module__.split(".")[0] not in {"sqlite3", "redis"}:
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ArtifactError(f"{what} {uri}: {first}") from None
    return store
