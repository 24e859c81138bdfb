"""The Experiments page: poisoning (each attack on its own scale), fairness by group and
drift per feature, with the headers an analyst reads."""

from __future__ import annotations

import streamlit as st

from fraudctl.ui import charts, data
from fraudctl.ui.context import Context, empty


def render(ctx: Context) -> None:
    st.header("Experiments")
    outputs = data.experiment_outputs(ctx.paths)
    poisoning(outputs["poison"])
    fairness(outputs["fairness"])
    drift(outputs["drift"])


def poisoning(poison: dict | None) -> None:
    st.subheader("Poisoning")
    if poison is None:
        empty("The poisoning experiment", "fraudctl experiment poison")
        return
    head = poison["headline"]
    st.write(
        f"Worst attack: **{head.worst_attack}** "
        f"({charts.attack_level(head.worst_attack, head.worst_level)}) drops test PR-AUC by "
        f"{head.worst_pr_auc_drop:.3f} (from {head.baseline_pr_auc:.3f}); "
        f"{head.defence_phrase()}."
    )
    st.caption(
        "Each attack has its own scale: random flips a share of all training labels, "
        "targeted relabels a share of the training frauds as legitimate, injection adds "
        "fraud-like rows labelled legitimate (so many per real fraud)."
    )
    for attack, frame in poison["curves"].items():
        st.caption(f"{attack}: test PR-AUC by {charts.ATTACK_LEVELS[attack][0]}")
        st.altair_chart(charts.attack_chart(frame, attack), width="stretch")


def fairness(fairness: dict | None) -> None:
    st.subheader("Fairness")
    if fairness is None:
        empty("The fairness experiment", "fraudctl experiment fairness")
        return
    head = fairness["headline"]
    mark = "passed" if head.checks_passed else "FAILED"
    st.write(
        f"Checks **{mark}**: equalized-odds difference "
        f"{head.equalized_odds_difference:.3f}, demographic-parity difference "
        f"{head.demographic_parity_difference:.3f}."
    )
    by_group = fairness["by_group"]
    if by_group is not None:
        shown = data.readable(by_group)
        st.dataframe(
            shown,
            hide_index=True,
            column_config={
                name: st.column_config.NumberColumn(name, format="%.4f")
                for name in shown.columns
                if name not in ("group", "rows", "frauds")
            },
        )


def drift(drift: dict | None) -> None:
    st.subheader("Drift")
    if drift is None:
        empty("The drift experiment", "fraudctl experiment drift")
        return
    head = drift["headline"]
    gate = "passes" if head.gate_passed else "FAILS"
    st.write(
        f"The gate **{gate}**: {head.drifted_share:.0%} of features drifted, "
        f"prediction PSI {head.prediction_psi:.3f}."
    )
    features = drift["features"]
    if features is not None:
        shown = data.readable(features)
        st.dataframe(
            shown,
            hide_index=True,
            column_config={  # p-values of 1e-90 are not rows of zeros
                name: st.column_config.NumberColumn(name, format="%.2e")
                for name in shown.columns
                if "p-value" in name
            },
        )
