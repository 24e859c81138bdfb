"""One way to get a Dask client from ``compute.dask``: a local cluster or a running scheduler."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

from fraudctl.distributed.settings import DaskParams
from fraudctl.errors import ConfigError

if TYPE_CHECKING:
    from distributed import Client


def require_dask() -> None:
    """A clear message when the ``dask`` extra is not installed."""
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"compute.engine: dask needs the dask extra ({exc.name} is missing): "
            "pip install 'fraudctl[dask]'"
        ) from None


@contextlib.contextmanager
def connect(dask: DaskParams) -> Iterator[Client]:
    """A client for the stage's duration; a local cluster is closed with it.

    Workers are separate processes (``processes=True``): the feature kernel and LightGBM
    release the GIL, but pandas does not, and a worker that exceeds its memory limit is
    restarted by its nanny instead of taking the whole stage down.
    """
    require_dask()
    from distributed import Client, LocalCluster

    for name in ("distributed", "distributed.worker", "distributed.scheduler"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if dask.scheduler == "local-cluster":
        with (
            LocalCluster(
                n_workers=dask.workers,
                threads_per_worker=dask.threads_per_worker,
                memory_limit=dask.memory_per_worker,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    host, port = dask.scheduler.removeprefix("tcp://").rsplit(":", 1)
    try:
        # A refused or unroutable address fails here in seconds, not after Client's timeout.
        socket.create_connection((host, int(port)), timeout=5).close()
        client = Client(dask.scheduler, timeout="20s")
    except OSError as exc:
        raise ConfigError(
            f"compute.dask.scheduler: cannot reach {dask.scheduler} ({exc}); "
            "is the Dask scheduler running and reachable from here?"
        ) from None
    with client:
        yield client
