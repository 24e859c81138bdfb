"""The Score a transaction page: a test row or typed values, scored as `fraudctl serve`
scores them, with the SHAP waterfall of why."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from fraudctl.paths import ProjectPaths
from fraudctl.ui import data
from fraudctl.ui.context import Context, empty, model_stamp, rank_scores, test_scores


def transaction_form(
    paths: ProjectPaths, scores: data.TestScores
) -> tuple[pd.DataFrame, pd.DataFrame | None] | None:
    """The raw row to score, and its model inputs when it is a row of the test split."""
    fields = data.input_fields(paths)
    source = st.radio(
        "transaction", ("a row of the test split", "my own values"), horizontal=True, key="source"
    )
    raw_columns = [f["name"] for f in fields]
    rows = scores.raw_rows
    if source == "a row of the test split":
        position = st.number_input(
            "test row", 0, len(rows) - 1, int(scores.scores.argmax()), key="row"
        )
        chosen = [int(position)]
        return rows.iloc[chosen][raw_columns].reset_index(drop=True), scores.frame.iloc[chosen]
    example = rows.iloc[0]
    with st.form("transaction"):
        values = {}
        for field in fields:
            name = field["name"]
            if field["kind"] == "category":
                values[name] = st.selectbox(name, [*field["choices"], "(a value never seen)"])
            elif field["kind"] == "time":
                values[name] = st.text_input(name, str(example[name]))
            else:
                values[name] = st.number_input(name, value=float(example[name]), format="%.6f")
        if not st.form_submit_button("Score"):
            return None
    row = pd.DataFrame([values])
    for field in fields:
        if field["kind"] == "time" and pd.api.types.is_datetime64_any_dtype(rows[field["name"]]):
            row[field["name"]] = pd.to_datetime(row[field["name"]])
        if field["kind"] == "id":
            row[field["name"]] = row[field["name"]].astype("int64")
    return row, None


def render(ctx: Context) -> None:
    st.header("Score a transaction")
    scores = test_scores(ctx.paths)
    if scores is None:
        empty("The model or the test split", "fraudctl train")
        return
    chosen = transaction_form(ctx.paths, scores)
    if chosen is None:
        return
    raw, inputs = chosen
    background = _background(str(ctx.paths.root), model_stamp(ctx.paths))
    scored = data.score_row(ctx.paths, raw, background, inputs)
    ranks = rank_scores(ctx.params, data.trained_kind(ctx.paths))
    cols = st.columns(4)
    cols[0].metric("score (rank)" if ranks else "probability", f"{scored.probability:.6f}")
    cols[1].metric("decision", scored.decision)
    cols[2].metric("decided by", f"rule {scored.rule}" if scored.rule else "the threshold")
    cols[3].metric("risk band", scored.risk)
    st.session_state["probability"] = scored.probability
    if ctx.api:
        from fraudctl.ui.live import score_through_api

        score_through_api(ctx.api, raw)
    if scored.contributions is None:
        st.info("This model family has no exact explainer for a single row.")
        return
    if ranks:
        st.subheader("Why: SHAP contributions to the blend's score")
        st.caption(
            "The blend's score is a rank average, not a probability: the contributions are "
            "on the log-odds of that rank, which orders features by influence but is no "
            "change in odds of fraud."
        )
    else:
        st.subheader("Why: SHAP contributions (log-odds of fraud)")
    st.pyplot(_waterfall(scored))


@st.cache_resource
def _background(root: str, stamp: float) -> pd.DataFrame | None:
    from fraudctl.model import bundle

    paths = ProjectPaths(Path(root))
    scores = data.test_scores(paths)
    if scores is None:
        return None
    model = bundle.load_model(paths.model_dir, lazy=True)
    return scores.frame[model.features].sample(n=min(200, len(scores.frame)), random_state=0)


def _waterfall(scored: data.Scored):  # type: ignore[no-untyped-def]
    from fraudctl.model.plots import pyplot

    plt = pyplot()
    import shap

    shap.plots.waterfall(
        shap.Explanation(
            values=scored.contributions.to_numpy(),
            base_values=scored.base_value,
            data=scored.features[scored.contributions.index].to_numpy(),
            feature_names=list(scored.contributions.index),
        ),
        max_display=12,
        show=False,
    )
    figure = plt.gcf()
    plt.close(figure)
    return figure
