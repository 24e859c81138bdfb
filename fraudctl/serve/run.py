"""Starting the server: check the model first, then hand over to uvicorn.

A missing or unreadable model fails here with one clear line, before any port is bound.
One worker serves the model already loaded; several workers each load it themselves
(uvicorn's factory mode) and share Prometheus metrics through a multiprocess directory.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from pydantic import ValidationError

from fraudctl.errors import ConfigError
from fraudctl.serve.predictor import limit_math_threads, load_predictor


def require_free_port(host: str, port: int) -> None:
    """Say plainly that the port is taken, before loading anything (uvicorn would exit 3
    with one JSON log line after "serving on ..." had been printed)."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = (
                "is already in use (another server?)"
                if exc.errno == errno.EADDRINUSE
                else f"cannot be bound ({exc.strerror})"
            )
            raise ConfigError(
                f"serve: port {port} on {host} {reason}; pick another with --port"
            ) from None


def run_server(overrides: dict[str, Any], console: Any) -> None:
    limit_math_threads()
    from fraudctl.serve.settings import ServeSettings

    try:
        settings = ServeSettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"serve settings: {problems}") from None
    require_free_port(settings.host, settings.port)
    predictor = load_predictor(
        settings.model, settings.tracking_uri, settings.online_store, settings.scoring_threads
    )
    console.print(
        f"serving {predictor.name} v{predictor.version} ({predictor.kind}, threshold "
        f"{predictor.threshold:.4f}) on http://{settings.host}:{settings.port} "
        f"with {settings.workers} worker(s)"
    )
    import uvicorn

    options = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "loop": "auto",
        "http": "auto",
        "timeout_graceful_shutdown": 10,
    }
    if settings.workers == 1:
        from fraudctl.serve.app import create_app

        uvicorn.run(create_app(settings, predictor=predictor), **options)
        return
    from fraudctl.serve.options import SETTINGS

    variables = {setting.name: setting.env for setting in SETTINGS}
    for key, value in overrides.items():  # each worker reads them (create_app_from_environment)
        os.environ[variables[key]] = str(value)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="fraudctl-metrics-"))
    uvicorn.run(
        "fraudctl.serve.app:create_app_from_environment",
        factory=True,
        workers=settings.workers,
        **options,
    )
