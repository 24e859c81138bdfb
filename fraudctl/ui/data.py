"""What `fraudctl ui` shows, read from the project's outputs and the MLflow registry.

Plain functions without Streamlit, so the app stays a thin layout and these are tested on
their own. Nothing here trains: the model is loaded and scores the test split (a second
for the default model) for the what-if slider and the scoring form.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.config import Params
from fraudctl.experiments.results import read_headline
from fraudctl.io import read_json
from fraudctl.paths import ProjectPaths


def optional_json(path: Path) -> Any:
    return read_json(path) if path.exists() else None


def optional_csv(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.exists() else None


@dataclass
class TestScores:
    """The current model's scores on the test split, with what the what-if needs."""

    frame: pd.DataFrame  # the test split's model inputs (and label), as evaluate scores them
    labels: np.ndarray
    scores: np.ndarray
    amounts: np.ndarray | None  # None: the data has no amount column
    threshold: float
    # the same rows as they arrived (categories as text): what the scoring form starts from
    raw: pd.DataFrame | None = None

    @property
    def raw_rows(self) -> pd.DataFrame:
        """The raw test rows, row for row with ``frame``; ``frame`` itself when the prepared
        split is gone (its inputs are the raw columns when the model has no transform)."""
        return self.raw if self.raw is not None else self.frame


def test_scores(paths: ProjectPaths) -> TestScores | None:
    """None when there is no model or no test split yet."""
    from fraudctl.features.outputs import load_schema, load_split
    from fraudctl.model import bundle
    from fraudctl.model.fitting import amounts

    if not (paths.model_dir / "MLmodel").exists() or not paths.features_file("test").exists():
        return None
    schema = load_schema(paths)
    model = bundle.load_model(paths.model_dir)
    test = load_split(paths, "test")
    # data/features encodes categories as codes; the prepared split holds them as text, in
    # the same order (the features stage keeps the rows' order)
    prepared = paths.split_file("test")
    raw = pd.read_parquet(prepared) if prepared.exists() else None
    if raw is not None and len(raw) != len(test):
        raw = None
    return TestScores(
        frame=test,
        labels=test[schema.target].to_numpy(),
        scores=model.score_features(test),
        amounts=amounts(test, schema) if schema.amount else None,
        threshold=model.threshold,
        raw=raw,
    )


def threshold_for_alerts(scores: TestScores, alerts: int) -> float:
    """The threshold that raises ``alerts`` alerts on the test split (the score of the
    ``alerts``-th riskiest row; ties may raise a few more). Counting alerts keeps the slider
    usable whatever the scores are: a rank blend's threshold of 0.9984 left two ticks of a
    0-1 slider."""
    ranked = np.sort(scores.scores)[::-1]
    return float(ranked[min(max(alerts, 1), len(ranked)) - 1])


def alerts_at(scores: TestScores, threshold: float) -> int:
    return int(np.sum(scores.scores >= threshold))


def what_if(scores: TestScores, threshold: float, review_cost: float) -> dict[str, float]:
    """Alerts, precision, recall and fraud amounts on the test split at another threshold."""
    flagged = scores.scores >= threshold
    fraud = scores.labels == 1
    caught = int(np.sum(flagged & fraud))
    alerts = int(flagged.sum())
    result: dict[str, float] = {
        "alerts": alerts,
        "precision": caught / alerts if alerts else 0.0,
        "recall": caught / max(int(fraud.sum()), 1),
        "frauds_caught": caught,
    }
    if scores.amounts is not None:  # money only where the data has amounts
        missed_amount = float(scores.amounts[~flagged & fraud].sum())
        result["fraud_amount_caught"] = float(scores.amounts[flagged & fraud].sum())
        result["fraud_amount_missed"] = missed_amount
        result["expected_cost"] = alerts * review_cost + missed_amount
    return result


def registry_versions(params: Params) -> pd.DataFrame:
    """Every registered version: aliases, when it was created and promoted, and why, with
    its validation and test PR-AUC (empty when nothing is registered yet)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from fraudctl import tracking

    client = MlflowClient(tracking_uri=tracking.tracking_uri(params.tracking))
    name = params.tracking.registered_model
    try:
        versions = client.search_model_versions(f"name = '{name}'")
        aliases = client.get_registered_model(name).aliases if versions else {}
    except MlflowException:
        return pd.DataFrame()
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    rows = []
    for item in versions:
        metrics: dict[str, float] = {}
        run_params: dict[str, str] = {}
        if item.run_id:
            try:
                run = client.get_run(item.run_id).data
                metrics, run_params = run.metrics, run.params
            except MlflowException:
                pass
        rows.append(
            {
                "version": int(item.version),
                "aliases": ", ".join(sorted(by_version.get(str(item.version), []))),
                "family": run_params.get("model", ""),
                "trained on": run_params.get("data_source", ""),
                "created": _when(pd.Timestamp(item.creation_timestamp, unit="ms", tz="UTC")),
                "promoted": _when(item.tags.get(tracking.PROMOTED_AT_TAG)),
                "decision": item.tags.get(tracking.PROMOTION_TAG, ""),
                "val_pr_auc": metrics.get("val_pr_auc"),
                "test_pr_auc": metrics.get("test_pr_auc"),
                "run_id": item.run_id,
            }
        )
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).sort_values("version", ascending=False).reset_index(drop=True)


def with_workspace_test_pr_auc(
    versions: pd.DataFrame, paths: ProjectPaths, scores: TestScores | None
) -> pd.DataFrame:
    """Fill the test PR-AUC of the version in models/model from its own test scores when
    MLflow has none: a fresh clone's first `make repro` registers the model it retrains
    byte for byte, and DVC then skips `evaluate` (the committed outputs are this model's),
    so nothing logged the number an analyst looks for first."""
    from fraudctl.model import registry_record
    from fraudctl.model.metrics import pr_auc

    record = registry_record.read_registry_record(paths.model_dir)
    if versions.empty or scores is None or not record.get("version"):
        return versions
    missing = (versions["version"] == int(record["version"])) & versions["test_pr_auc"].isna()
    if not missing.any():
        return versions
    filled = versions.copy()
    filled["test_pr_auc"] = filled["test_pr_auc"].astype(float)
    filled.loc[missing, "test_pr_auc"] = pr_auc(scores.labels, scores.scores)
    return filled


ROLE_NOTE = (
    "the latest version is also the champion: no challenger is waiting (a new `fraudctl "
    "train` registers one)"
)


def roles(aliases: str) -> str:
    """One role per version: a version holding both aliases is the champion, and the
    challenger alias on it only means nothing newer has been trained."""
    names = {a.strip() for a in aliases.split(",") if a.strip()}
    if {"champion", "challenger"} <= names:
        names.discard("challenger")
    return ", ".join(sorted(names))


# Headers as an analyst reads them (the files keep their snake_case names).
HEADERS = {
    "val_pr_auc": "validation PR-AUC",
    "test_pr_auc": "test PR-AUC",
    "pr_auc": "PR-AUC",
    "count": "rows",
    "selection_rate": "alert rate",
    "false_positive_rate": "false-positive rate",
    "psi": "PSI",
    "ks_statistic": "KS statistic",
    "ks_p_value": "KS p-value",
    "evidently_method": "Evidently test",
    "evidently_score": "Evidently score",
    "evidently_threshold": "Evidently threshold",
    "run_id": "MLflow run",
}


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns=lambda c: HEADERS.get(c, c.replace("_", " ")))


def trained_kind(paths: ProjectPaths) -> str | None:
    """The family of the model in models/model (train.json), None before `fraudctl train`."""
    import json

    try:
        return str(json.loads(paths.train_report.read_text(encoding="utf-8"))["model"])
    except (OSError, ValueError, KeyError):
        return None


def _when(value: Any) -> str:
    """One date format for every time in the table (UTC, to the minute)."""
    if value is None or value == "":
        return ""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def input_fields(paths: ProjectPaths) -> list[dict[str, Any]]:
    """The scoring form: one field per raw input the model takes, with its kind."""
    from fraudctl.model import bundle

    transform = bundle.load_model(paths.model_dir, lazy=True).transform
    fields: list[dict[str, Any]] = []
    if transform.needs_time:
        fields.append({"name": transform.time, "kind": "time"})
    for column in transform.entities.values():
        fields.append({"name": column, "kind": "id"})
    for column in transform.numeric:
        fields.append({"name": column, "kind": "number"})
    for column, vocabulary in transform.categorical.items():
        fields.append({"name": column, "kind": "category", "choices": vocabulary})
    return fields


@dataclass
class Scored:
    probability: float
    decision: str  # block | review | allow: the model's rules, then its threshold
    risk: str
    contributions: pd.Series | None  # log-odds per feature, largest first
    base_value: float | None
    features: pd.Series  # the model's inputs for this row
    rule: str | None = None  # the deciding rule; None: the model's threshold decided


def score_row(
    paths: ProjectPaths,
    raw: pd.DataFrame,
    background: pd.DataFrame | None,
    inputs: pd.DataFrame | None = None,
) -> Scored:
    """Probability, decision and risk band for one raw row, exactly as `fraudctl serve`
    computes them (same transform, same estimator, same rules through the model's
    ``decide_one``, same bands), and its SHAP values.

    ``inputs``: the row's model inputs when they are known already (a row of the test
    split, whose history features the features stage computed point in time; recomputing
    them against the prepared splits would count the row in its own history)."""
    from fraudctl.model import bundle
    from fraudctl.model.explainers import NotExplainable, contributions

    model = bundle.load_model(paths.model_dir)
    if inputs is None:
        history = prepared_history(paths) if model.transform.needs_history else None
        features = model.feature_frame(raw, history)[model.features]
    else:
        features = inputs[model.features].reset_index(drop=True)
    probability = float(model.score_features(features)[0])
    raw_row = raw.drop(columns=[model.transform.target], errors="ignore").iloc[0].to_dict()
    decided = model.decide_one(raw_row, features.iloc[0].to_numpy(dtype=float), probability)
    threshold = model.threshold
    bands = ("low", "medium", "high")  # as the API's: medium within half the threshold
    risk = bands[int(np.digitize(probability, [0.5 * threshold, threshold]))]
    try:
        values, base = contributions(model.estimator, model.kind, features, background)
        shap_values: pd.Series | None = pd.Series(values[0], index=model.features)
        shap_values = shap_values.reindex(shap_values.abs().sort_values(ascending=False).index)
    except NotExplainable:
        shap_values, base = None, None
    return Scored(
        probability=probability,
        decision=decided.decision,
        risk=risk,
        contributions=shap_values,
        base_value=base,
        features=features.iloc[0],
        rule=decided.rule,
    )


def prepared_history(paths: ProjectPaths) -> pd.DataFrame | None:
    """Every prepared row: the history a transaction's features look back over."""
    parts = [paths.split_file(s) for s in ("train", "validation", "test")]
    frames = [pd.read_parquet(p) for p in parts if p.exists()]
    return pd.concat(frames, ignore_index=True) if frames else None


def experiment_outputs(paths: ProjectPaths) -> dict[str, dict[str, Any] | None]:
    """Each experiment's headline and tables, or None when its stage has not run."""
    poison_dir = paths.experiment_dir("poison")
    fairness_dir = paths.experiment_dir("fairness")
    drift_dir = paths.experiment_dir("drift")
    poison = read_headline(paths, "poison")
    fairness = read_headline(paths, "fairness")
    drift = read_headline(paths, "drift")
    return {
        "poison": None
        if poison is None
        else {
            "headline": poison,
            "curves": {
                attack: frame
                for attack in ("random", "targeted", "injection")
                if (frame := optional_csv(poison_dir / f"{attack}.csv")) is not None
            },
        },
        "fairness": None
        if fairness is None
        else {
            "headline": fairness,
            "by_group": optional_csv(fairness_dir / "by_group.csv"),
            "shap": optional_json(fairness_dir / "shap_top_features.json"),
        },
        "drift": None
        if drift is None
        else {"headline": drift, "features": optional_csv(drift_dir / "features.csv")},
    }
