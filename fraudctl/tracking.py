"""The only module that talks to MLflow: store, runs, model format, registry and aliases.

Keeping MLflow behind these few functions means an MLflow API change touches one file,
and ``import mlflow`` (a second or more) happens only in commands that track something.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fraudctl.config import TrackingParams
from fraudctl.errors import TrackingError

CHAMPION = "champion"
CHALLENGER = "challenger"
FINGERPRINT_TAG = "validation_fingerprint"
# What a version scores with (every model file but the rules) and the rules it decides with:
# two versions with equal scorer digests differ only by a rule change (stages/promotion.py)
SCORER_TAG = "scorer_sha256"
RULES_TAG = "rules_sha256"


def tracking_uri(params: TrackingParams) -> str:
    """``MLFLOW_TRACKING_URI`` wins over params.yaml, so CI and servers can point elsewhere."""
    return os.environ.get("MLFLOW_TRACKING_URI") or params.uri


def _mlflow(params: TrackingParams) -> Any:
    import mlflow

    for noisy in ("alembic", "mlflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    uri = tracking_uri(params)
    check_store(uri)
    user_setting = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    # MLflow exports the URI to the environment (for child processes). Left there, it would
    # read as the user's override for the next params file this process opens: the loop's
    # benchmark, for one, keeps a store per policy.
    if user_setting is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = user_setting
    return mlflow


SQLITE_MAGIC = b"SQLite format 3\x00"
# A dead tracking server made `train` retry for minutes with MLflow's defaults (7 retries
# with back-off, 120 s per request): fail within seconds instead, unless the user says so.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}
PROBE_SECONDS = 5.0


@functools.cache
def check_store(uri: str) -> None:
    """One line, before MLflow is asked anything, for a store it would fail on with a
    traceback or a long hang: a server that does not answer, a file that is not a SQLite
    database, a store that cannot be written."""
    if uri.startswith(("http://", "https://")):
        from urllib.parse import urlsplit

        for name, value in HTTP_DEFAULTS.items():
            os.environ.setdefault(name, value)
        parts = urlsplit(uri)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname or "localhost", port), PROBE_SECONDS).close()
        except OSError as exc:
            raise TrackingError(
                f"MLflow tracking server {uri} does not answer ({exc.strerror or exc}); "
                "start it, or unset MLFLOW_TRACKING_URI to use tracking.uri from params.yaml"
            ) from None
        return
    if not uri.startswith("sqlite:///"):
        return
    path = Path(uri.removeprefix("sqlite:///"))
    if path.is_dir():
        raise TrackingError(f"MLflow store {path}: a folder, not a SQLite database file")
    if path.exists() and path.stat().st_size:
        with path.open("rb") as handle:
            if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                raise TrackingError(
                    f"MLflow store {path}: not a SQLite database; move it away or point "
                    "tracking.uri (or MLFLOW_TRACKING_URI) elsewhere"
                )
    folder = path.parent if str(path.parent) else Path()
    if (path.exists() and not os.access(path, os.W_OK)) or (
        folder.exists() and not os.access(folder, os.W_OK)
    ):
        raise TrackingError(
            f"MLflow store {path}: read-only (the database and its folder must be writable)"
        )


def ensure_experiment(params: TrackingParams, name: str) -> str:
    """Create the experiment on first use, with artifacts under ``artifact_location``."""
    mlflow = _mlflow(params)
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if tracking_uri(params).startswith("sqlite:"):
        location = Path(params.artifact_location).resolve().as_uri()
    return mlflow.create_experiment(name, artifact_location=location)


@contextlib.contextmanager
def run(
    params: TrackingParams,
    experiment: str,
    run_name: str | None = None,
    run_id: str | None = None,
    nested: bool = False,
) -> Iterator[Any]:
    """Start (or resume, with ``run_id``) a run; yields the active MLflow run.

    A run is tagged with this host and process id. SIGTERM ends it as FAILED (through the
    normal exit path), and runs left RUNNING by a process that no longer exists (killed
    with SIGKILL, or the machine went down) are marked KILLED when the next run starts.
    """
    mlflow = _mlflow(params)
    experiment_id = ensure_experiment(params, experiment)
    close_orphaned_runs(params, experiment_id)
    if run_id is not None:
        try:
            mlflow.get_run(run_id)
        except Exception:
            run_id = None
    with mlflow.start_run(
        run_id=run_id,
        experiment_id=None if run_id else experiment_id,
        run_name=run_name,
        nested=nested,
    ) as active:
        if not nested:
            mlflow.set_tags({HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())})
        with _sigterm_as_exit():
            yield active


@contextlib.contextmanager
def nested_run(run_name: str) -> Iterator[Any]:
    """A child of the active run, in its experiment (a tuning trial, say)."""
    import mlflow

    parent = mlflow.active_run()
    experiment = parent.info.experiment_id if parent else None
    with mlflow.start_run(run_name=run_name, nested=True, experiment_id=experiment) as active:
        yield active


HOST_TAG = "fraudctl.host"
PID_TAG = "fraudctl.pid"


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """While a run is open, SIGTERM unwinds the stack so MLflow closes the run."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def close_orphaned_runs(params: TrackingParams, experiment_id: str) -> list[str]:
    """Mark KILLED the RUNNING runs of this host whose process is gone."""
    client = _client(params)
    host = socket.gethostname()
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'",
        max_results=200,
    )
    closed = []
    for found in runs:
        pid = found.data.tags.get(PID_TAG, "")
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            client.set_terminated(found.info.run_id, status="KILLED")
            closed.append(found.info.run_id)
    return closed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def log_params(values: Mapping[str, Any]) -> None:
    import mlflow

    mlflow.log_params({k: v if v is not None else "None" for k, v in values.items()})


def log_metrics(values: Mapping[str, float], prefix: str = "") -> None:
    import mlflow

    mlflow.log_metrics({f"{prefix}{k}": float(v) for k, v in values.items()})


def log_artifacts(directory: Path, artifact_path: str | None = None) -> None:
    import mlflow

    mlflow.log_artifacts(str(directory), artifact_path=artifact_path)


def log_artifact(path: Path, artifact_path: str | None = None) -> None:
    import mlflow

    mlflow.log_artifact(str(path), artifact_path=artifact_path)


def set_tags(tags: Mapping[str, str]) -> None:
    import mlflow

    mlflow.set_tags(dict(tags))


def download_model(uri: str, params: TrackingParams, destination: Path) -> Path:
    """Fetch a registry model (``models:/name@alias`` or ``models:/name/version``) to disk."""
    mlflow = _mlflow(params)
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(destination))
    except Exception as exc:
        raise TrackingError(
            f"{uri}: cannot fetch the model from {tracking_uri(params)}: {str(exc).splitlines()[0]}"
        ) from None
    return Path(local)


def registry_version(uri: str, params: TrackingParams) -> str:
    """The version number behind ``models:/name@alias`` or ``models:/name/version``."""
    name, _, rest = uri.removeprefix("models:/").partition("/")
    if "@" in name:
        name, alias = name.split("@", 1)
        return str(_client(params).get_model_version_by_alias(name, alias).version)
    return rest or "unknown"


# --- registry -------------------------------------------------------------------------


def _client(params: TrackingParams) -> Any:
    from mlflow import MlflowClient

    _mlflow(params)
    return MlflowClient()


def describe_version(params: TrackingParams, name: str, version: str, text: str) -> bool:
    """Set a registered version's description; False when the registry has no such version
    (a project copied from elsewhere points at versions of another store)."""
    from mlflow.exceptions import MlflowException

    try:
        _client(params).update_model_version(name, version, description=text)
    except MlflowException:
        return False
    return True


def register(params: TrackingParams, run_id: str, artifact_path: str) -> str:
    """Register the run's model as a new version of ``params.registered_model``."""
    mlflow = _mlflow(params)
    # register_model prints its own chatter; the CLI reports the outcome itself.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        version = mlflow.register_model(f"runs:/{run_id}/{artifact_path}", params.registered_model)
    return str(version.version)


def _alias_version(client: Any, name: str, alias: str) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def alias_version(params: TrackingParams, alias: str) -> str | None:
    """The version an alias (``champion``, ``challenger``) points at, or None."""
    found = _alias_version(_client(params), params.registered_model, alias)
    return None if found is None else str(found.version)


def set_alias(params: TrackingParams, alias: str, version: str) -> None:
    _client(params).set_registered_model_alias(params.registered_model, alias, version)


@dataclass(frozen=True)
class VersionRun:
    """The metrics and tags of the run that registered a version."""

    metrics: Mapping[str, float]
    tags: Mapping[str, str]


def version_run(params: TrackingParams, version: str) -> VersionRun:
    client = _client(params)
    found = client.get_model_version(params.registered_model, version)
    data = client.get_run(found.run_id).data
    return VersionRun(dict(data.metrics), dict(data.tags))


PROMOTION_TAG = "fraudctl.promotion"
PROMOTED_AT_TAG = "fraudctl.promoted_at"


def note_promotion(params: TrackingParams, version: str, promoted: bool, reason: str) -> None:
    """Why a version was (or was not) made champion, and when: shown by `fraudctl ui`."""
    import datetime

    client = _client(params)
    name = params.registered_model
    client.set_model_version_tag(name, version, PROMOTION_TAG, reason)
    if promoted:
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        client.set_model_version_tag(name, version, PROMOTED_AT_TAG, now)


def set_champion(params: TrackingParams, version: str, reason: str = "") -> str | None:
    """Point ``champion`` at ``version`` (by hand, or the continuous-training loop with its
    ``reason``); returns the previous champion's version."""
    from mlflow.exceptions import MlflowException

    client = _client(params)
    name = params.registered_model
    try:
        client.get_model_version(name, version)
    except MlflowException:
        raise TrackingError(
            f"{name} has no version {version!r} in {tracking_uri(params)}"
        ) from None
    previous = _alias_version(client, name, CHAMPION)
    client.set_registered_model_alias(name, CHAMPION, version)
    was = "none" if previous is None else f"v{previous.version}"
    note_promotion(params, version, True, f"{reason or 'promoted by hand'} (champion was {was})")
    return None if previous is None else str(previous.version)
