"""Writing a model directory: payload, contract and MLflow wrapper, built in a scratch
folder and checked by loading it back before MLflow copies it into place.

A model with rules saves them in its payload (``rules.json``) and its pyfunc answers with
``probability``, ``decision`` and ``rule`` columns (its MLflow signature says so); a model
without rules writes exactly the files it wrote before rules existed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.features.transform import FeatureTransform
from fraudctl.model import contract as contracts
from fraudctl.model import payloads, rulebook
from fraudctl.model.bundle import (
    FORMAT_VERSION,
    LOADER_MODULE,
    METADATA_FILE,
    PAYLOAD_DIR,
    TRANSFORM_FILE,
    FraudModel,
    load_payload,
)
from fraudctl.rules.ruleset import RuleSet

UNSTABLE_MLMODEL_KEYS = ("utc_time_created", "model_uuid", "run_id", "mlflow_version")


def estimator_payload(estimator: Any, kind: str, directory: Path) -> str:
    """Write the fitted estimator in a format that loads without running code; returns
    the format's name (recorded in model.json)."""
    from fraudctl.model import families  # noqa: F401 - registers each family's format

    chosen = payloads.format_for(estimator, kind)
    chosen.save(estimator, directory / chosen.filename)
    return chosen.name


def save_model(
    path: Path,
    transform: FeatureTransform,
    estimator: Any,
    metadata: dict[str, Any],
    raw_example: pd.DataFrame,
    requirements: list[str],
    trained_on: list[contracts.FileDigest] | None = None,
    magnitudes: dict[str, float] | None = None,
    rules: RuleSet | None = None,
) -> None:
    """Write the MLflow model directory ``path`` (which must not exist yet).

    ``raw_example`` holds a few raw rows in the training table's column order: the
    contract's column order and the MLflow signature come from it. ``rules`` (checked
    against the model's fields by the caller) are saved with the model.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="fraudctl-payload-") as scratch:
        payload = Path(scratch) / PAYLOAD_DIR
        payload.mkdir()
        _write_json(payload / TRANSFORM_FILE, transform.to_dict())
        chosen = estimator_payload(estimator, str(metadata["kind"]), payload)
        _write_json(
            payload / METADATA_FILE,
            {"format": FORMAT_VERSION, "estimator_format": chosen, **metadata},
        )
        rulebook.write_rules(payload, rules or RuleSet())
        contracts.write_contract(
            payload,
            contracts.build_contract(
                payload,
                transform,
                raw_example,
                trained_on or [],
                str(metadata.get("validation_fingerprint", "")),
                magnitudes,
            ),
        )
        _wrap(path, load_payload(payload), raw_example, requirements)


def resave_with_rules(source: Path, path: Path, rules: RuleSet) -> None:
    """Write model directory ``path``: the model at ``source`` with ``rules`` instead of its
    own. Every other file is copied byte for byte, so the new model scores every row
    exactly as the old one and differs only in what its rules decide: what `train` writes
    for a rule-only change, since its estimator is deterministic (the loop deploys a rule
    this way, and the tests draw rule sets on one trained model)."""
    import shutil
    from dataclasses import replace

    import yaml

    from fraudctl.model.bundle import load_model, payload_dir
    from fraudctl.rules.check import check_rules
    from fraudctl.rules.fields import fields_of

    source = Path(source)
    old = load_model(source)
    check_rules(rules, fields_of(old))
    shutil.copytree(source, path, symlinks=True)
    payload = payload_dir(Path(path))
    for extra in (contracts.CONTRACT_FILE, rulebook.RULES_FILE):
        (payload / extra).unlink(missing_ok=True)
    rulebook.write_rules(payload, rules)
    rules_file = payload / rulebook.RULES_FILE
    contract = replace(
        old.contract,
        files=contracts.digest_folder(payload),
        rules_sha256=contracts.file_sha256(rules_file) if rules_file.exists() else None,
    )
    contracts.write_contract(payload, contract)
    model = load_payload(payload)
    mlmodel = Path(path) / "MLmodel"
    spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    if spec.get("signature"):
        spec["signature"]["outputs"] = _outputs(model).to_json()
    mlmodel.write_text(yaml.safe_dump(spec, sort_keys=True), encoding="utf-8")


def _outputs(model: FraudModel) -> Any:
    """What the pyfunc answers: probabilities, or with rules a frame of probability,
    decision and rule (None where the model decided)."""
    from mlflow.types import ColSpec, Schema, TensorSpec

    if not model.rules:
        return Schema([TensorSpec(np.dtype("float64"), (-1,))])
    return Schema(
        [
            ColSpec("double", "probability"),
            ColSpec("string", "decision"),
            ColSpec("string", "rule", required=False),
        ]
    )


def _wrap(
    path: Path, model: FraudModel, raw_example: pd.DataFrame, requirements: list[str]
) -> None:
    """The MLflow directory around a checked payload (whose example rows it scores once
    more): the signature says what the pyfunc answers."""
    import warnings

    import mlflow.pyfunc
    from mlflow.models import ModelSignature, infer_signature

    with warnings.catch_warnings():
        # Entity ids are integers on purpose; MLflow's hint about missing ints is noise.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        if model.rules:
            model.decide(raw_example)
            signature = ModelSignature(infer_signature(raw_example).inputs, _outputs(model))
        else:
            signature = infer_signature(raw_example, model.predict_raw(raw_example))
        with _pins_taken_as_installed():
            mlflow.pyfunc.save_model(
                path=str(path),
                loader_module=LOADER_MODULE,
                data_path=str(model.payload),
                signature=signature,
                input_example=raw_example,
                pip_requirements=requirements,
            )
    _stabilise_mlmodel(path / "MLmodel")


@contextlib.contextmanager
def _pins_taken_as_installed() -> Iterator[None]:
    """MLflow checks that the running environment satisfies the requirements it is given, and
    to map packages to modules it first reads the file list of every installed distribution:
    about 2 s of every training process. The pins fraudctl gives are this environment's
    installed versions (:func:`fraudctl.model.estimators.library_requirements`), so the
    check cannot fail; it is skipped for this call. Where MLflow moved the check, the save
    runs it as before."""
    from mlflow.utils import environment

    check = getattr(environment, "warn_dependency_requirement_mismatches", None)
    if check is None:
        yield
        return
    environment.warn_dependency_requirement_mismatches = lambda requirements: None
    try:
        yield
    finally:
        environment.warn_dependency_requirement_mismatches = check


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _stabilise_mlmodel(mlmodel: Path) -> None:
    """Drop the creation time and random ids MLflow writes, so equal models hash equal."""
    import yaml

    spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    for key in UNSTABLE_MLMODEL_KEYS:
        spec.pop(key, None)
    mlmodel.write_text(yaml.safe_dump(spec, sort_keys=True), encoding="utf-8")
