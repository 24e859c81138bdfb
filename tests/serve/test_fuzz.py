"""Whatever a client sends, the answer is never a 5xx: seeded random bodies on every route."""

from __future__ import annotations

import json
import random

from tests.serve.conftest import FEATURES

VALUES = [
    0.0,
    -1.5,
    1e308,
    -1e308,
    3,
    True,
    False,
    None,
    "1.0",
    "",
    "NaN",
    [],
    {},
    [1.0],
    {"x": 1},
    2**70,
    -(2**70),
]


def _random_row(rng: random.Random) -> dict:
    row = {name: rng.uniform(-5, 5) for name in FEATURES}
    for _ in range(rng.randint(0, 3)):
        action = rng.choice(["drop", "change", "add"])
        name = rng.choice(FEATURES)
        if action == "drop":
            row.pop(name, None)
        elif action == "change":
            row[name] = rng.choice(VALUES)
        else:
            row[f"extra{rng.randint(0, 9)}"] = rng.choice(VALUES)
    return row


def _random_body(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.1:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40)))
    if kind < 0.2:
        return json.dumps(rng.choice(VALUES)).encode()
    if kind < 0.6:
        return json.dumps(_random_row(rng)).encode()
    rows = [_random_row(rng) for _ in range(rng.randint(0, 4))]
    body = {"transactions": rows} if rng.random() < 0.8 else {"rows": rows}
    text = json.dumps(body)
    if rng.random() < 0.2:  # truncate: malformed JSON
        text = text[: rng.randint(0, len(text))]
    return text.encode()


def test_no_body_produces_a_server_error(make_client):
    client = make_client(admin_token="t")
    rng = random.Random(1234)
    routes = [
        ("post", "/predict"),
        ("post", "/predict/batch"),
        ("post", "/explain"),
        ("put", "/model/threshold"),
    ]
    statuses = set()
    for _ in range(400):
        method, route = rng.choice(routes)
        response = client.request(
            method,
            route,
            content=_random_body(rng),
            headers={"content-type": "application/json", "authorization": "Bearer t"},
        )
        assert response.status_code < 500, (route, response.status_code, response.text)
        assert "error" in response.json() or response.status_code == 200
        statuses.add(response.status_code)
    assert {200, 400, 422} <= statuses
