"""`fraudctl serve` decides with the model's own rules, as every other door does, and fills
the analysts' queue: the raw-transaction model with two rules saved inside it, served over
an online store holding the history, its test split posted one by one and as a batch.

- `/predict` and `/predict/batch` (rows and columnar JSON) answer each row's `decision`
  and `rule` exactly as the model's in-process `decide` does with the same history;
- a replayed transaction id gets its first decision back (its history now holds it);
- every alert (a rule's or the model's review or block) is in the alert store once, a
  rule's with the rule as its reason, the model's with SHAP contributions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import invoke

ATOL = 1e-9


def _json(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


@pytest.fixture(scope="module")
def served_rules(transactions_project: Path, tmp_path_factory: pytest.TempPathFactory):
    """The transactions model re-saved with two rules whose thresholds come from the test
    split itself (so both fire on some rows and not on others), the history before the
    test split, and the test rows."""
    from fraudctl.config import RuleParams
    from fraudctl.model.saving import resave_with_rules
    from fraudctl.paths import ProjectPaths
    from fraudctl.rules.ruleset import RuleSet

    paths = ProjectPaths(transactions_project)
    root = tmp_path_factory.mktemp("served-rules")
    test = pd.read_parquet(paths.split_file("test")).head(600)
    test["transaction_id"] = [f"tx-{k}" for k in range(len(test))]
    history = pd.concat(
        [
            pd.read_parquet(paths.gap_file if s == "gap" else paths.split_file(s))
            for s in ("train", "gap", "validation")
        ],
        ignore_index=True,
    )
    big = float(np.quantile(test["amount"], 0.93))
    category = str(test["merchant_category"].mode()[0])
    rules = RuleSet.from_params(
        [
            RuleParams(name="huge_amount", when=f"amount > {big}", action="block", priority=1),
            RuleParams(
                name="busy_category",
                when=f"merchant_category == '{category}' and amount > {big / 2}",
                action="review",
                priority=2,
            ),
        ]
    )
    resave_with_rules(paths.model_dir, root / "model", rules)
    history.to_parquet(root / "history.parquet")
    return {
        "project": transactions_project,
        "root": root,
        "model_dir": root / "model",
        "history": history,
        "test": test,
    }


def _dropped(client: Any) -> float:
    return next(
        float(line.split()[-1])
        for line in client.get("/metrics").text.splitlines()
        if line.startswith("fraudctl_alerts_dropped_total")
    )


def _app(
    served_rules: dict[str, Any], tmp_path: Path, runner, alert_store: str | None = None
) -> tuple[Any, str, str]:
    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings

    online = f"sqlite:///{tmp_path / 'online.db'}"
    alerts = alert_store or f"sqlite:///{tmp_path / 'alerts.db'}"
    model_dir = served_rules["model_dir"]
    history = served_rules["root"] / "history.parquet"
    params = served_rules["project"] / "params.yaml"
    args = ["features", "materialize", "-p", str(params), "--model", str(model_dir)]
    args += ["--store", online]
    if not (tmp_path / "online.db").exists():
        result = invoke(runner, *args, "--history", str(history))
        assert result.exit_code == 0, result.output
    settings = ServeSettings(model=str(model_dir), online_store=online, alert_store=alerts)
    return create_app(settings), online, alerts


def test_serving_decides_with_the_models_rules_and_queues_every_alert_once(
    served_rules, tmp_path, runner, monkeypatch
):
    from fastapi.testclient import TestClient

    from fraudctl.alerts.store import open_alerts
    from fraudctl.model.bundle import load_model
    from tests.serve.conftest import wait_ready

    model = load_model(served_rules["model_dir"])
    test = served_rules["test"]
    raw = test.drop(columns=["is_fraud"])
    expected = model.decide(raw, served_rules["history"])
    assert {"huge_amount", "busy_category", None} <= set(expected.rule)  # both rules fire
    assert (expected.decision == "review").sum() > (expected.rule == "busy_category").sum()

    monkeypatch.chdir(tmp_path)
    app, _, alerts_uri = _app(served_rules, tmp_path, runner)
    with TestClient(app) as client:
        wait_ready(client)
        fields = client.get("/model").json()["inputs"]
        # with their ids: a label or a retry finds the transaction, an alert is its own
        fields = [*fields, "transaction_id"] if "transaction_id" not in fields else fields
        rows = [{name: _json(r[name]) for name in fields} for r in raw.to_dict("records")]
        # what-ifs first (nothing recorded): the batch as rows, then as columns
        batch = client.post("/predict/batch?record=false", json={"transactions": rows})
        assert batch.status_code == 200, batch.text
        answered = batch.json()["predictions"]
        columnar = {"columns": fields, "data": [[row[n] for n in fields] for row in rows]}
        as_columns = client.post("/predict/batch?record=false", json=columnar)
        assert as_columns.status_code == 200, as_columns.text
        assert as_columns.json()["predictions"] == answered
        # then one by one, recorded: each row sees the rows before it, as in the batch
        single = []
        for row in rows:
            response = client.post("/predict", json=row)
            assert response.status_code == 200, response.text
            single.append(response.json())
        # a client's retry of a rule's block: the first answer, decision included
        blocked = int(np.flatnonzero(expected.rule == "huge_amount")[0])
        replay = client.post("/predict", json=rows[blocked]).json()
        assert replay == single[blocked]

    for answers in (answered, single):
        np.testing.assert_array_equal([a["rule"] for a in answers], expected.rule)
        edge = np.abs(expected.probability - model.threshold) < 1e-9
        decisions = np.array([a["decision"] for a in answers], dtype=object)
        np.testing.assert_array_equal(decisions[~edge], expected.decision[~edge])
        probabilities = [a["probability"] for a in answers]
        np.testing.assert_allclose(probabilities, expected.probability, rtol=0, atol=ATOL)
        # `fraud` stays the model alone, as before rules
        assert [a["fraud"] for a in answers] == [p >= model.threshold for p in expected.probability]

    store = open_alerts(alerts_uri)
    ids = raw["transaction_id"].astype(str).to_numpy()
    queued = {a.transaction_id: a for a in store.alerts(0, 2**62)}
    assert set(queued) == set(ids[expected.alert])  # each alert once, and nothing else
    for k in np.flatnonzero(expected.alert):
        alert = queued[ids[k]]
        assert (alert.decision, alert.rule) == (expected.decision[k], expected.rule[k])
        if alert.rule is not None:
            assert alert.reasons[0]["rule"] == alert.rule
        else:
            assert alert.reasons and "contribution" in alert.reasons[0]


def test_an_alert_store_that_is_off_or_away_never_fails_a_request(
    served_rules, tmp_path, runner, monkeypatch
):
    from fastapi.testclient import TestClient

    from tests.serve.conftest import wait_ready

    monkeypatch.chdir(tmp_path)
    raw = served_rules["test"].drop(columns=["is_fraud"])
    (tmp_path / "a-folder.db").mkdir()
    for alert_store in ("off", f"sqlite:///{tmp_path / 'a-folder.db'}"):
        app, _, _ = _app(served_rules, tmp_path, runner, alert_store)
        with TestClient(app) as client:
            wait_ready(client)
            fields = client.get("/model").json()["inputs"]
            rows = [{n: _json(r[n]) for n in fields} for r in raw.head(200).to_dict("records")]
            response = client.post("/predict/batch?record=false", json={"transactions": rows})
            assert response.status_code == 200, response.text
            alerts = sum(p["decision"] != "allow" for p in response.json()["predictions"])
            assert alerts > 0
            expected = 0 if alert_store == "off" else alerts
            deadline = time.monotonic() + 30  # the writer thread reaches the store soon after
            while (found := _dropped(client)) != expected and time.monotonic() < deadline:
                time.sleep(0.05)
            assert found == expected
    assert not (tmp_path / "data").exists()  # "off" wrote nowhere, the default included
    assert not (tmp_path / "alerts.db").exists()
