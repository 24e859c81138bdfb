"""Every endpoint through the HTTP client, including every kind of bad input."""

from __future__ import annotations

import json
import math
import threading

import numpy as np
import pytest

from fraudctl.model.bundle import load_model
from tests.serve.conftest import FEATURES, transaction, wait_ready


def test_health_and_model_info(client, model_dir):
    assert client.get("/health/live").json() == {"status": "alive"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    info = client.get("/model").json()
    metadata = load_model(model_dir).metadata
    assert info["features"] == FEATURES
    assert info["threshold"] == pytest.approx(metadata["threshold"])
    assert info["name"] == "served-model" and info["version"] == "1"
    assert info["validation_metrics"]["pr_auc"] == pytest.approx(
        metadata["validation_metrics"]["pr_auc"]
    )


def test_predict_matches_the_training_stage(client, model_dir, test_rows):
    model = load_model(model_dir)
    estimator, metadata = model.estimator, model.metadata
    expected = estimator.predict_proba(test_rows[FEATURES])[:, 1]
    for i in range(0, len(test_rows), 97):
        body = client.post("/predict", json=transaction(test_rows, i)).json()
        assert abs(body["probability"] - expected[i]) <= 1e-9
        assert body["fraud"] == (expected[i] >= metadata["threshold"])
        assert body["risk"] in {"low", "medium", "high"}
        assert (body["risk"] == "high") == body["fraud"]
        assert body["model_version"] == "1"


def test_batch_keeps_order_and_matches_single_predictions(client, model_dir, test_rows):
    estimator = load_model(model_dir).estimator
    rows = [transaction(test_rows, i) for i in range(len(test_rows))]
    response = client.post("/predict/batch", json={"transactions": rows})
    assert response.status_code == 200
    body = response.json()
    probabilities = np.array([p["probability"] for p in body["predictions"]])
    expected = estimator.predict_proba(test_rows[FEATURES])[:, 1]
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-9)
    assert [p["fraud"] for p in body["predictions"]] == list(expected >= body["threshold"])


def test_explain_contributions_add_up_to_the_prediction(client, test_rows):
    fraud_index = int(np.flatnonzero(test_rows["Class"].to_numpy() == 1)[0])
    body = client.post("/explain", json=transaction(test_rows, fraud_index)).json()
    assert set(body["contributions"]) == set(FEATURES)
    log_odds = body["base_value"] + sum(body["contributions"].values())
    assert 1 / (1 + math.exp(-log_odds)) == pytest.approx(body["probability"], abs=1e-9)
    magnitudes = [abs(v) for v in body["contributions"].values()]
    assert magnitudes == sorted(magnitudes, reverse=True)


def _bad(row: dict, **changes) -> dict:
    out = dict(row)
    for key, value in changes.items():
        if value is _DROP:
            out.pop(key)
        else:
            out[key] = value
    return out


_DROP = object()


@pytest.mark.parametrize(
    ("change", "status", "field", "problem"),
    [
        ({"V3": _DROP}, 422, "V3", "missing: required here"),
        ({"V5": "1.5"}, 422, "V5", "valid number"),
        ({"V5": True}, 422, "V5", "valid number"),
        ({"V5": None}, 422, "V5", "valid number"),
        ({"V5": [1.0]}, 422, "V5", "valid number"),
        ({"Amount": -0.01}, 422, "Amount", "greater than or equal to 0"),
    ],
    ids=["missing", "string", "bool", "null", "list", "negative amount"],
)
def test_bad_transactions_name_the_field(client, test_rows, change, status, field, problem):
    response = client.post("/predict", json=_bad(transaction(test_rows, 0), **change))
    assert response.status_code == status
    detail = response.json()["detail"]
    assert any(d["field"] == field and problem in d["problem"] for d in detail), detail


def test_a_field_the_model_does_not_read_is_ignored_as_at_every_door(client, test_rows):
    """The time and label columns of the table and any other field: the same answer as
    without them, as `fraudctl score` and the pyfunc give (one rule for every door)."""
    row = transaction(test_rows, 0)
    plain = client.post("/predict", json=row)
    assert plain.status_code == 200, plain.text
    extra = {**row, "Time": 12.0, "Class": 1, "colour": "blue", "notes": [1, 2]}
    answered = client.post("/predict", json=extra)
    assert answered.status_code == 200, answered.text
    assert answered.json() == plain.json()
    batch = client.post("/predict/batch", json={"transactions": [extra, row]})
    assert batch.status_code == 200, batch.text
    first, second = batch.json()["predictions"]
    assert first == second and first["probability"] == plain.json()["probability"]
    columnar = {"columns": [*row, "colour"], "data": [[*row.values(), "blue"]]}
    as_columns = client.post("/predict/batch", json=columnar)
    assert as_columns.status_code == 200, as_columns.text
    assert as_columns.json()["predictions"][0] == first


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_rejected(client, test_rows, literal):
    row = transaction(test_rows, 0)
    raw = json.dumps(row).replace(f'"V7": {json.dumps(row["V7"])}', f'"V7": {literal}')
    response = client.post("/predict", content=raw, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422), response.text
    assert "V7" in response.text or "JSON" in response.text


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"", 400, "empty body"),
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 422, "invalid request"),
        (b'"text"', 422, "invalid request"),
    ],
)
def test_bodies_that_are_not_transactions(client, body, status, error):
    for route in ("/predict", "/explain", "/predict/batch"):
        response = client.post(route, content=body, headers={"content-type": "application/json"})
        assert response.status_code == status, (route, response.text)
        assert error in response.json()["error"]


def test_batch_limits(make_client, test_rows):
    client = make_client(max_batch_size=5)
    row = transaction(test_rows, 0)
    empty = client.post("/predict/batch", json={"transactions": []})
    assert empty.status_code == 422 and empty.json()["detail"][0]["field"] == "transactions"
    too_many = client.post("/predict/batch", json={"transactions": [row] * 6})
    assert too_many.status_code == 422
    assert "at most 5" in too_many.json()["detail"][0]["problem"]
    bad_row = client.post("/predict/batch", json={"transactions": [row, _bad(row, V2="x")]})
    assert bad_row.json()["detail"][0]["field"] == "transactions[1].V2"
    not_list = client.post("/predict/batch", json={"transactions": row})
    assert not_list.status_code == 422


def test_wrong_method_and_unknown_route_are_json_4xx(client):
    assert client.get("/predict").status_code == 405
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and "error" in missing.json()


def test_threshold_change_needs_the_configured_token(make_client, test_rows):
    disabled = make_client()
    assert disabled.put("/model/threshold", json={"threshold": 0.5}).status_code == 403

    client = make_client(admin_token="s3cret")
    assert client.put("/model/threshold", json={"threshold": 0.5}).status_code == 401
    wrong = client.put(
        "/model/threshold", json={"threshold": 0.5}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    auth = {"Authorization": "Bearer s3cret"}
    assert client.put("/model/threshold", json={"threshold": 1.5}, headers=auth).status_code == 422
    changed = client.put("/model/threshold", json={"threshold": 1e-12}, headers=auth)
    assert changed.status_code == 200 and changed.json()["threshold"] == 1e-12
    body = client.post("/predict", json=transaction(test_rows, 0)).json()
    assert body["fraud"] is True and body["threshold"] == 1e-12
    assert client.get("/model").json()["threshold"] == 1e-12


def _metric(client, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_metrics_move_with_traffic(client, test_rows):
    before = _metric(client, "fraudctl_http_requests_total", route="/predict", status="200")
    for i in range(3):
        client.post("/predict", json=transaction(test_rows, i))
    client.post("/predict", json={"V1": 1})
    client.post("/predict/batch", json={"transactions": [transaction(test_rows, 0)] * 4})
    assert (
        _metric(client, "fraudctl_http_requests_total", route="/predict", status="200")
        == before + 3
    )
    assert _metric(client, "fraudctl_http_requests_total", route="/predict", status="422") >= 1
    assert _metric(client, "fraudctl_predictions_total") >= 7
    assert _metric(client, "fraudctl_batch_size_count") >= 1
    assert _metric(client, "fraudctl_fraud_probability_count") >= 7
    assert _metric(client, "fraudctl_http_request_duration_seconds_count", route="/predict") >= 4
    assert _metric(client, "fraudctl_model_info", version="1") == 1


def test_a_batch_fills_the_probability_histogram_as_single_requests_would(client, test_rows):
    """Batch scores are counted per bucket at once; every le bucket moves by exactly the
    number of returned probabilities at or below its bound."""
    from fraudctl.serve.telemetry import PROBABILITY_BUCKETS

    bounds = [*PROBABILITY_BUCKETS, float("inf")]

    def buckets() -> list[float]:
        return [_metric(client, "fraudctl_fraud_probability_bucket", le=_le(b)) for b in bounds]

    before, count = buckets(), _metric(client, "fraudctl_fraud_probability_count")
    rows = [transaction(test_rows, i % len(test_rows)) for i in range(300)]
    answer = client.post("/predict/batch", json={"transactions": rows})
    assert answer.status_code == 200
    scores = [p["probability"] for p in answer.json()["predictions"]]
    moved = [after - first for after, first in zip(buckets(), before, strict=True)]
    assert moved == [sum(p <= b for p in scores) for b in bounds]
    assert _metric(client, "fraudctl_fraud_probability_count") == count + len(scores)


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else str(bound)


def test_request_log_is_json_without_features(client, test_rows, capsys):
    capsys.readouterr()
    row = transaction(test_rows, 0)
    client.post("/predict", json=row)
    client.app.state.request_log.flush()  # written off the request path: now, not in 50 ms
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    entry = next(e for e in lines if e.get("route") == "/predict")
    assert entry["severity"] == "INFO" and entry["status"] == 200
    assert entry["decision"] in {"fraud", "legit"} and entry["model_version"] == "1"
    assert entry["httpRequest"]["requestMethod"] == "POST"
    text = json.dumps(entry)
    assert "V1" not in text and str(row["V1"]) not in text


def test_readiness_waits_for_the_model(model_dir, monkeypatch):
    from fastapi.testclient import TestClient

    from fraudctl.serve import app as app_module
    from fraudctl.serve import state as state_module
    from fraudctl.serve.settings import ServeSettings

    release = threading.Event()
    real_loader = state_module.load_predictor

    def slow_loader(*args, **kwargs):
        release.wait(10)
        return real_loader(*args, **kwargs)

    monkeypatch.setattr(state_module, "load_predictor", slow_loader)
    with TestClient(app_module.create_app(ServeSettings(model=str(model_dir)))) as client:
        assert client.get("/health/live").status_code == 200
        not_ready = client.get("/health/ready")
        assert not_ready.status_code == 503 and not_ready.json()["reason"] == "loading model"
        assert client.post("/predict", json={}).status_code == 503
        release.set()
        wait_ready(client)


def test_openapi_documents_the_model_fields(client):
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    transaction_schema = schemas["Transaction"]
    assert set(transaction_schema["required"]) == set(FEATURES)
    assert transaction_schema["properties"]["Amount"]["minimum"] == 0
    assert client.get("/docs").status_code == 200


def test_an_unexpected_error_in_predict_is_a_counted_500(make_client, test_rows, monkeypatch):
    """/predict skips FastAPI's per-request handler (a DirectRoute), but a failure inside
    it still ends as the server's 500, counted and logged under the /predict route, and the
    next request is served normally."""
    from fastapi.testclient import TestClient

    from fraudctl.serve.predictor import Predictor

    client = make_client()
    real = Predictor.probabilities
    calls = {"n": 0}

    def flaky(self, matrix):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("scorer broke")
        return real(self, matrix)

    monkeypatch.setattr(Predictor, "probabilities", flaky)
    quiet = TestClient(client.app, raise_server_exceptions=False)
    assert quiet.post("/predict", json=transaction(test_rows, 0)).status_code == 500
    assert _metric(client, "fraudctl_http_requests_total", route="/predict", status="500") == 1
    assert client.post("/predict", json=transaction(test_rows, 0)).status_code == 200


def test_a_repeated_key_is_refused_not_scored_as_the_last(client, test_rows):
    row = transaction(test_rows, 0)
    text = json.dumps(row)
    twice = text.replace('"V1": ', '"V1": 99.0, "V1": ', 1)
    response = client.post("/predict", content=twice, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == [{"field": "V1", "problem": "repeated key"}]
    batch = '{"transactions": [' + text + ", " + twice + "]}"
    response = client.post(
        "/predict/batch", content=batch, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "repeated key" in response.text
    quoted = {**row}  # a colon inside no key is fine
    assert client.post("/predict", json=quoted).status_code == 200


def test_numbers_far_beyond_the_training_range_are_refused(client, test_rows, model_dir):
    from fraudctl.model.bundle import load_model

    limit = load_model(model_dir).input_limits["V1"]
    assert 1e3 <= limit <= 1e6  # V1 is a standardised component
    row = {**transaction(test_rows, 0), "V1": 1e308}
    response = client.post("/predict", json=row)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "V1"
    columnar = {"columns": list(row), "data": [list(row.values())]}
    response = client.post("/predict/batch", json=columnar)
    assert response.status_code == 422, response.text
    assert "1,000 times the model's training range" in response.text
    assert client.post("/predict", json={**row, "V1": limit / 2}).status_code == 200


def test_a_cut_list_of_problems_says_so(client):
    detail = client.post("/predict", json={}).json()["detail"]
    assert len(detail) == 21 and detail[-1]["field"] == "(more)"
    assert detail[-1]["problem"] == "9 more problem(s) not listed"  # 29 fields are missing


def test_a_number_too_long_to_parse_names_its_field(client, test_rows):
    row = json.dumps({**transaction(test_rows, 0), "V7": "here"}).replace('"here"', "9" * 5000)
    response = client.post("/predict", content=row, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text[:300]
    detail = response.json()["detail"][0]
    assert detail["field"] == "V7" and "number out of range" in detail["problem"]
