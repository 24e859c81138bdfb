"""The Alert queue page: an analyst works the day's alerts, through Streamlit's AppTest and in
headless Chromium against a running `fraudctl ui`, and each decision reaches the alert store
(appended) and the online store (an analyst label)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.chromium import Browser, free_port
from tests.conftest import cli_env, example_params, write_example_params
from tests.ui.test_app import go, open_app, texts

pytest.importorskip("streamlit", reason="the `ui` extra is not installed")

RULES = [
    {
        "name": "night_spike",
        "when": "is_night == 1 and customer_amount_to_mean_30d > 2",
        "action": "review",
        "priority": 5,
    },
    {
        "name": "big_travel",
        "when": "merchant_category == 'travel' and amount > 300",
        "action": "block",
    },
]
HOUR_MS = 3_600_000


@pytest.fixture
def queue_project(project: Path, transactions_project: Path) -> Path:
    """The raw-transaction project's model and splits in this test's directory, its test
    split scored into an alert queue (rules and model, with SHAP reasons), and an online
    store that saw those transactions under the same ids."""
    from fraudctl.alerts.enqueue import enqueue
    from fraudctl.alerts.store import open_alerts
    from fraudctl.config import parse_params
    from fraudctl.features.online import OnlineFeatures, open_store
    from fraudctl.model.bundle import load_model
    from fraudctl.paths import ProjectPaths
    from fraudctl.rules.ruleset import RuleSet
    from fraudctl.ui.data import prepared_history

    for name in ("data", "models", "reports"):
        shutil.copytree(transactions_project / name, project / name)
    write_example_params(project, {"rules": RULES})
    paths = ProjectPaths(project)
    model = load_model(paths.model_dir)
    test = pd.read_parquet(paths.split_file("test"))
    test["transaction_id"] = [f"tx-{k}" for k in range(len(test))]
    rules = RuleSet.from_params(parse_params(example_params({"rules": RULES})).rules)
    store = open_alerts(f"sqlite:///{project / 'data/alerts/alerts.db'}")
    # queued an hour before the test (not before collection: a busy run reaches it later)
    now_ms = int(time.time() * 1000) - HOUR_MS
    enqueued = enqueue(model, test, store, rules, history=prepared_history(paths), now_ms=now_ms)
    assert enqueued.queued == enqueued.alerts > 5
    online = OnlineFeatures(model.transform, open_store(f"sqlite:///{project / 'online.db'}"))
    online.record([online.transaction(row) for row in test.to_dict("records")])
    return project


def store_uris(root: Path) -> dict[str, str]:
    return {
        "FRAUDCTL_ALERT_STORE": f"sqlite:///{root / 'data/alerts/alerts.db'}",
        "FRAUDCTL_ONLINE_STORE": f"sqlite:///{root / 'online.db'}",
    }


def online_label(root: Path, tx: str) -> tuple[int, int] | None:
    """The event's label bits as stored (bit 1: an analyst's label, bit 0: a chargeback's)
    and the sources on record."""
    import sqlite3

    with sqlite3.connect(root / "online.db") as db:
        found = db.execute("SELECT labelled, fraud FROM events WHERE tx = ?", (tx,)).fetchone()
        sources = db.execute("SELECT source FROM labels WHERE tx = ?", (tx,)).fetchall()
    return None if found is None else (*found, [s for (s,) in sources])


def test_an_analyst_works_the_queue(queue_project, monkeypatch):
    from fraudctl.alerts.store import day_bounds, open_alerts

    store = open_alerts(store_uris(queue_project)["FRAUDCTL_ALERT_STORE"])
    app = go(open_app(monkeypatch, queue_project, **store_uris(queue_project)), "Alert queue")
    shown = texts(app)
    latest = list(store.days())[-1]
    assert app.selectbox(key="queue_day").value == latest
    assert f"alerts today={store.days()[latest]:,}" in shown and "reviewed=0%" in shown
    picker = next(box for box in app.selectbox if box.label == "alert")
    alert = store.alert(picker.value)  # the riskiest open alert of the day comes first
    assert alert.probability == max(a.probability for a in store.alerts(*day_bounds(latest)))

    app.text_input(key="analyst").input("ana")
    app.text_area(key=f"note_{alert.transaction_id}").input("card holder confirmed the theft")
    next(b for b in app.button if b.label == "Fraud").click().run()
    assert not app.exception, app.exception
    decisions = store.decisions([alert.transaction_id])
    assert [(d.analyst, d.outcome, d.note) for d in decisions] == [
        ("ana", "fraud", "card holder confirmed the theft")
    ]
    assert online_label(queue_project, alert.transaction_id) == (2, 2, ["analyst"])
    assert any("sent to the online store as an analyst label" in s.value for s in app.success)
    assert "reviewed=" in texts(app) and "precision of reviewed=100%" in texts(app)
    # the picker moved on to the next open alert; the same alert again is a second decision
    picker = next(box for box in app.selectbox if box.label == "alert")
    assert picker.value != alert.transaction_id
    assert store.alert(picker.value) is not None


def test_the_queue_sorts_and_explains(queue_project, monkeypatch):
    from fraudctl.alerts.store import day_bounds, open_alerts

    store = open_alerts(store_uris(queue_project)["FRAUDCTL_ALERT_STORE"])
    app = go(open_app(monkeypatch, queue_project, **store_uris(queue_project)), "Alert queue")
    day = app.selectbox(key="queue_day").value
    app.radio(key="queue_sort").set_value("amount").run()
    table = app.dataframe[0].value
    amounts = table["amount"].dropna().tolist()
    assert amounts == sorted(amounts, reverse=True)
    assert len(table) == len(store.alerts(*day_bounds(day)))
    # a rule's alert says which rule; a model's alert shows SHAP rows with feature values
    for alert in store.alerts(*day_bounds(day)):
        if alert.rule:
            assert alert.reasons[0]["rule"] == alert.rule
        else:
            assert len(alert.reasons) == 5 and {"feature", "value", "contribution"} <= set(
                alert.reasons[0]
            )
        assert "is_fraud" not in alert.row  # the label is never shown to the analyst


def test_an_empty_queue_says_what_fills_it(trained_project, monkeypatch):
    app = go(open_app(monkeypatch, trained_project), "Alert queue")
    assert "Alerts in sqlite:///" in texts(app) and "not produced yet" in texts(app)
    assert not (trained_project / "data" / "alerts").exists()  # looking creates nothing


@pytest.mark.slow
def test_the_queue_in_headless_chromium(queue_project, tmp_path):
    """A running `fraudctl ui`, a real browser: type a name and a note, press Fraud, then
    Escalate the next alert; the store holds both decisions, the online store the label,
    and the screenshots show the page before and after."""
    from fraudctl.alerts.store import open_alerts

    chromium = next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
    )
    if chromium is None:
        pytest.skip("no Chromium or Chrome here (.ci/run installs Debian's `chromium`)")
    uris = store_uris(queue_project)
    port = free_port()
    server = subprocess.Popen(
        ["fraudctl", "ui", "--port", str(port)],
        cwd=queue_project,
        env=cli_env(**uris),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    store = open_alerts(uris["FRAUDCTL_ALERT_STORE"])
    try:
        wait_healthy(port, server)
        with Browser(chromium, height=1800) as browser:
            browser.goto(f"http://127.0.0.1:{port}/?page=Alert+queue")
            text, _ = browser.wait_for("Escalate")
            time.sleep(1.5)
            (tmp_path / "queue-before.png").write_bytes(before := browser.screenshot())
            assert before.startswith(b"\x89PNG") and len(before) > 50_000
            assert "alerts today" in text and "Why" in text and "last 30 days" in text
            browser.fill("analyst", "ana")
            browser.fill("note", "card holder confirmed the theft")
            browser.click("Fraud")
            text, _ = browser.wait_for(": fraud by ana")
            first = decided_in(text, "fraud")
            assert "sent to the online store as an analyst label" in text
            waited = re.search(r"median time to decision\n\n(\d+) min", text)
            assert waited and 60 <= int(waited.group(1)) < 90  # queued an hour before the fixture
            browser.fill("note", "amount unusual, calling the customer")
            browser.click("Escalate")
            text, _ = browser.wait_for(": escalate by ana")
            second = decided_in(text, "escalate")
            assert second != first  # the page moved on to the next open alert
            time.sleep(1.5)
            (tmp_path / "queue-after.png").write_bytes(after := browser.screenshot())
            assert after.startswith(b"\x89PNG") and len(after) > 50_000
            assert "Traceback" not in browser.text()
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    decided = {d.transaction_id: d for d in store.decisions()}
    assert (decided[first].outcome, decided[first].note) == (
        "fraud",
        "card holder confirmed the theft",
    )
    assert (decided[second].outcome, decided[second].analyst) == ("escalate", "ana")
    assert online_label(queue_project, first) == (2, 2, ["analyst"])
    assert online_label(queue_project, second) == (0, 0, [])  # an escalation is no label
    assert "deprecat" not in output.lower(), output  # Streamlit's warnings stay out


def decided_in(text: str, outcome: str) -> str:
    """The transaction id the page says was just decided."""
    return re.search(rf"(tx-\d+): {outcome} by ana", text).group(1)


def wait_healthy(port: int, server: subprocess.Popen) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).text == "ok":
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    server.terminate()
    pytest.fail(f"fraudctl ui did not start:\n{server.communicate(timeout=30)[0]}")
