"""Data drift between the training data and a newer batch, and a gate that can trigger retraining.

Reference is the training split; current is the test split (the most recent data) unless a
file is given, checked like ``fraudctl data`` input. Evidently's data-drift preset does the
per-feature tests (behind ``evidently_adapter``); PSI and Kolmogorov-Smirnov statistics are
computed here for every feature and for the model's predicted probabilities, and the
fraud rate is compared when the batch has labels. Both sides are sampled to
``max_rows`` so the stage stays fast; the report says when that happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.config import DataParams, DriftParams
from fraudctl.data.schema import Schema
from fraudctl.data.validate import validate_table
from fraudctl.errors import DataError
from fraudctl.experiments.common import load_workspace, write_results
from fraudctl.experiments.results import DriftOutcome
from fraudctl.io import read_table, relocated, staged_copy, write_text, write_with
from fraudctl.model.bundle import load_model
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet

EPSILON = 1e-6


def psi(reference: np.ndarray, current: np.ndarray, bins: int) -> float:
    """Population stability index over quantile bins of the reference."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_counts = np.bincount(
        np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1
    )
    cur_counts = np.bincount(
        np.searchsorted(edges, current, side="right"), minlength=edges.size + 1
    )
    ref_share = np.maximum(ref_counts / ref_counts.sum(), EPSILON)
    cur_share = np.maximum(cur_counts / cur_counts.sum(), EPSILON)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def ks(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    from scipy.stats import ks_2samp

    result = ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue)


def simulate_shift(frame: pd.DataFrame, schema: Schema, strength: float, seed: int) -> pd.DataFrame:
    """A shifted copy for demonstrations: the first ten non-amount features move by
    ``strength`` standard deviations, and amounts grow by a factor ``1 + strength``."""
    rng = np.random.default_rng(seed)
    shifted = frame.copy()
    moved = [c for c in schema.features if c not in {schema.amount, *schema.categorical}][:10]
    for column in moved:
        spread = float(frame[column].std(ddof=0)) or 1.0
        shifted[column] = (
            frame[column] + strength * spread + rng.normal(0, 0.1 * spread, len(frame))
        )
    if schema.amount:
        shifted[schema.amount] = (frame[schema.amount] * (1 + strength)).round(2)
    return shifted


def load_current(path: Path, data: DataParams, paths: ProjectPaths) -> pd.DataFrame:
    """A user's raw batch, validated like `fraudctl data` input (labels optional), turned into
    model inputs by the model's own transform, with the prepared data as history."""
    from fraudctl.data.splits import load_history
    from fraudctl.features.build import passthrough_columns

    model = load_model(paths.model_dir)
    raw = read_table(path)
    frame, raw_schema, _ = validate_table(
        raw,
        data.schema_,
        source=str(path),
        drop_duplicates=False,
        require_target=False,
        max_amount=data.max_amount,
    )
    missing = [c for c in model.transform.raw_columns if c not in frame.columns]
    if missing:  # the model was trained on columns params no longer declare
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} that the model reads")
    history = None
    if model.transform.needs_history:
        history = load_history(paths)
    features = model.feature_frame(frame, history)
    keep = [c for c in passthrough_columns(raw_schema) if c in frame and c not in features]
    return pd.concat([features, frame[keep]], axis=1)


@dataclass(frozen=True)
class PsiGate:
    """A gate on PSI alone: the share of inputs whose PSI exceeds :data:`PSI_SHIFT`, and the
    PSI of the scores. Cheap enough for every day of a loop (no Evidently)."""

    shifted: list[str]
    shifted_share: float
    prediction_psi: float
    failed: bool
    reason: str


def psi_gate(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    reference_scores: np.ndarray,
    current_scores: np.ndarray,
    bins: int,
    max_shifted_share: float,
    max_prediction_psi: float,
) -> PsiGate:
    """``reference`` and ``current`` hold the same input columns; a share of them above
    ``max_shifted_share`` or a score PSI above ``max_prediction_psi`` fails the gate."""
    columns = list(reference.columns)
    shifted = [
        name
        for name in columns
        if psi(reference[name].to_numpy(dtype=float), current[name].to_numpy(dtype=float), bins)
        > PSI_SHIFT
    ]
    scores_psi = psi(reference_scores, current_scores, bins)
    share = len(shifted) / len(columns) if columns else 0.0
    reason = (
        f"{len(shifted)} of {len(columns)} inputs shifted (PSI > {PSI_SHIFT:g}"
        f"{': ' + ', '.join(shifted[:4]) if shifted else ''}), score PSI {scores_psi:.3f}; "
        f"limits {max_shifted_share:.0%} of inputs, score PSI {max_prediction_psi:g}"
    )
    failed = share > max_shifted_share or scores_psi > max_prediction_psi
    return PsiGate(shifted, share, scores_psi, failed, reason)


def _sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return frame if len(frame) <= rows else frame.sample(n=rows, random_state=seed)


@dataclass
class DriftResult:
    outcome: DriftOutcome
    outputs: list[Path]
    directory: Path

    @property
    def headline(self) -> str:
        return self.outcome.headline

    @property
    def drift_detected(self) -> bool:
        return self.outcome.drift_detected


def run_drift(
    settings: DriftParams,
    data: DataParams,
    seed: int,
    paths: ProjectPaths,
    current_path: Path | None = None,
    simulate: bool = False,
    progress: Progress = quiet,
    on_written: Callable[[Path, dict[str, Any]], None] | None = None,
) -> DriftResult:
    """Reference (train split) against current (the test split, or a user's batch): the
    gate's verdict and every feature's shift. ``on_written`` sees the output folder before
    it replaces the previous one (the stage logs it)."""
    from fraudctl.experiments.evidently_adapter import data_drift

    workspace = load_workspace(paths)
    schema = workspace.schema
    if current_path is not None:
        progress(f"reading {current_path}")
        current_full = load_current(current_path, data, paths)
        current_name = str(current_path)
    else:
        current_full = workspace.test
        current_name = "test split"
    if simulate:
        current_full = simulate_shift(current_full, schema, settings.simulate_shift, seed)
        current_name += f" (simulated shift {settings.simulate_shift:g})"
    reference = _sample(workspace.train, settings.max_rows, seed)
    current = _sample(current_full, settings.max_rows, seed)
    features = list(schema.features)

    progress("scoring both samples")
    model = load_model(paths.model_dir)
    model.require_trained_on(paths, paths.model_dir)
    ref_scores = model.score_features(reference)
    cur_scores = model.score_features(current)

    progress("PSI and Kolmogorov-Smirnov per feature")
    per_feature = {}
    for column in features:
        statistic, p_value = ks(reference[column].to_numpy(), current[column].to_numpy())
        per_feature[column] = {
            "psi": psi(reference[column].to_numpy(), current[column].to_numpy(), settings.psi_bins),
            "ks_statistic": statistic,
            "ks_p_value": p_value,
        }

    # A simulated shift or a user's batch is a check, not the pipeline's result: it goes
    # to its own folder and never touches the tracked reports/drift outputs.
    name = "drift" if current_path is None and not simulate else "drift-check"
    out_dir = paths.experiment_dir(name)
    with staged_copy(out_dir) as directory:
        progress("Evidently data-drift report")
        evidently = data_drift(
            reference[features],
            current[features],
            directory / "report.html",
            directory / "evidently.json",
            categorical=list(schema.categorical),
        )
        for column in evidently.columns:
            if column.column in per_feature:
                per_feature[column.column].update(
                    {
                        "evidently_method": column.method,
                        "evidently_score": column.score,
                        "evidently_threshold": column.threshold,
                        "drifted": column.drifted,
                    }
                )

        ks_pred, ks_pred_p = ks(ref_scores, cur_scores)
        prediction = {
            "psi": psi(ref_scores, cur_scores, settings.psi_bins),
            "ks_statistic": ks_pred,
            "ks_p_value": ks_pred_p,
            "mean_reference": float(ref_scores.mean()),
            "mean_current": float(cur_scores.mean()),
        }
        target = _target_drift(reference, current, schema)
        reasons = []
        if evidently.drifted_share > settings.max_drifted_share:
            reasons.append(
                f"{evidently.drifted_share:.0%} of features drifted "
                f"(limit {settings.max_drifted_share:.0%})"
            )
        if prediction["psi"] > settings.max_prediction_psi:
            reasons.append(
                f"prediction PSI {prediction['psi']:.3f} (limit {settings.max_prediction_psi:g})"
            )
        detected = bool(reasons)
        drifted = sorted(
            (c for c, v in per_feature.items() if v.get("drifted")),
            key=lambda c: -per_feature[c]["psi"],
        )
        headline = (
            f"drift: {evidently.drifted_count} of {len(features)} features"
            + (f" ({', '.join(drifted[:5])})" if drifted else "")
            + f"; prediction PSI {prediction['psi']:.3f}; "
            + ("gate FAILED: " + "; ".join(reasons) if detected else "gate passed")
        )
        metrics = {
            "drift_detected": detected,
            "reasons": reasons,
            "reference": "train split",
            "current": current_name,
            "rows": {
                "reference": len(reference),
                "reference_available": len(workspace.train),
                "current": len(current),
                "current_available": len(current_full),
            },
            "sampled": len(reference) < len(workspace.train) or len(current) < len(current_full),
            "drifted_features": evidently.drifted_count,
            "drifted_share": evidently.drifted_share,
            "limits": {
                "max_drifted_share": settings.max_drifted_share,
                "max_prediction_psi": settings.max_prediction_psi,
            },
            "prediction": prediction,
            "target": target,
            "features": per_feature,
            "headline": headline,
        }
        outputs = _write(directory, metrics, settings)
        outputs += [directory / "report.html", directory / "evidently.json"]
        if on_written is not None:
            on_written(directory, metrics)
    outputs = relocated(outputs, directory, out_dir)
    return DriftResult(DriftOutcome.from_results(metrics), outputs=outputs, directory=out_dir)


def _target_drift(
    reference: pd.DataFrame, current: pd.DataFrame, schema: Schema
) -> dict[str, float] | None:
    if schema.target not in current.columns:
        return None
    from scipy.stats import chi2_contingency

    ref_fraud = int(reference[schema.target].sum())
    cur_fraud = int(current[schema.target].sum())
    table = [[ref_fraud, len(reference) - ref_fraud], [cur_fraud, len(current) - cur_fraud]]
    p_value = float(chi2_contingency(table)[1]) if min(ref_fraud + cur_fraud, 1) else 1.0
    return {
        "fraud_rate_reference": ref_fraud / len(reference),
        "fraud_rate_current": cur_fraud / len(current),
        "chi2_p_value": p_value,
    }


def _write(directory: Path, metrics: dict[str, Any], settings: DriftParams) -> list[Path]:
    table = pd.DataFrame(
        [{"feature": name, **values} for name, values in metrics["features"].items()]
    )
    table = table.sort_values("psi", ascending=False)
    features_path = directory / "features.csv"
    # Six significant digits: the last digits of a statistic differ between machines, and
    # a tracked file must not change with them.
    write_with(features_path, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
    headline = {
        "gate_passed": not metrics["drift_detected"],
        "drifted_share": metrics["drifted_share"],
        "prediction_psi": metrics.get("prediction", {}).get("psi"),
    }
    written = write_results(directory, metrics, headline)
    png = directory / "psi.png"
    _plot(png, table, settings)
    summary_path = directory / "summary.md"
    write_text(summary_path, render_summary(metrics, table))
    return [*written, features_path, png, summary_path]


def _plot(path: Path, table: pd.DataFrame, settings: DriftParams) -> None:
    from fraudctl.model.plots import pyplot, save_figure

    # Every drifted feature, then the highest PSI among the rest, up to 15 bars in all
    # (more when more than 15 drifted): a drifted feature is never left out of the picture.
    drifted = table["drifted"].fillna(False).astype(bool) if "drifted" in table else None
    shown = table if drifted is None else pd.concat([table[drifted], table[~drifted]])
    shown = shown.head(max(15, int(drifted.sum()) if drifted is not None else 0))
    top = shown.sort_values("psi").reset_index(drop=True)
    fig, ax = pyplot().subplots(figsize=(6.5, max(4.5, 0.28 * len(top) + 1.5)), dpi=100)
    flags = top["drifted"].fillna(False) if "drifted" in top else [False] * len(top)
    ax.barh(top["feature"], top["psi"], color=["tab:red" if d else "tab:blue" for d in flags])
    ax.axvline(
        PSI_SHIFT, ls="--", color="grey", lw=1, label=f"PSI {PSI_SHIFT:g}: a significant shift"
    )
    ax.legend(loc="lower right")
    ax.set(
        xlabel="PSI, train → current (red: drifted by Evidently's per-feature test)",
        title=f"Feature drift: {len(top)} of {len(table)} features shown, "
        f"{int(flags.sum()) if hasattr(flags, 'sum') else 0} drifted",
    )
    save_figure(fig, path)


# The usual reading of a population stability index: above 0.2 the distribution has
# shifted significantly. A reference line only: the gate counts Evidently's flags.
PSI_SHIFT = 0.2


def render_summary(metrics: dict[str, Any], table: pd.DataFrame) -> str:
    rows = metrics["rows"]
    lines = [
        "# Data drift",
        "",
        metrics["headline"] + ".",
        "",
        f"Reference: {metrics['reference']} ({rows['reference']:,} of "
        f"{rows['reference_available']:,} rows); current: {metrics['current']} "
        f"({rows['current']:,} of {rows['current_available']:,} rows)"
        + (" — both sampled to keep the stage fast." if metrics["sampled"] else "."),
        "",
        "| feature | PSI | KS | Evidently score | drifted |",
        "| --- | --- | --- | --- | --- |",
    ]
    for _, row in table.head(10).iterrows():
        lines.append(
            f"| {row['feature']} | {row['psi']:.3f} | {row['ks_statistic']:.3f} | "
            f"{row.get('evidently_score', float('nan')):.3f} | "
            f"{'yes' if row.get('drifted') else 'no'} |"
        )
    prediction = metrics["prediction"]
    lines += [
        "",
        f"Predicted probability: PSI {prediction['psi']:.3f}, KS "
        f"{prediction['ks_statistic']:.3f}, mean {prediction['mean_reference']:.5f} → "
        f"{prediction['mean_current']:.5f}.",
    ]
    if metrics["target"]:
        target = metrics["target"]
        lines.append(
            f"Fraud rate: {target['fraud_rate_reference']:.4%} → "
            f"{target['fraud_rate_current']:.4%} (chi² p = {target['chi2_p_value']:.3g})."
        )
    lines += ["", "![PSI by feature](psi.png)", "", "Full Evidently report: `report.html`.", ""]
    return "\n".join(lines)
