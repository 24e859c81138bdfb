"""The raw-transaction path through its public doors: data, features, train, score, serve."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudctl.data.synthetic_transactions import generate_transaction_log
from tests.conftest import invoke, write_example_params


@pytest.fixture
def in_project(transactions_project: Path, monkeypatch: pytest.MonkeyPatch, mlflow_store: str):
    monkeypatch.chdir(transactions_project)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    return transactions_project


def later_log(rows: int = 400) -> pd.DataFrame:
    """Transactions of the same customers and terminals, after the training period."""
    log = generate_transaction_log(n_customers=150, n_terminals=200, days=50, seed=3)
    return log.iloc[-rows:].reset_index(drop=True)


def test_split_gap_and_features_stage(in_project):
    report = json.loads(Path("reports/data.json").read_text())
    assert report["split_gap"] == "3d" and report["gap_rows"] > 0
    train = pd.read_parquet("data/prepared/train.parquet")
    validation = pd.read_parquet("data/prepared/validation.parquet")
    assert validation["timestamp"].min() >= train["timestamp"].max() + pd.Timedelta(days=3)
    assert pd.api.types.is_datetime64_any_dtype(train["timestamp"])

    transform = json.loads(Path("data/features/transform.json").read_text())
    inputs = transform["output_columns"]
    assert "customer_id" not in inputs and "transaction_id" not in inputs
    assert {"amount", "merchant_category", "terminal_risk_7d", "is_night"} <= set(inputs)
    features = pd.read_parquet("data/features/validation.parquet")
    assert {"customer_id", "terminal_id", "is_fraud", *inputs} <= set(features.columns)
    assert len(features) == len(validation)


def test_metrics_include_card_precision_at_k(in_project, runner):
    result = invoke(runner, "evaluate")
    assert result.exit_code == 0, result.output
    metrics = json.loads(Path("reports/metrics.json").read_text())
    assert 0.0 <= metrics["card_precision_at_k"] <= 1.0
    # far above chance (the fraud rate): history features at work even on this small log
    assert metrics["pr_auc"] > 5 * metrics["frauds"] / metrics["rows"]


def test_score_applies_the_models_own_transform(in_project, runner, tmp_path):
    from fraudctl.model.bundle import load_model

    batch = later_log().drop(columns=["is_fraud"])
    batch.loc[:9, "merchant_category"] = "a category never seen"
    source = tmp_path / "batch.csv"
    batch.to_csv(source, index=False)
    history = pd.concat(
        [pd.read_parquet(f"data/prepared/{s}.parquet") for s in ("train", "gap", "validation")]
    )
    history_file = tmp_path / "history.parquet"
    history.to_parquet(history_file)
    out = tmp_path / "scored.parquet"
    result = invoke(
        runner, "score", str(source), "--output", str(out), "--history", str(history_file)
    )
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(out)
    assert list(scored.columns[: len(batch.columns)]) == list(batch.columns)
    model = load_model(Path("models/model"))
    expected = model.predict_raw(pd.read_csv(source, parse_dates=["timestamp"]), history)
    np.testing.assert_allclose(scored["fraud_probability"], expected, rtol=0, atol=1e-12)
    assert set(scored["fraud_decision"]) <= {0, 1}
    without_history = tmp_path / "alone.parquet"
    assert invoke(runner, "score", str(source), "-o", str(without_history)).exit_code == 0
    assert not np.allclose(pd.read_parquet(without_history)["fraud_probability"], expected)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["terminal_id"]), "missing column(s) terminal_id"),
        (
            lambda f: f.assign(timestamp=f["timestamp"].astype(str).where(f.index != 3, "soon")),
            "column 'timestamp': unparseable timestamp 'soon'",
        ),
        (
            lambda f: f.assign(merchant_category=np.where(f.index == 2, 1.5, 3.0)),
            "column 'merchant_category': categorical column holds a number with a fraction",
        ),
        (
            lambda f: f.assign(customer_id=f["customer_id"].astype(float).where(f.index != 4)),
            "column 'customer_id': missing entity id(s)",
        ),
        (
            lambda f: f.assign(amount=f["amount"].where(f.index != 1, 1e308)),
            "column 'amount': implausible amount",
        ),
    ],
)
def test_bad_raw_input_is_one_clear_error(in_project, runner, tmp_path, change, message):
    source = tmp_path / "bad.csv"
    change(later_log(50)).to_csv(source, index=False)
    out = tmp_path / "scored.csv"
    result = invoke(runner, "score", str(source), "--output", str(out))
    assert result.exit_code == 2, result.output
    assert message in result.output and str(source) in result.output
    assert not out.exists()
    # the same file as the pipeline's input: the same message, nothing written
    write_example_params(Path.cwd(), {"data": {"source": str(source)}})
    before = Path("data/prepared/train.parquet").read_bytes()
    result = invoke(runner, "data")
    assert result.exit_code == 2 and message in result.output, result.output
    assert Path("data/prepared/train.parquet").read_bytes() == before
    write_example_params(Path.cwd())


def test_a_label_copy_stops_train_and_exclude_fixes_it(project, runner, mlflow_store):
    log = generate_transaction_log(
        n_customers=150,
        n_terminals=200,
        days=45,
        seed=3,
        compromised_terminal_rate=0.05,
        compromised_card_rate=0.05,
    )
    log["chargeback_flag"] = log["is_fraud"] * 2.0
    log.to_parquet(project / "log.parquet")
    write_example_params(project, {"data": {"source": "log.parquet"}})
    assert invoke(runner, "data").exit_code == 0
    assert invoke(runner, "features", "build").exit_code == 0
    result = invoke(runner, "train")
    assert result.exit_code == 2, result.output
    assert "'chargeback_flag'" in result.output and "possible label leak" in result.output
    assert not (project / "models/model").exists()
    write_example_params(
        project,
        {
            "data": {
                "source": "log.parquet",
                "schema": {"exclude": ["transaction_id", "chargeback_flag"]},
            }
        },
    )
    for command in (["data"], ["features", "build"], ["train"]):
        result = invoke(runner, *command)
        assert result.exit_code == 0, result.output


def test_serve_scores_raw_transactions_with_online_history(in_project, tmp_path):
    from fastapi.testclient import TestClient

    from fraudctl.features.online import open_store
    from fraudctl.model.bundle import load_model
    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings
    from tests.serve.conftest import wait_ready

    store = f"sqlite:///{tmp_path / 'online.db'}"
    result = invoke_materialize(store)
    assert result.exit_code == 0, result.output
    history = pd.concat(
        [
            pd.read_parquet(f"data/prepared/{s}.parquet")
            for s in ("train", "gap", "validation", "test")
        ]
    )
    model = load_model(Path("models/model"))
    new = later_log(3).assign(timestamp=history["timestamp"].max() + pd.Timedelta(hours=1))
    settings = ServeSettings(model="models/model", online_store=store, admin_token="s3cret")
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        info = client.get("/model").json()
        assert info["history_features"] is True and "customer_id" in info["inputs"]
        row = new.iloc[0]
        body = {
            "timestamp": row["timestamp"].isoformat(),
            "customer_id": int(row["customer_id"]),
            "terminal_id": int(row["terminal_id"]),
            "amount": float(row["amount"]),
            "merchant_category": row["merchant_category"],
            "transaction_id": "new-1",
        }
        count = open_store(store).count()
        what_if = client.post("/predict?record=false", json=body)
        assert what_if.status_code == 200 and open_store(store).count() == count
        scored = client.post("/predict", json=body).json()
        expected = model.predict_raw(new.iloc[:1].drop(columns=["is_fraud"]), history)[0]
        assert scored["probability"] == pytest.approx(expected, abs=1e-9)
        assert open_store(store).count() == count + 2  # one event per entity kind

        labels = {
            "labels": [
                {"transaction_id": "new-1", "is_fraud": 1},
                {"transaction_id": "nope", "is_fraud": 0},
            ]
        }
        assert client.post("/labels", json=labels).status_code == 401
        answer = client.post("/labels", json=labels, headers={"Authorization": "Bearer s3cret"})
        assert answer.status_code == 200 and answer.json() == {"recorded": 1, "unknown": ["nope"]}

        bad = client.post("/predict", json={**body, "timestamp": "yesterday"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "timestamp"
        missing = {k: v for k, v in body.items() if k != "terminal_id"}
        assert client.post("/predict", json=missing).status_code == 422

        # Columnar batches of raw transactions take the same validation and online path.
        names = list(body)
        columnar = {
            "columns": names,
            "data": [
                [body[n] if n != "transaction_id" else f"col-{i}" for n in names] for i in range(3)
            ],
        }
        batch = client.post("/predict/batch?record=false", json=columnar)
        assert batch.status_code == 200, batch.text
        assert len(batch.json()["predictions"]) == 3
        columnar["data"][1][names.index("timestamp")] = "yesterday"
        refused = client.post("/predict/batch", json=columnar)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["field"] == "data[1].timestamp"


def invoke_materialize(store: str):
    from typer.testing import CliRunner

    return invoke(CliRunner(), "features", "materialize", "--store", store)


def test_serve_refuses_an_empty_online_store(in_project, tmp_path):
    from fraudctl.errors import ArtifactError
    from fraudctl.serve.predictor import load_predictor

    with pytest.raises(ArtifactError, match="features materialize"):
        load_predictor("models/model", online_store=f"sqlite:///{tmp_path / 'empty.db'}")


def test_a_damaged_store_file_is_one_clear_error(in_project, tmp_path):
    """A store file that is not SQLite (or a copy missing its -wal file) stops materialize
    and serve with what to do, not SQLite's traceback."""
    from fraudctl.errors import ArtifactError
    from fraudctl.serve.predictor import load_predictor

    damaged = tmp_path / "online.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\x07" * 4096)
    result = invoke_materialize(f"sqlite:///{damaged}")
    assert result.exit_code == 2, result.output
    assert "not a usable online store" in result.output
    assert "features materialize" in result.output
    with pytest.raises(ArtifactError, match="not a usable online store"):
        load_predictor("models/model", online_store=f"sqlite:///{damaged}")


RAW_BODY = {
    "timestamp": "2026-06-01T12:00:00Z",
    "customer_id": 7,
    "terminal_id": 9,
    "amount": 25.0,
    "merchant_category": "grocery",
}


@pytest.fixture
def raw_client(in_project, tmp_path):
    """The example's model served in-process over a freshly materialized SQLite store:
    (client, store URI)."""
    from fastapi.testclient import TestClient

    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings
    from tests.serve.conftest import wait_ready

    store = f"sqlite:///{tmp_path / 'online.db'}"
    assert invoke_materialize(store).exit_code == 0
    with TestClient(create_app(ServeSettings(model="models/model", online_store=store))) as client:
        wait_ready(client)
        yield client, store


def test_implausible_raw_requests_are_refused(raw_client):
    client, _ = raw_client
    assert client.post("/predict?record=false", json=RAW_BODY).status_code == 200
    for change, field in (
        ({"timestamp": "9999-01-01T00:00:00Z"}, "timestamp"),
        ({"timestamp": "0001-01-01T00:00:00Z"}, "timestamp"),
        ({"customer_id": "c" * 1_000_000}, "customer_id"),
    ):
        response = client.post("/predict?record=false", json={**RAW_BODY, **change})
        assert response.status_code == 422, response.text[:200]
        assert response.json()["detail"][0]["field"].startswith(field)
        assert len(response.text) < 2000  # the error does not echo the megabyte back


def test_an_arrow_batch_with_integer_ids_scores_like_rows(raw_client):
    import pyarrow as pa

    client, _ = raw_client
    new = later_log(5).drop(columns=["is_fraud", "transaction_id"])
    rows = [{**r, "timestamp": r["timestamp"].isoformat()} for r in new.to_dict("records")]
    sink = pa.BufferOutputStream()
    table = pa.Table.from_pandas(
        new.astype({"customer_id": "int64", "terminal_id": "int64"}), preserve_index=False
    )
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    as_rows = client.post("/predict/batch?record=false", json={"transactions": rows})
    as_arrow = client.post(
        "/predict/batch?record=false",
        content=sink.getvalue().to_pybytes(),
        headers={"Content-Type": "application/vnd.apache.arrow.stream"},
    )
    assert as_rows.status_code == 200, as_rows.text
    assert as_arrow.status_code == 200, as_arrow.text
    assert as_arrow.json()["predictions"] == as_rows.json()["predictions"]


def test_a_transaction_posted_twice_is_answered_once(raw_client):
    """A client retry: the same answer, and the history is not recorded twice."""
    from fraudctl.features.online import open_store

    client, store = raw_client
    body = {**RAW_BODY, "transaction_id": "retry-1"}
    before = open_store(store).count()
    first = client.post("/predict", json=body).json()
    after_first = open_store(store).count()
    again = client.post("/predict", json=body).json()
    assert again["probability"] == first["probability"]
    assert after_first == before + 2 and open_store(store).count() == after_first
    other = client.post("/predict", json={**body, "transaction_id": "retry-2"}).json()
    assert open_store(store).count() == after_first + 2  # a new id is a new transaction
    assert other["probability"] != first["probability"]  # it sees the first in its history
