"""The API is one router per resource: a new route is one router module, mounted the way
the app mounts its own, and the OpenAPI document is what the routes declare."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.conftest import transaction

TOY_ROUTER = '''
"""A toy resource: what a new route module looks like."""

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter

from fraudctl.serve.dependencies import State, admin_only
from fraudctl.serve.errors import ApiError, error_responses, json_response
from fraudctl.serve.openapi import json_body
from fraudctl.serve.requests import read_body, validate_body
from fraudctl.serve.routing import DirectRoute

router = APIRouter(tags=["toy"])
fast = APIRouter(route_class=DirectRoute, tags=["toy"])


@router.get("/toy/version", responses=error_responses(503))
async def version(state: State) -> Response:
    """The served model's version, through the State dependency."""
    model, _ = state.ready()
    return json_response({"version": model.version, "features": len(model.features)})


class Reset(BaseModel):
    """A body type of the route's own."""

    reason: str


@router.post(
    "/toy/reset",
    dependencies=[admin_only("resetting the toy")],
    responses=error_responses(400, 401, 403, 415, 422),
    openapi_extra=json_body(Reset),
)
async def reset(request: Request) -> Response:
    body = validate_body(TypeAdapter(Reset), await read_body(request))
    return json_response({"reset": body.reason})


@fast.post("/toy/risk", openapi_extra=json_body("Transaction"))
async def risk(request: Request) -> Response:
    """A direct route: the body validated against the served model's transaction."""
    model, schemas = request.app.state.service.ready()
    row = validate_body(schemas.transaction, await read_body(request))
    if row["Amount"] > 1e6:
        raise ApiError(422, "too much", [{"field": "Amount", "problem": "toy limit"}])
    return json_response({"risk": model.risk(0.5)})
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_module(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def uvicorn_serving(app: Any) -> Iterator[str]:
    """The app on a real socket (uvicorn in a thread), as `fraudctl serve` runs it."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(30)


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"content-type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_a_new_route_is_one_router_module(model_dir, test_rows, tmp_path, capsys):
    from fraudctl.serve.app import create_app
    from fraudctl.serve.routers import ROUTERS
    from fraudctl.serve.settings import ServeSettings

    (tmp_path / "toy_routes.py").write_text(TOY_ROUTER)
    toy = load_module(tmp_path / "toy_routes.py")
    settings = ServeSettings(model=str(model_dir), admin_token="toy-token")
    app = create_app(settings, load_in_background=False, routers=(*ROUTERS, toy.router, toy.fast))
    with uvicorn_serving(app) as base:
        status, body = http("GET", f"{base}/toy/version")
        assert status == 200 and json.loads(body) == {"version": "1", "features": 29}
        # the admin dependency, as on the app's own admin routes
        assert http("POST", f"{base}/toy/reset", {"reason": "x"})[0] == 401
        admin = {"Authorization": "Bearer toy-token"}
        ok = http("POST", f"{base}/toy/reset", {"reason": "test"}, headers=admin)
        assert ok == (200, b'{"reset":"test"}')
        assert http("POST", f"{base}/toy/reset", {"why": "test"}, headers=admin)[0] == 422
        # the direct route: the app's validators and error shape
        row = transaction(test_rows, 0)
        status, body = http("POST", f"{base}/toy/risk", row)
        assert status == 200 and json.loads(body)["risk"] in {"low", "medium", "high"}
        status, body = http("POST", f"{base}/toy/risk", {**row, "Amount": 5e6})
        assert status == 422 and json.loads(body)["detail"][0]["problem"] == "toy limit"
        status, body = http("POST", f"{base}/toy/risk", {**row, "V1": "x"})
        assert status == 422 and json.loads(body)["detail"][0]["field"] == "V1"
        assert http("GET", f"{base}/toy/risk")[0] == 405
        # the app's own routes are unchanged beside it
        assert http("POST", f"{base}/predict", row)[0] == 200
        document = json.loads(http("GET", f"{base}/openapi.json")[1])
        metrics = http("GET", f"{base}/metrics")[1].decode()
    paths = document["paths"]
    assert {"/toy/version", "/toy/reset", "/toy/risk", "/predict"} <= set(paths)
    assert {"401", "403"} <= set(paths["/toy/reset"]["post"]["responses"])
    reset_body = paths["/toy/reset"]["post"]["requestBody"]["content"]["application/json"]
    assert reset_body["schema"] == {"$ref": "#/components/schemas/Reset"}
    assert document["components"]["schemas"]["Reset"]["required"] == ["reason"]
    assert "requestBody" in paths["/toy/risk"]["post"]
    # counted and recorded under its route template, like any route
    assert 'route="/toy/version",status="200"' in metrics
    assert 'route="/toy/risk",status="422"' in metrics
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert {r.get("route") for r in records} >= {"/toy/version", "/toy/risk", "/predict"}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


# What each operation declares: the body errors of a route that reads one, the admin
# statuses, and 503 where the model must be loaded (as before the routers).
EXPECTED_ERRORS = {
    ("/predict", "post"): {400, 413, 415, 422, 503},
    ("/predict/batch", "post"): {400, 413, 415, 422, 503},
    ("/explain", "post"): {400, 413, 415, 422, 501, 503},
    ("/model", "get"): {503},
    ("/model/threshold", "put"): {400, 401, 403, 413, 415, 422, 503},
    ("/labels", "post"): {400, 401, 403, 409, 413, 415, 422, 503},
    ("/health/live", "get"): set(),
    ("/health/ready", "get"): {503},
    ("/metrics", "get"): set(),
}


@pytest.mark.parametrize("loaded", [False, True], ids=["before the model loads", "loaded"])
def test_the_document_is_what_the_routes_declare(make_client, model_dir, loaded):
    from fastapi.testclient import TestClient

    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings

    if loaded:
        client = make_client()
    else:  # a model that never loads: the document still describes the ULB table
        client = TestClient(create_app(ServeSettings(model=str(model_dir / "missing"))))
    document = client.get("/openapi.json").json()
    components = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.removeprefix("#/components/schemas/") in components, ref
    operations = {
        (path, method): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    assert set(operations) == set(EXPECTED_ERRORS)
    for key, operation in operations.items():
        errors = {int(s) for s in operation["responses"] if s != "200"}
        assert errors == EXPECTED_ERRORS[key], key
        if key[1] in {"post", "put"}:
            assert operation["requestBody"]["required"] is True, key
    assert sorted(components["Transaction"]["required"]) == sorted(
        [f"V{i}" for i in range(1, 29)] + ["Amount"]
    )
    batch = components["TransactionBatch"]["properties"]["transactions"]
    assert batch["items"] == {"$ref": "#/components/schemas/Transaction"}


def test_predict_has_one_way_in():
    """POST /predict is one route, the direct one: nothing in front of the router
    answers it (the app's middleware is telemetry and the header limit only)."""
    from fraudctl.serve.app import create_app
    from fraudctl.serve.routing import DirectRoute

    app = create_app()
    predict = [r for r in app.routes if getattr(r, "path", None) == "/predict"]
    assert len(predict) == 1 and isinstance(predict[0], DirectRoute)
    assert [m.cls.__name__ for m in app.user_middleware] == ["TelemetryMiddleware", "HeaderLimit"]
