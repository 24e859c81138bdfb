"""Locust load test for `fraudctl serve`: the traffic mix a payment system sends.

    make bench-load                       # starts a server on 127.0.0.1, 60 s, prints percentiles
    locust -f benchmarks/locustfile.py --host http://127.0.0.1:8000   # against a running one

Each simulated client replays transactions from ``FRAUDCTL_LOAD_ROWS`` (default: the test
split, ``data/prepared/test.parquet``) with the fields the served model asks for
(``GET /model``), in this mix:

- 80 % single transactions (``POST /predict``); for a raw-transaction model these carry
  customer and terminal ids and timestamps, so the server reads and extends each
  customer's history on every call, as in production;
- 10 % batches of 100 (``POST /predict/batch``);
- 5 % explanations (``POST /explain``; a model without an exact explainer answers 501,
  counted as expected);
- 5 % model descriptions (``GET /model``), what dashboards and the web app poll.

Only ever point it at 127.0.0.1 or a service you own.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events, task

from benchmarks.load_rows import transactions

ROWS = Path(os.environ.get("FRAUDCTL_LOAD_ROWS", "data/prepared/test.parquet"))
BATCH_ROWS = 100
JSON = {"Content-Type": "application/json"}
_shared: dict[str, Any] = {}


@events.test_start.add_listener
def _load_rows(environment: Any, **_: Any) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{environment.host}/model", timeout=30) as response:
        described = json.loads(response.read())
    bodies = transactions(described["inputs"], ROWS)
    _shared["bodies"] = bodies
    _shared["batches"] = [
        b'{"transactions": [' + b",".join(bodies[i : i + BATCH_ROWS]) + b"]}"
        for i in range(0, len(bodies) - BATCH_ROWS + 1, BATCH_ROWS)
    ]


class PaymentSystem(FastHttpUser):
    """One connection of the payment system: mostly single transactions, back to back."""

    wait_time = between(0.0, 0.01)

    def on_start(self) -> None:
        self._bodies = itertools.cycle(_shared["bodies"])
        self._batches = itertools.cycle(_shared["batches"])

    @task(80)
    def predict(self) -> None:
        self.client.post("/predict", data=next(self._bodies), headers=JSON)

    @task(10)
    def predict_batch(self) -> None:
        self.client.post(
            "/predict/batch", data=next(self._batches), headers=JSON, name="/predict/batch"
        )

    @task(5)
    def explain(self) -> None:
        with self.client.post(
            "/explain", data=next(self._bodies), headers=JSON, catch_response=True
        ) as response:
            if response.status_code in (200, 501):
                response.success()

    @task(5)
    def model(self) -> None:
        self.client.get("/model")
