"""`fraudctl ui`: every page through Streamlit's AppTest, and the real app in Chromium."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from benchmarks.chromium import free_port, render
from tests.conftest import cli_env, invoke, write_params
from tests.experiments.conftest import SMALL_EXPERIMENTS

pytest.importorskip("streamlit", reason="the `ui` extra is not installed")
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "fraudctl" / "ui" / "app.py"


def open_app(monkeypatch, root: Path, **env: str) -> AppTest:
    monkeypatch.setenv("FRAUDCTL_UI_ROOT", str(root))
    monkeypatch.setenv("FRAUDCTL_UI_PARAMS", str(root / "params.yaml"))
    for name in (
        "FRAUDCTL_UI_API",
        "FRAUDCTL_ADMIN_TOKEN",
        "FRAUDCTL_ALERT_STORE",
        "FRAUDCTL_ONLINE_STORE",
        "FRAUDCTL_UI_ANALYST",
    ):
        monkeypatch.setenv(name, env.get(name, ""))
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    return app


def go(app: AppTest, page: str) -> AppTest:
    app.radio(key="page").set_value(page).run()
    assert not app.exception, app.exception
    return app


def texts(app: AppTest) -> str:
    parts = [e.value for e in (*app.markdown, *app.info, *app.caption, *app.header)]
    parts += [f"{m.label}={m.value}" for m in app.metric]
    return "\n".join(str(p) for p in parts)


OUTPUTS = ("data", "models", "reports")


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, trained, mlflow_store) -> Path:
    """The session's trained project with test metrics, two experiments and a model card,
    made once for this file's tests (each works on a copy)."""
    root = tmp_path_factory.mktemp("evaluated")
    for name in OUTPUTS:
        shutil.copytree(trained.root / name, root / name)
    write_params(root, SMALL_EXPERIMENTS)
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
        patch.setenv("MPLBACKEND", "Agg")
        for args in (["evaluate"], ["experiment", "fairness"], ["experiment", "drift"], ["card"]):
            result = invoke(runner, *args)
            assert result.exit_code == 0, (args, result.output)
    return root


@pytest.fixture
def full_project(project, evaluated):
    """A trained project with test metrics, two experiments and a model card."""
    for name in OUTPUTS:
        shutil.copytree(evaluated / name, project / name)
    write_params(project, SMALL_EXPERIMENTS)
    return project


def test_every_page_renders_from_the_project_outputs(full_project, monkeypatch):
    app = open_app(monkeypatch, full_project)
    shown = texts(app)
    assert "family=lightgbm" in shown and "test PR-AUC" in shown

    # the what-if slider counts alerts (usable whatever the scores' scale) and recomputes
    # alerts, precision and recall on the test split at the threshold that raises them
    from fraudctl.config import load_params
    from fraudctl.paths import ProjectPaths
    from fraudctl.ui import data

    scores = data.test_scores(ProjectPaths(full_project))
    slider = app.slider(key="what_if")
    assert slider.value == data.alerts_at(scores, scores.threshold)
    assert f"threshold={scores.threshold:.6g}" in shown  # at the model's count, its threshold
    slider.set_value(40).run()
    threshold = data.threshold_for_alerts(scores, 40)
    expected = data.what_if(
        scores, threshold, load_params(full_project / "params.yaml").threshold.review_cost
    )
    assert expected["alerts"] >= 40
    assert f"alerts={expected['alerts']:,}" in texts(app)
    assert f"threshold={threshold:.6g}" in texts(app)
    # one role per version: the first version is champion, not "challenger, champion"
    roles = app.dataframe[-1].value
    assert roles["role"].tolist() == ["champion"]
    assert "no challenger is waiting" in texts(app)
    assert "val_pr_auc" in roles.columns  # shown as "validation PR-AUC" by its column config

    experiments = texts(go(app, "Experiments"))
    assert "Checks **passed**" in experiments or "Checks **FAILED**" in experiments
    assert "The gate **" in experiments
    assert "The poisoning experiment: not produced yet" in experiments  # its empty state
    headers = [list(frame.value.columns) for frame in app.dataframe]
    assert headers[0][:5] == ["group", "rows", "frauds", "alert rate", "recall"]
    assert {"PSI", "KS statistic", "KS p-value", "Evidently score"} <= set(headers[1])
    assert not any("_" in name for name in headers[0] + headers[1] if name != "group")

    registry = go(app, "Registry")
    assert len(registry.dataframe) == 1
    assert registry.dataframe[0].value["role"].tolist() == ["champion"]
    assert "Promotion from here is off" in texts(registry)

    card = go(app, "Model card")
    titles = [h.value for h in card.header] + [
        line for m in card.markdown for line in m.value.splitlines() if line.startswith("# ")
    ]
    assert titles == ["Model card: served-model (lightgbm)"]  # once, not twice
    assert "## Intended use" in texts(card)


def test_scoring_a_transaction_gives_the_apis_probability(full_project, monkeypatch):
    from fastapi.testclient import TestClient

    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings
    from tests.serve.conftest import FEATURES, wait_ready

    app = go(open_app(monkeypatch, full_project), "Score a transaction")
    app.number_input(key="row").set_value(3).run()
    assert not app.exception, app.exception
    probability = app.session_state["probability"]
    assert "decision=" in texts(app) and "risk band=" in texts(app)

    row = pd.read_parquet(full_project / "data/features/test.parquet").iloc[3]
    settings = ServeSettings(model=str(full_project / "models/model"))
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        answer = client.post("/predict", json={f: float(row[f]) for f in FEATURES}).json()
    assert probability == pytest.approx(answer["probability"], abs=1e-9)

    own = go(app, "Score a transaction")
    own.radio(key="source").set_value("my own values").run()
    own.button[0].click().run()  # the form's Score button
    assert not own.exception, own.exception
    assert "probability=" in texts(own)


def test_empty_states_when_nothing_has_run(project, registry_name, monkeypatch):
    """The tracking store exists (other tests fill it) but holds nothing under this name."""
    app = open_app(monkeypatch, project)
    assert "The model: not produced yet" in texts(app)
    for page, expected in (
        ("Score a transaction", "The model or the test split: not produced yet"),
        ("Registry", f"A registered version of {registry_name}: not produced yet"),
        ("Experiments", "The drift experiment: not produced yet"),
        ("Model card", "The model card: not produced yet"),
    ):
        assert expected in texts(go(app, page)), page


def test_promotion_needs_the_admin_token(full_project, monkeypatch, runner):
    assert invoke(runner, "train").exit_code == 0  # a second version
    app = go(open_app(monkeypatch, full_project, FRAUDCTL_ADMIN_TOKEN="s3cret"), "Registry")
    app.selectbox(key="promote").set_value(1)
    app.text_input(key="token").input("wrong")
    app.button[0].click().run()
    assert "wrong admin token" in [e.value for e in app.error]
    app.text_input(key="token").input("s3cret")
    app.button[0].click().run()
    assert any("v1 is champion" in e.value for e in app.success)
    versions = go(app, "Registry").dataframe[0].value
    champion = versions[versions["aliases"].str.contains("champion")]["version"].tolist()
    assert champion == [1]
    assert "promoted by hand" in versions[versions["version"] == 1]["decision"].iloc[0]


def test_the_workspace_models_test_pr_auc_without_an_evaluate_run(trained_project, monkeypatch):
    """A fresh clone's repro registers the retrained model, and DVC skips evaluate: the
    registry still shows that version's test PR-AUC, from the model's own test scores."""
    from fraudctl.model.metrics import pr_auc
    from fraudctl.model.registry_record import read_registry_record
    from fraudctl.paths import ProjectPaths
    from fraudctl.ui import data

    paths = ProjectPaths(trained_project)
    registry = go(open_app(monkeypatch, trained_project), "Registry")
    versions = registry.dataframe[0].value
    mine = versions[versions["version"] == int(read_registry_record(paths.model_dir)["version"])]
    scores = data.test_scores(paths)
    assert mine["test_pr_auc"].tolist() == [pytest.approx(pr_auc(scores.labels, scores.scores))]


@pytest.mark.slow
def test_the_real_app_in_headless_chromium(full_project, tmp_path):
    browsers = ("chromium", "chromium-browser", "google-chrome")
    chromium = next(filter(None, map(shutil.which, browsers)), None)
    if chromium is None:
        pytest.skip("no Chromium or Chrome here (.ci/run installs Debian's `chromium`)")
    port = free_port()
    server = subprocess.Popen(
        ["fraudctl", "ui", "--port", str(port)],
        cwd=full_project,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    import httpx

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).text == "ok":
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail(
                f"fraudctl ui did not start:\n{server.stdout.read() if server.stdout else ''}"
            )
        text, png, _ = render(chromium, f"http://127.0.0.1:{port}/", "expected cost")
        (tmp_path / "ui.png").write_bytes(png)
        assert png.startswith(b"\x89PNG") and len(png) > 20_000
        for shown in ("Score a transaction", "Experiments", "Registry", "Model card", "family"):
            assert shown in text, shown
        assert "Traceback" not in text
        # every page, as an analyst opens it: what each must say, and a screenshot to read
        for page, wait_for, shown in (
            # the drift verdict is the last thing the page writes: wait for it
            ("Experiments", "prediction PSI", ("Fairness", "equalized-odds difference", "gate")),
            ("Alert queue", "not produced yet", ("Alert queue", "Alerts in sqlite:///")),
            # the registry is a canvas table (not page text): its screenshot is the check
            ("Registry", "Promotion from here", ("Registry",)),
            ("Model card", "Intended use", ("Threshold", "bootstrap")),
        ):
            url = f"http://127.0.0.1:{port}/?page={page.replace(' ', '+')}"
            text, png, _ = render(chromium, url, wait_for, settle=2.0)
            (tmp_path / f"ui-{page.replace(' ', '-').lower()}.png").write_bytes(png)
            assert png.startswith(b"\x89PNG") and len(png) > 20_000, page
            for phrase in shown:
                assert phrase in text, (page, phrase)
            assert "Traceback" not in text, page
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    # every page rendered without a deprecation warning in the terminal
    assert "deprecat" not in output.lower() and "use_container_width" not in output, output
    # stopping `fraudctl ui` stops Streamlit: no server is left behind on the port
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)


@pytest.mark.slow
def test_scoring_through_a_running_server(full_project, monkeypatch):
    """With --api the app also scores through `fraudctl serve` and shows its counters."""
    from tests.serve.test_server_process import serving

    with serving(full_project / "models" / "model") as base:
        app = go(open_app(monkeypatch, full_project, FRAUDCTL_UI_API=base), "Score a transaction")
        answer = next(c.value for c in app.caption if c.value.startswith(f"{base}/predict says"))
        assert str(round(app.session_state["probability"], 6))[:6] in answer
        model_page = go(app, "Model")
        live = model_page.dataframe[-1].value
        assert "fraudctl_predictions_total decision=" in " ".join(live.index)


def test_the_form_follows_a_raw_transaction_models_inputs(transactions_project, monkeypatch):
    """Time, ids, amounts and a categorical column with its vocabulary (and a value never
    seen in training, which the model handles); history comes from the prepared splits."""
    app = go(open_app(monkeypatch, transactions_project), "Score a transaction")
    app.radio(key="source").set_value("my own values").run()
    labels = [box.label for box in app.selectbox]
    assert labels == ["merchant_category"]
    assert app.selectbox[0].options[-1] == "(a value never seen)"
    app.selectbox[0].set_value("(a value never seen)")
    assert {"timestamp"} <= {t.label for t in app.text_input}
    assert {"customer_id", "terminal_id", "amount"} <= {n.label for n in app.number_input}
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert 0.0 <= app.session_state["probability"] <= 1.0
    assert "risk band=" in texts(app)


def test_a_test_row_of_a_raw_model_scores_as_evaluate_scored_it(transactions_project, monkeypatch):
    """The form starts from the prepared row (categories as text): taking it from
    data/features (categories as codes) made every category unseen."""
    from fraudctl.paths import ProjectPaths
    from fraudctl.ui import data

    scores = data.test_scores(ProjectPaths(transactions_project))
    app = go(open_app(monkeypatch, transactions_project), "Score a transaction")
    for row in (0, 7, int(scores.scores.argmax())):
        app.number_input(key="row").set_value(row).run()
        assert not app.exception, app.exception
        assert app.session_state["probability"] == pytest.approx(scores.scores[row], abs=1e-12)
