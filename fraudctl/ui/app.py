"""The `fraudctl ui` app: one Streamlit script, one page per sidebar choice.

Settings come from the environment `fraudctl ui` sets (fraudctl/ui/context.py lists them),
so Streamlit's AppTest can set them too. The layout of each page is in its own module;
every number comes from :mod:`fraudctl.ui.data` and :mod:`fraudctl.alerts`.
"""

from __future__ import annotations

import streamlit as st

from fraudctl.ui import data
from fraudctl.ui.context import Context, empty, test_scores

PAGES = (
    "Model",
    "Alert queue",
    "Score a transaction",
    "Experiments",
    "Registry",
    "Model card",
)

st.set_page_config(page_title="fraudctl", layout="wide")
ctx = Context.from_environment()


def page_registry(ctx: Context) -> None:
    from fraudctl.ui.model_page import registry_columns

    st.header("Registry")
    versions = data.registry_versions(ctx.params)
    if versions.empty:
        empty(f"A registered version of {ctx.params.tracking.registered_model}", "fraudctl train")
        return
    versions = data.with_workspace_test_pr_auc(versions, ctx.paths, test_scores(ctx.paths))
    both = versions["aliases"].str.contains("champion") & versions["aliases"].str.contains(
        "challenger"
    )
    versions = versions.assign(role=versions["aliases"].map(data.roles))
    st.dataframe(
        versions,
        hide_index=True,
        width="stretch",
        # the numbers an analyst compares first, the long decision text last
        column_order=[
            "version",
            "role",
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
            **registry_columns(),
            "decision": st.column_config.TextColumn("decision", width="large"),
            "trained on": st.column_config.TextColumn("trained on", width="medium"),
        },
    )
    if both.any():
        st.caption(f"v{int(versions[both]['version'].iloc[0])}: {data.ROLE_NOTE}.")
    if not ctx.admin_token:
        st.caption("Promotion from here is off: set FRAUDCTL_ADMIN_TOKEN to enable it.")
        return
    with st.form("promote"):
        version = st.selectbox("make champion", versions["version"].tolist(), key="promote")
        token = st.text_input("admin token", type="password", key="token")
        if st.form_submit_button("Promote"):
            import hmac

            if not hmac.compare_digest(token.strip(), ctx.admin_token):
                st.error("wrong admin token")
            else:
                from fraudctl import tracking

                previous = tracking.set_champion(ctx.params.tracking, str(version))
                st.success(f"v{version} is champion (was v{previous}).")


def page_card(ctx: Context) -> None:
    card = ctx.paths.reports_dir / "model_card.md"
    if not card.exists():
        st.header("Model card")
        empty("The model card", "fraudctl card")
        return
    # the card's own first line is its title: one title, not "Model card" above it again
    title, _, body = card.read_text(encoding="utf-8").partition("\n")
    st.header(title.lstrip("# ").strip() or "Model card")
    st.markdown(body)


def render(page: str) -> None:
    if page == "Model":
        from fraudctl.ui import model_page

        model_page.render(ctx)
    elif page == "Alert queue":
        from fraudctl.ui import queue_page

        queue_page.render(ctx)
    elif page == "Score a transaction":
        from fraudctl.ui import score_page

        score_page.render(ctx)
    elif page == "Experiments":
        from fraudctl.ui import experiments_page

        experiments_page.render(ctx)
    elif page == "Registry":
        page_registry(ctx)
    else:
        page_card(ctx)


# ?page=Experiments opens that page: a link to one view, and what the browser test uses
linked = st.query_params.get("page")
page = st.sidebar.radio(
    "page", PAGES, key="page", index=PAGES.index(linked) if linked in PAGES else 0
)
st.sidebar.caption(f"project: {ctx.root.resolve()}" + (f" · API: {ctx.api}" if ctx.api else ""))
render(page)
