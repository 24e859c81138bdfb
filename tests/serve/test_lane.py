"""``POST /predict`` takes a lane around Starlette's middleware stack (fraudctl/serve/lane.py);
whatever is sent, it answers exactly as the whole way through the stack does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FEATURES
from tests.serve.conftest import wait_ready

GOOD = {name: 0.5 for name in FEATURES}

# bodies unlike the happy path: broken JSON, wrong types, missing and extra fields, NaN
BODIES = st.one_of(
    st.just(json.dumps(GOOD)),
    st.binary(max_size=40).map(lambda raw: raw.decode("latin-1")),
    st.dictionaries(
        st.sampled_from([*FEATURES, "transaction_id", "extra"]),
        st.one_of(st.floats(allow_nan=True), st.text(max_size=5), st.none(), st.booleans()),
        max_size=len(FEATURES) + 2,
    ).map(lambda row: json.dumps({**GOOD, **row})),
    st.sampled_from(FEATURES).map(lambda gone: json.dumps({k: GOOD[k] for k in GOOD if k != gone})),
)


@pytest.fixture(scope="module")
def both(model_dir: Path, tmp_path_factory):
    """The app as served (with its lane) and the same app without it."""
    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings

    clients = []
    for lane in (True, False):
        app = create_app(ServeSettings(model=str(model_dir)))
        assert app.lane is not None
        if not lane:
            app.lane = None
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        wait_ready(client)
        clients.append(client)
    yield clients
    for client in clients:
        client.__exit__(None, None, None)


def _answer(client: TestClient, method: str, path: str, body: str, **headers: str):
    response = client.request(
        method,
        path,
        content=body.encode("utf-8", "surrogatepass"),
        headers={"content-type": "application/json", **headers},
        params={"record": "false"},
    )
    return response.status_code, response.headers.get("content-type"), response.content


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES)
def test_the_lane_answers_any_body_as_the_whole_stack_does(both, body):
    lane, stack = both
    assert _answer(lane, "POST", "/predict", body) == _answer(stack, "POST", "/predict", body)


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/predict", {}),  # 405, with Allow
        ("POST", "/predict/", {}),  # not the route
        ("POST", "/predict", {"x-big": "a" * 20_000}),  # over the header limit
    ],
)
def test_the_edges_of_the_lane_answer_as_the_whole_stack_does(both, method, path, headers):
    lane, stack = both
    body = json.dumps(GOOD)
    assert _answer(lane, method, path, body, **headers) == _answer(
        stack, method, path, body, **headers
    )


def test_an_unexpected_error_is_the_same_500_and_every_request_is_counted(both, monkeypatch):
    lane, stack = both
    for client in (lane, stack):
        service = client.app.state.service

        def broken(*_: object) -> None:
            raise RuntimeError("a bug")

        monkeypatch.setattr(service, "ready", broken)
    body = json.dumps(GOOD)
    assert _answer(lane, "POST", "/predict", body) == _answer(stack, "POST", "/predict", body)
    assert _answer(lane, "POST", "/predict", body)[0] == 500
    monkeypatch.undo()
    metrics = lane.get("/metrics").text
    assert 'route="/predict"' in metrics and 'status="500"' in metrics
