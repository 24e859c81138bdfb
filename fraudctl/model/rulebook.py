"""The rules a model decides with: saved in its payload as ``rules.json``, covered by its
contract (``rules_sha256`` and the file's digest), and checked against its fields.

Rules travel with the model, so every door (evaluate, ``score`` on both engines, the
pyfunc, the web app, serving) decides with the rule set the model was trained and reviewed
with, never with whatever params.yaml says today. A model without rules has no
``rules.json`` and no ``rules_sha256``: its files are byte for byte those of a model saved
before rules existed, and such a model reads as "no rules".
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fraudctl.errors import ArtifactError, ConfigError
from fraudctl.model import contract as contracts
from fraudctl.rules.check import check_rules, model_fields
from fraudctl.rules.ruleset import RuleSet

if TYPE_CHECKING:
    import pandas as pd

    from fraudctl.features.transform import FeatureTransform

RULES_FILE = contracts.RULES_FILE


def write_rules(payload: Path, rules: RuleSet) -> None:
    """Write ``rules.json`` into a payload being built (nothing for an empty rule set)."""
    if rules:
        (payload / RULES_FILE).write_text(rules.to_json(), encoding="utf-8")


def read_rules(payload: Path, contract: contracts.InputContract) -> RuleSet:
    """The payload's rule set, after checking it is the one its contract records."""
    path = payload / RULES_FILE
    if contract.rules_sha256 is None:
        if path.exists():
            raise ArtifactError(
                f"{path}: the contract records no rules; a model directory is written whole "
                "by `fraudctl train`"
            )
        return RuleSet()
    if not path.exists():
        raise ArtifactError(f"{path}: missing from the model directory (its contract has rules)")
    actual = contracts.file_sha256(path)
    if actual != contract.rules_sha256:
        raise ArtifactError(
            f"{path}: not the rules the contract records (SHA-256 {actual[:12]}…, expected "
            f"{contract.rules_sha256[:12]}…); retrain or restore the model"
        )
    try:
        return RuleSet.from_json(path.read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{path}: unreadable rules ({exc}); retrain the model") from None


def transform_fields(transform: FeatureTransform, example: pd.DataFrame) -> list[tuple[str, str]]:
    """(name, kind) of every field a model built from ``transform`` will offer rules, known
    before it is fitted: the raw columns of its contract-to-be (kinds from ``example``'s
    dtypes, the training table's) and the computed features."""
    raw = contracts.raw_columns(transform, example)
    return model_fields([(c.name, c.role, c.dtype) for c in raw], transform.output_columns)


def check_loaded(model: Any, payload: Path) -> None:
    """A loaded model's own rules against its own fields (a saved model always passes; a
    failure is a damaged or hand-made model directory)."""
    from fraudctl.rules.fields import fields_of

    try:
        check_rules(model.rules, fields_of(model))
    except ConfigError as exc:
        raise ArtifactError(f"{payload / RULES_FILE}: {exc}") from None
