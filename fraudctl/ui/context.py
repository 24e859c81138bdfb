"""What every page of the web app reads: the settings `fraudctl ui` passes in the
environment (so Streamlit's AppTest can set them too), and the caches shared by pages.

- FRAUDCTL_UI_ROOT, FRAUDCTL_UI_PARAMS: the project and its params file;
- FRAUDCTL_UI_API: a running `fraudctl serve` (optional);
- FRAUDCTL_ADMIN_TOKEN: enables promotion from the Registry page;
- FRAUDCTL_ALERT_STORE: the alert queue (default ``sqlite:///data/alerts/alerts.db``);
- FRAUDCTL_ONLINE_STORE: where analysts' decisions go as labels (default: the project's
  online store, when it exists);
- FRAUDCTL_UI_ANALYST: the name decisions are recorded under (the page asks otherwise).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from fraudctl.alerts.store import DEFAULT_ALERT_STORE, alert_store_uri
from fraudctl.config import Params, load_params
from fraudctl.paths import DEFAULT_ONLINE_STORE, ProjectPaths
from fraudctl.ui import data


def _in_project(uri: str, root: Path) -> str:
    """A relative SQLite path is the project's, wherever Streamlit was started."""
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_absolute():
        return f"sqlite:///{(root / uri.removeprefix('sqlite:///')).resolve()}"
    return uri


@dataclass(frozen=True)
class Context:
    root: Path
    params: Params
    paths: ProjectPaths
    api: str
    admin_token: str
    alerts_uri: str
    online_uri: str | None  # None: decisions are not sent as labels
    analyst: str

    @classmethod
    def from_environment(cls) -> Context:
        root = Path(os.environ.get("FRAUDCTL_UI_ROOT", "."))
        params_file = Path(os.environ.get("FRAUDCTL_UI_PARAMS", "params.yaml"))
        online = os.environ.get("FRAUDCTL_ONLINE_STORE", "").strip()
        if not online:  # the project's own store, only if it was ever filled
            default = _in_project(DEFAULT_ONLINE_STORE, root)
            exists = Path(default.removeprefix("sqlite:///")).exists()
            online = default if exists else ""
        return cls(
            root=root,
            params=load_params(params_file if params_file.is_absolute() else root / params_file),
            paths=ProjectPaths(root),
            api=os.environ.get("FRAUDCTL_UI_API", "").rstrip("/"),
            admin_token=os.environ.get("FRAUDCTL_ADMIN_TOKEN", "").strip(),
            # the store `fraudctl serve` and `fraudctl stream` queue to, by the same rule
            alerts_uri=_in_project(
                alert_store_uri(
                    os.environ.get("FRAUDCTL_ALERT_STORE", ""),
                    os.environ.get("FRAUDCTL_ONLINE_STORE", "").strip(),
                )
                or DEFAULT_ALERT_STORE,
                root,
            ),
            online_uri=_in_project(online, root) if online else None,
            analyst=os.environ.get("FRAUDCTL_UI_ANALYST", "").strip(),
        )


def empty(what: str, command: str) -> None:
    """The empty state of a page or section whose stage has not run."""
    st.info(f"{what}: not produced yet. Run `{command}` (or `dvc repro`).")


def model_stamp(paths: ProjectPaths) -> float:
    """Reload the model when `fraudctl train` replaces it."""
    mlmodel = paths.model_dir / "MLmodel"
    return mlmodel.stat().st_mtime if mlmodel.exists() else 0.0


@st.cache_resource(show_spinner="Scoring the test split…")
def _test_scores(root: str, stamp: float) -> data.TestScores | None:
    return data.test_scores(ProjectPaths(Path(root)))


def test_scores(paths: ProjectPaths) -> data.TestScores | None:
    return _test_scores(str(paths.root), model_stamp(paths))


def rank_scores(params: Params, kind: str | None) -> bool:
    """A rank-average blend's score orders transactions but is no probability: the web app
    then says "score", and its calibration chart says what it shows."""
    from fraudctl.model.families import ENSEMBLE_FAMILY, model_spec

    if kind != ENSEMBLE_FAMILY:
        return False
    return model_spec(params.model).section(ENSEMBLE_FAMILY).method == "rank_average"
