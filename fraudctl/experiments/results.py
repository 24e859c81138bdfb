"""Typed views of what the experiment stages write, for everything that reads them back.

Each stage writes ``results.json`` (every number) and ``metrics.json`` (the headline DVC
tracks). The CLI, the pull-request report, the model card and the web app read those
files; reading them through these classes puts the file layout in one place, so a renamed
key fails here with the file's name instead of as a ``KeyError`` in four renderers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fraudctl.io import read_json
from fraudctl.paths import ProjectPaths

RESULTS_FILE = "results.json"
METRICS_FILE = "metrics.json"


class ResultsFileError(ValueError):
    """A results file exists but lacks a field the readers need (an older layout)."""


def _field(values: Mapping[str, Any], key: str, source: str) -> Any:
    try:
        return values[key]
    except (KeyError, TypeError):
        raise ResultsFileError(
            f"{source}: no field {key!r}; rerun the stage that writes it (`dvc repro`)"
        ) from None


def _read(path: Path) -> dict[str, Any] | None:
    return read_json(path) if path.exists() else None


@dataclass(frozen=True)
class Spread:
    """A metric's mean and standard deviation over seeds."""

    mean: float
    std: float


@dataclass(frozen=True)
class PoisonCell:
    """One attack level: how many labels it changed and what it did to the model."""

    level: str
    labels_changed: int
    rows_screened: float
    undefended: Mapping[str, Spread]
    defended: Mapping[str, Spread]


@dataclass(frozen=True)
class PoisonOutcome:
    """The poisoning grid, attack by attack, levels in the order they were run."""

    headline: str
    baseline_pr_auc: float
    attacks: Mapping[str, tuple[PoisonCell, ...]]
    worst_attack: str | None
    worst_pr_auc_drop: float

    @classmethod
    def from_results(cls, values: Mapping[str, Any], source: str = RESULTS_FILE) -> PoisonOutcome:
        def spreads(cell: Mapping[str, Any]) -> dict[str, Spread]:
            return {name: Spread(s["mean"], s["std"]) for name, s in cell.items()}

        attacks = {
            attack: tuple(
                PoisonCell(
                    level=level,
                    labels_changed=int(cell["labels_changed"]),
                    rows_screened=float(cell["rows_screened"]),
                    undefended=spreads(cell["undefended"]),
                    defended=spreads(cell["defended"]),
                )
                for level, cell in table.items()
            )
            for attack, table in _field(values, "attacks", source).items()
        }
        worst = _field(values, "worst", source)
        return cls(
            headline=_field(values, "headline", source),
            baseline_pr_auc=_field(values, "baseline", source)["pr_auc"]["mean"],
            attacks=attacks,
            worst_attack=worst.get("attack"),
            worst_pr_auc_drop=float(worst.get("pr_auc_drop") or 0.0),
        )

    def strongest(self, attack: str) -> PoisonCell:
        """The attack's highest level: where the defence matters most."""
        return max(self.attacks[attack], key=lambda cell: float(cell.level))


@dataclass(frozen=True)
class PoisonHeadline:
    """The poisoning stage's headline numbers (its metrics.json)."""

    baseline_pr_auc: float
    worst_attack: str | None
    worst_level: float
    worst_pr_auc_drop: float
    defence_recovered: float

    def defence_phrase(self) -> str:
        """What the defence did at the worst attack, worded for a negative value too."""
        if self.defence_recovered >= 0:
            return f"the defence recovers {self.defence_recovered:.3f}"
        return f"the defence costs a further {-self.defence_recovered:.3f} instead of recovering"


@dataclass(frozen=True)
class GroupRates:
    """Decision rates of one group at the model's threshold."""

    group: str
    count: int
    frauds: int
    recall: float
    false_positive_rate: float
    precision: float


@dataclass(frozen=True)
class FairnessOutcome:
    """Group metrics, the disparity checks and the features that drive the score."""

    headline: str
    group_column: str
    groups: tuple[GroupRates, ...]
    failed_checks: tuple[str, ...]
    top_features: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failed_checks

    @classmethod
    def from_results(cls, values: Mapping[str, Any], source: str = RESULTS_FILE) -> FairnessOutcome:
        groups = tuple(
            GroupRates(
                group=group,
                count=int(row["count"]),
                frauds=int(row["frauds"]),
                recall=row["recall"],
                false_positive_rate=row["false_positive_rate"],
                precision=row["precision"],
            )
            for group, row in _field(values, "by_group", source).items()
        )
        checks = _field(values, "checks", source)
        return cls(
            headline=_field(values, "headline", source),
            group_column=_field(values, "group_column", source),
            groups=groups,
            failed_checks=tuple(k for k, ok in checks.items() if k != "passed" and not ok),
            top_features=tuple(
                f["feature"] for f in _field(values, "shap", source)["top_features"]
            ),
        )


@dataclass(frozen=True)
class FairnessHeadline:
    """The fairness stage's headline numbers (its metrics.json)."""

    equalized_odds_difference: float
    demographic_parity_difference: float
    checks_passed: bool


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    psi: float
    drifted: bool


@dataclass(frozen=True)
class DriftOutcome:
    """The drift gate's verdict and every feature's shift."""

    headline: str
    drift_detected: bool
    drifted_features: int
    features: tuple[FeatureDrift, ...]

    @classmethod
    def from_results(cls, values: Mapping[str, Any], source: str = RESULTS_FILE) -> DriftOutcome:
        return cls(
            headline=_field(values, "headline", source),
            drift_detected=bool(_field(values, "drift_detected", source)),
            drifted_features=int(_field(values, "drifted_features", source)),
            features=tuple(
                FeatureDrift(name, row["psi"], bool(row.get("drifted")))
                for name, row in _field(values, "features", source).items()
            ),
        )

    def most_shifted(self, count: int) -> list[FeatureDrift]:
        return sorted(self.features, key=lambda f: -f.psi)[:count]


@dataclass(frozen=True)
class DriftHeadline:
    """The drift stage's headline numbers (its metrics.json)."""

    gate_passed: bool
    drifted_share: float
    prediction_psi: float


OUTCOMES = {"poison": PoisonOutcome, "fairness": FairnessOutcome, "drift": DriftOutcome}
HEADLINES = {"poison": PoisonHeadline, "fairness": FairnessHeadline, "drift": DriftHeadline}


def read_outcome(paths: ProjectPaths, experiment: str) -> Any:
    """The experiment's ``results.json`` as its outcome class, or None before it ran."""
    path = paths.experiment_dir(experiment) / RESULTS_FILE
    values = _read(path)
    return None if values is None else OUTCOMES[experiment].from_results(values, str(path))


def read_headline(paths: ProjectPaths, experiment: str) -> Any:
    """The experiment's headline metrics as its headline class, or None before it ran."""
    path = paths.experiment_dir(experiment) / METRICS_FILE
    values = _read(path)
    if values is None:
        return None
    kind = HEADLINES[experiment]
    names = kind.__dataclass_fields__
    return kind(**{name: _field(values, name, str(path)) for name in names})
