"""The `fraudctl ui` app: one Streamlit script, one page per sidebar choice.

Settings come from the environment `fraudctl ui` sets (so Streamlit's AppTest can set them
too): FRAUDCTL_UI_PARAMS (params file), FRAUDCTL_UI_ROOT (project directory),
FRAUDCTL_UI_API (a running `fraudctl serve`, optional) and FRAUDCTL_ADMIN_TOKEN (enables
promotion from the Registry page). The layout is here; every number comes from
:mod:`fraudctl.ui.data`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st

from fraudctl.config import load_params
from fraudctl.paths import ProjectPaths
from fraudctl.ui import charts, data

PAGES = ("Model", "Score a transaction", "Experiments", "Registry", "Model card")
ROOT = Path(os.environ.get("FRAUDCTL_UI_ROOT", "."))
PARAMS_FILE = Path(os.environ.get("FRAUDCTL_UI_PARAMS", "params.yaml"))
API = os.environ.get("FRAUDCTL_UI_API", "").rstrip("/")
ADMIN_TOKEN = os.environ.get("FRAUDCTL_ADMIN_TOKEN", "").strip()

st.set_page_config(page_title="fraudctl", layout="wide")
params = load_params(PARAMS_FILE if PARAMS_FILE.is_absolute() else ROOT / PARAMS_FILE)
paths = ProjectPaths(ROOT)


@st.cache_resource(show_spinner="Scoring the test split…")
def cached_test_scores(model_stamp: float) -> data.TestScores | None:
    return data.test_scores(paths)


def model_stamp() -> float:
    """Reload the model when `fraudctl train` replaces it."""
    mlmodel = paths.model_dir / "MLmodel"
    return mlmodel.stat().st_mtime if mlmodel.exists() else 0.0


def empty(what: str, command: str) -> None:
    """The empty state of a page or section whose stage has not run."""
    st.info(f"{what}: not produced yet. Run `{command}` (or `dvc repro`).")


def page_model() -> None:
    st.header("Model")
    trained = data.optional_json(paths.train_report)
    metrics = data.optional_json(paths.metrics_file)
    if trained is None:
        empty("The model", "fraudctl train")
        return
    cols = st.columns(4)
    cols[0].metric("family", trained["model"])
    cols[1].metric("threshold", f"{trained['threshold']:.4f}")
    cols[2].metric("validation PR-AUC", f"{trained['validation']['pr_auc']:.4f}")
    cols[3].metric("test PR-AUC", f"{metrics['pr_auc']:.4f}" if metrics else "not evaluated")
    if metrics is None:
        empty("Test metrics", "fraudctl evaluate")
        return
    st.subheader("Curves (test split)")
    curve_columns = st.columns(3)
    for column, (name, x, y) in zip(
        curve_columns,
        (
            ("pr_curve", "recall", "precision"),
            ("roc_curve", "fpr", "tpr"),
            ("calibration", "predicted", "observed"),
        ),
        strict=True,
    ):
        frame = data.optional_csv(paths.plots_dir / f"{name}.csv")
        if frame is not None:
            caption = name.replace("_", " ")
            if name == "calibration" and rank_scores(trained["model"]):
                caption += " (the blend's score is a rank average, not a probability)"
            column.caption(caption)
            column.line_chart(frame, x=x, y=y, height=260)
    scores = cached_test_scores(model_stamp())
    if scores is None:
        return
    st.subheader("What if the threshold were different?")
    threshold = st.slider(
        "threshold",
        0.0,
        1.0,
        float(round(scores.threshold, 4)),
        step=0.001,
        format="%.3f",
        key="what_if",
    )
    result = data.what_if(scores, threshold, params.threshold.review_cost)
    cols = st.columns(6)
    cols[0].metric("alerts", f"{result['alerts']:,}")
    cols[1].metric("precision", f"{result['precision']:.3f}")
    cols[2].metric("recall", f"{result['recall']:.3f}")
    for col, label, key in (
        (cols[3], "fraud caught", "fraud_amount_caught"),
        (cols[4], "fraud missed", "fraud_amount_missed"),
        (cols[5], "expected cost", "expected_cost"),
    ):  # n/a: the data has no amount column
        col.metric(label, f"{result[key]:,.2f}" if key in result else "n/a")
    champion_and_challenger()
    if API:
        api_metrics()
    emissions = data.optional_json(paths.reports_dir / "emissions" / "train.json")
    if emissions and "energy_kwh" in emissions:
        st.caption(
            f"Training used {emissions['energy_kwh'] * 1000:.3g} Wh, "
            f"{emissions['emissions_kg_co2eq'] * 1000:.3g} g CO₂e (CodeCarbon, offline)."
        )


def champion_and_challenger() -> None:
    """Last on the Model page: reading the registry imports MLflow (about 1.5 s)."""
    versions = data.registry_versions(params)
    if not versions.empty:
        current = versions[versions["aliases"] != ""][
            ["version", "aliases", "val_pr_auc", "test_pr_auc"]
        ]
        st.subheader("Champion and challenger")
        st.dataframe(current, hide_index=True)


def transaction_form(scores: data.TestScores) -> pd.DataFrame | None:
    fields = data.input_fields(paths)
    source = st.radio(
        "transaction", ("a row of the test split", "my own values"), horizontal=True, key="source"
    )
    raw_columns = [f["name"] for f in fields]
    if source == "a row of the test split":
        position = st.number_input(
            "test row", 0, len(scores.frame) - 1, int(scores.scores.argmax()), key="row"
        )
        return scores.frame.iloc[[int(position)]][raw_columns].reset_index(drop=True)
    example = scores.frame.iloc[0]
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
        if field["kind"] == "time" and pd.api.types.is_datetime64_any_dtype(
            scores.frame[field["name"]]
        ):
            row[field["name"]] = pd.to_datetime(row[field["name"]])
        if field["kind"] == "id":
            row[field["name"]] = row[field["name"]].astype("int64")
    return row


def page_score() -> None:
    st.header("Score a transaction")
    scores = cached_test_scores(model_stamp())
    if scores is None:
        empty("The model or the test split", "fraudctl train")
        return
    raw = transaction_form(scores)
    if raw is None:
        return
    background = _background()
    scored = data.score_row(paths, raw, background)
    cols = st.columns(3)
    label = "score (rank)" if rank_scores(str(data.trained_kind(paths))) else "probability"
    cols[0].metric(label, f"{scored.probability:.6f}")
    cols[1].metric("decision", scored.decision)
    cols[2].metric("risk band", scored.risk)
    st.session_state["probability"] = scored.probability
    if API:
        _score_through_api(raw)
    if scored.contributions is None:
        st.info("This model family has no exact explainer for a single row.")
        return
    st.subheader("Why: SHAP contributions (log-odds)")
    st.pyplot(_waterfall(scored))


@st.cache_resource
def _background_cached(stamp: float) -> pd.DataFrame | None:
    from fraudctl.model import bundle

    scores = data.test_scores(paths)
    if scores is None:
        return None
    model = bundle.load_model(paths.model_dir, lazy=True)
    return scores.frame[model.features].sample(n=min(200, len(scores.frame)), random_state=0)


def _background() -> pd.DataFrame | None:
    return _background_cached(model_stamp())


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


def _score_through_api(raw: pd.DataFrame) -> None:
    import httpx

    body = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in raw.iloc[0].items()}
    body = {k: (v.item() if hasattr(v, "item") else v) for k, v in body.items()}
    try:
        answer = httpx.post(f"{API}/predict?record=false", json=body, timeout=5).json()
        st.caption(f"{API}/predict says: {answer}")
    except httpx.HTTPError as exc:
        st.warning(f"{API} did not answer: {exc}")


def api_metrics() -> None:
    """A running server's own counters, read from its /metrics."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = httpx.get(f"{API}/metrics", timeout=5).text
    except httpx.HTTPError as exc:
        st.warning(f"{API}/metrics did not answer: {exc}")
        return
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in ("fraudctl_predictions_total", "fraudctl_http_requests_total"):
                key = sample.name + "".join(
                    f" {k}={v}" for k, v in sorted(sample.labels.items()) if k == "decision"
                )
                totals[key] = totals.get(key, 0.0) + sample.value
            if sample.name == "fraudctl_decision_threshold":
                totals["threshold"] = sample.value
    st.subheader(f"Live: {API}")
    st.dataframe(pd.Series(totals, name="value").to_frame(), use_container_width=True)


def rank_scores(kind: str) -> bool:
    """A rank-average blend's score orders transactions but is no probability: the web app
    then says "score", and its calibration chart says what it shows."""
    from fraudctl.model.families import ENSEMBLE_FAMILY, model_spec

    if kind != ENSEMBLE_FAMILY:
        return False
    return model_spec(params.model).section(ENSEMBLE_FAMILY).method == "rank_average"


def page_experiments() -> None:
    st.header("Experiments")
    outputs = data.experiment_outputs(paths)
    st.subheader("Poisoning")
    poison = outputs["poison"]
    if poison is None:
        empty("The poisoning experiment", "fraudctl experiment poison")
    else:
        head = poison["headline"]
        st.write(
            f"Worst attack: **{head.worst_attack}** at {head.worst_level:g} drops test "
            f"PR-AUC by {head.worst_pr_auc_drop:.3f} (from {head.baseline_pr_auc:.3f}); "
            f"{head.defence_phrase()}."
        )
        for attack, frame in poison["curves"].items():
            st.caption(f"{attack}: test PR-AUC by attack level")
            st.altair_chart(charts.attack_chart(frame), use_container_width=True)
    st.subheader("Fairness")
    fairness = outputs["fairness"]
    if fairness is None:
        empty("The fairness experiment", "fraudctl experiment fairness")
    else:
        head = fairness["headline"]
        mark = "passed" if head.checks_passed else "FAILED"
        st.write(
            f"Checks **{mark}**: equalized-odds difference "
            f"{head.equalized_odds_difference:.3f}, demographic-parity difference "
            f"{head.demographic_parity_difference:.3f}."
        )
        if fairness["by_group"] is not None:
            st.dataframe(fairness["by_group"], hide_index=True)
    st.subheader("Drift")
    drift = outputs["drift"]
    if drift is None:
        empty("The drift experiment", "fraudctl experiment drift")
    else:
        head = drift["headline"]
        gate = "passes" if head.gate_passed else "FAILS"
        st.write(
            f"The gate **{gate}**: {head.drifted_share:.0%} of features drifted, "
            f"prediction PSI {head.prediction_psi:.3f}."
        )
        if drift["features"] is not None:
            st.dataframe(
                drift["features"],
                hide_index=True,
                column_config={  # p-values of 1e-90 are not rows of zeros
                    name: st.column_config.NumberColumn(name, format="%.2e")
                    for name in drift["features"].columns
                    if "p_value" in name
                },
            )


def page_registry() -> None:
    st.header("Registry")
    versions = data.registry_versions(params)
    if versions.empty:
        empty(f"A registered version of {params.tracking.registered_model}", "fraudctl train")
        return
    scores = cached_test_scores(model_stamp())
    versions = data.with_workspace_test_pr_auc(versions, paths, scores)
    st.dataframe(
        versions,
        hide_index=True,
        use_container_width=True,
        # the numbers an analyst compares first, the long decision text last
        column_order=[
            "version",
            "aliases",
            "family",
            "trained on",
            "val_pr_auc",
            "test_pr_auc",
            "created",
            "promoted",
            "decision",
            "run_id",
        ],
        column_config={
            "decision": st.column_config.TextColumn("decision", width="large"),
            "trained on": st.column_config.TextColumn("trained on", width="medium"),
            "val_pr_auc": st.column_config.NumberColumn("validation PR-AUC", format="%.4f"),
            "test_pr_auc": st.column_config.NumberColumn(
                "test PR-AUC",
                format="%.4f",
                help="empty: not evaluated yet (the model in models/model: from its test scores)",
            ),
        },
    )
    if not ADMIN_TOKEN:
        st.caption("Promotion from here is off: set FRAUDCTL_ADMIN_TOKEN to enable it.")
        return
    with st.form("promote"):
        version = st.selectbox("make champion", versions["version"].tolist(), key="promote")
        token = st.text_input("admin token", type="password", key="token")
        if st.form_submit_button("Promote"):
            import hmac

            if not hmac.compare_digest(token.strip(), ADMIN_TOKEN):
                st.error("wrong admin token")
            else:
                from fraudctl import tracking

                previous = tracking.set_champion(params.tracking, str(version))
                st.success(f"v{version} is champion (was v{previous}).")


def page_card() -> None:
    st.header("Model card")
    card = paths.reports_dir / "model_card.md"
    if not card.exists():
        empty("The model card", "fraudctl card")
        return
    st.markdown(card.read_text(encoding="utf-8"))


# ?page=Experiments opens that page: a link to one view, and what the browser test uses
linked = st.query_params.get("page")
page = st.sidebar.radio(
    "page", PAGES, key="page", index=PAGES.index(linked) if linked in PAGES else 0
)
st.sidebar.caption(f"project: {ROOT.resolve()}" + (f" · API: {API}" if API else ""))
{
    "Model": page_model,
    "Score a transaction": page_score,
    "Experiments": page_experiments,
    "Registry": page_registry,
    "Model card": page_card,
}[page]()
