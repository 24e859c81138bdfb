"""The note `fraudctl train` leaves beside the model it wrote: the MLflow run and registry
version, tied to the model by its contract's digest so a stale note is never believed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fraudctl.errors import ArtifactError
from fraudctl.model import contract as contracts
from fraudctl.model.bundle import payload_dir

REGISTRY_FILE = "registry.json"


def registry_record_path(model_dir: Path) -> Path:
    return Path(model_dir).parent / REGISTRY_FILE


def _model_digest(model_dir: Path) -> str | None:
    """The SHA-256 of the model's contract, which holds every payload file's digest."""
    try:
        return contracts.file_sha256(payload_dir(model_dir) / contracts.CONTRACT_FILE)
    except (OSError, ArtifactError):
        return None


def registry_record(
    model_dir: Path, run_id: str, version: str, registered_model: str
) -> dict[str, Any]:
    """What `fraudctl train` records beside the model it wrote: its run and version."""
    return {
        "run_id": run_id,
        "version": version,
        "registered_model": registered_model,
        "model_sha256": _model_digest(model_dir),
    }


def read_registry_record(model_dir: Path) -> dict[str, Any]:
    """Run id and registry version of the `fraudctl train` that wrote ``model_dir``; empty
    when the record is missing or describes another model (a run killed between renames)."""
    path = registry_record_path(model_dir)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict) or record.get("model_sha256") != _model_digest(model_dir):
        return {}
    return record
