"""A real redis-server per test module (on a free port, in a temporary directory), and the
alert store under test on both backends."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fraudctl.alerts.store import open_alerts


@pytest.fixture(scope="module")
def redis_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("no redis-server (Debian package 'redis-server'; .ci/run installs it)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def flushed(uri: str) -> str:
    import redis

    redis.Redis.from_url(uri).flushdb()
    return uri


@pytest.fixture(params=["sqlite", "redis"])
def backend(request, tmp_path: Path) -> str:
    """A store URI, empty: a SQLite file of this test's own, or the module's Redis flushed."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'alerts.db'}"
    return flushed(request.getfixturevalue("redis_uri"))


@pytest.fixture
def alerts(backend):
    return open_alerts(backend)
