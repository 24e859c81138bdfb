"""The Model page: headline numbers, the test curves, the what-if by alert count, and the
champion and challenger in the registry."""

from __future__ import annotations

import streamlit as st

from fraudctl.ui import charts, data
from fraudctl.ui.context import Context, empty, rank_scores, test_scores


def render(ctx: Context) -> None:
    st.header("Model")
    trained = data.optional_json(ctx.paths.train_report)
    metrics = data.optional_json(ctx.paths.metrics_file)
    if trained is None:
        empty("The model", "fraudctl train")
        return
    ranks = rank_scores(ctx.params, trained["model"])
    cols = st.columns(4)
    cols[0].metric("family", trained["model"])
    cols[1].metric("threshold", f"{trained['threshold']:.6g}")
    cols[2].metric("validation PR-AUC", f"{trained['validation']['pr_auc']:.4f}")
    cols[3].metric("test PR-AUC", f"{metrics['pr_auc']:.4f}" if metrics else "not evaluated")
    if ranks:
        st.caption(
            "This blend averages its members' ranks: its score orders transactions, it is "
            "not a probability (so the threshold sits close to 1)."
        )
    if metrics is None:
        empty("Test metrics", "fraudctl evaluate")
        return
    curves(ctx, ranks)
    scores = test_scores(ctx.paths)
    if scores is None:
        return
    what_if(ctx, scores)
    champion_and_challenger(ctx, scores)
    if ctx.api:
        from fraudctl.ui.live import api_metrics

        api_metrics(ctx.api)
    emissions = data.optional_json(ctx.paths.reports_dir / "emissions" / "train.json")
    if emissions and "energy_kwh" in emissions:
        st.caption(
            f"Training used {emissions['energy_kwh'] * 1000:.3g} Wh, "
            f"{emissions['emissions_kg_co2eq'] * 1000:.3g} g CO₂e (CodeCarbon, offline)."
        )


def curves(ctx: Context, ranks: bool) -> None:
    st.subheader("Curves (test split)")
    left, middle, right = st.columns(3)
    plots = ctx.paths.plots_dir
    pr = data.optional_csv(plots / "pr_curve.csv")
    if pr is not None:
        left.caption("precision-recall")
        left.altair_chart(
            charts.curve_chart(pr, "recall", "precision", "recall", "precision"), width="stretch"
        )
    roc = data.optional_csv(plots / "roc_curve.csv")
    if roc is not None:
        middle.caption("ROC")
        middle.altair_chart(
            charts.curve_chart(roc, "fpr", "tpr", "false-positive rate", "true-positive rate"),
            width="stretch",
        )
    calibration = data.optional_csv(plots / "calibration.csv")
    if calibration is not None and not calibration.empty:
        right.caption(
            "calibration: bins of equal expected frauds, log scales"
            + (" (the blend's score is a rank average, not a probability)" if ranks else "")
        )
        right.altair_chart(charts.calibration_chart(calibration), width="stretch")


def what_if(ctx: Context, scores: data.TestScores) -> None:
    st.subheader("What if the threshold were different?")
    current = data.alerts_at(scores, scores.threshold)
    frauds = int(scores.labels.sum())
    top = min(len(scores.scores), max(4 * current, 4 * frauds, 100))
    alerts = st.slider(
        "alerts on the test split (the riskiest transactions first)",
        1,
        top,
        min(max(current, 1), top),
        key="what_if",
        help=f"the model's threshold raises {current:,} alerts; the test split has "
        f"{frauds:,} frauds",
    )
    # at the model's own count, its own threshold (any score between raises the same alerts)
    threshold = scores.threshold if alerts == current else data.threshold_for_alerts(scores, alerts)
    result = data.what_if(scores, threshold, ctx.params.threshold.review_cost)
    cols = st.columns(4)
    cols[0].metric("threshold", f"{threshold:.6g}")
    cols[1].metric("alerts", f"{result['alerts']:,}")
    cols[2].metric("precision", f"{result['precision']:.3f}")
    cols[3].metric("recall", f"{result['recall']:.3f}")
    cols = st.columns(4)
    for col, label, key in (
        (cols[0], "fraud caught", "fraud_amount_caught"),
        (cols[1], "fraud missed", "fraud_amount_missed"),
        (cols[2], "expected cost", "expected_cost"),
    ):  # n/a: the data has no amount column
        col.metric(label, f"{result[key]:,.2f}" if key in result else "n/a")


def champion_and_challenger(ctx: Context, scores: data.TestScores | None) -> None:
    """Last on the page: reading the registry imports MLflow (about 1.5 s)."""
    versions = data.registry_versions(ctx.params)
    if versions.empty:
        return
    versions = data.with_workspace_test_pr_auc(versions, ctx.paths, scores)
    current = versions[versions["aliases"] != ""].copy()
    both = current["aliases"].str.contains("champion") & current["aliases"].str.contains(
        "challenger"
    )
    current["role"] = current["aliases"].map(data.roles)
    st.subheader("Champion and challenger")
    st.dataframe(
        current[["version", "role", "val_pr_auc", "test_pr_auc"]],
        hide_index=True,
        column_config=registry_columns(),
    )
    if both.any():
        st.caption(f"v{int(current[both]['version'].iloc[0])}: {data.ROLE_NOTE}.")


def registry_columns() -> dict:
    """The registry's numbers with their names and four places, shared by both tables."""
    return {
        "val_pr_auc": st.column_config.NumberColumn("validation PR-AUC", format="%.4f"),
        "test_pr_auc": st.column_config.NumberColumn(
            "test PR-AUC",
            format="%.4f",
            help="empty: not evaluated yet (the model in models/model: from its test scores)",
        ),
        "run_id": st.column_config.TextColumn("MLflow run"),
    }
