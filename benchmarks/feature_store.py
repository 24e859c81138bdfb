"""Feast's online store beside fraudctl's, for the store work of one raw ``/predict``.

Feast was the design's first choice for online features, to be kept unless it cannot meet
the serving targets. A raw ``/predict`` reads the history of its customer and its terminal
and writes the new transaction back; at the target of 1,500 requests/s on one worker the
whole request has about 0.67 ms of one core. This measures only the store part of that,
one request after another on one thread:

- fraudctl's SQLite store (the default): the two entities' events in a 30-day window,
  then the transaction appended, on a table of ``--events`` transactions;
- Feast's SQLite online store, asked for less: the two entities' precomputed feature
  rows (14 customer and 6 terminal values, as the example's transform has), then both rows
  written back with ``write_to_online_store``. A sliding window that includes the
  transaction being scored needs the raw events (docs/transactions.md#online), so in
  production Feast would have more to do, not less.

Feast pins its own versions of shared libraries, so it runs in a virtualenv of its own
with fraudctl beside it: ``make bench-feast`` (or ``python -m benchmarks.feature_store``
wherever ``feast`` imports). Writes benchmarks/results/feature_store.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import results

CUSTOMERS, TERMINALS = 5_000, 10_000
CUSTOMER_FEATURES = [
    f"customer_{a}_{w}" for w in ("1d", "7d", "30d") for a in ("count", "sum", "mean", "max")
] + [
    "customer_relative_amount",
    "customer_seconds_since_previous",
]
TERMINAL_FEATURES = [f"terminal_{a}_{w}" for w in ("1d", "7d", "30d") for a in ("count", "risk")]
DAY_MS = 86_400_000


def timed(step: Callable[[int], None], requests: int) -> dict[str, float]:
    """Milliseconds per call: p50, p99 and mean (the mean bounds requests/s)."""
    for i in range(min(50, requests)):  # warm caches and connections
        step(i)
    laps = []
    for i in range(requests):
        started = time.perf_counter()
        step(i)
        laps.append((time.perf_counter() - started) * 1000)
    laps.sort()
    return {
        "p50": statistics.median(laps),
        "p99": laps[int(0.99 * (len(laps) - 1))],
        "mean": statistics.fmean(laps),
    }


def fraudctl_store(root: Path, events: int, requests: int, rng: np.random.Generator) -> dict:
    from fraudctl.features.online import SQLiteStore, Transaction

    store = SQLiteStore(root / "fraudctl.db")
    times = np.sort(rng.integers(0, 60 * DAY_MS, events))
    amounts = rng.integers(100, 20_000, events)
    tx = np.array([f"t{i}" for i in range(events)], dtype=object)
    for role, count in (("customer", CUSTOMERS), ("terminal", TERMINALS)):
        store.load(
            role,
            rng.integers(0, count, events).astype(str).astype(object),
            {
                "time_ms": times,
                "amount_fp": amounts,
                "labelled": np.ones(events, dtype=np.int64),
                "fraud": (rng.random(events) < 0.01).astype(np.int64),
                "tx": tx,
            },
        )
    now = 60 * DAY_MS
    customers = rng.integers(0, CUSTOMERS, requests + 50).astype(str)
    terminals = rng.integers(0, TERMINALS, requests + 50).astype(str)

    def step(i: int) -> None:
        at = now + i
        store.window(
            [
                ("customer", customers[i], at - 30 * DAY_MS, at),
                ("terminal", terminals[i], at - 30 * DAY_MS, at),
            ]
        )
        store.append(
            [Transaction(f"r{i}", at, 5_000, {"customer": customers[i], "terminal": terminals[i]})]
        )

    return {"read + write": timed(step, requests)}


def feast_store(root: Path, requests: int, rng: np.random.Generator) -> dict:
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource
    from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig
    from feast.repo_config import RepoConfig
    from feast.types import Float64
    from feast.value_type import ValueType

    stamp = datetime(2026, 6, 1, tzinfo=UTC)
    views = {}
    tables = {}
    for role, count, names in (
        ("customer", CUSTOMERS, CUSTOMER_FEATURES),
        ("terminal", TERMINALS, TERMINAL_FEATURES),
    ):
        key = f"{role}_id"
        table = pd.DataFrame(rng.random((count, len(names))), columns=names)
        table.insert(0, key, np.arange(count, dtype=np.int64))
        table["event_timestamp"] = stamp
        table.to_parquet(root / f"{role}.parquet", index=False)
        tables[role] = table
        entity = Entity(name=role, join_keys=[key], value_type=ValueType.INT64)
        views[role] = (
            entity,
            FeatureView(
                name=f"{role}_history",
                entities=[entity],
                ttl=timedelta(days=365),
                schema=[Field(name=name, dtype=Float64) for name in names],
                source=FileSource(
                    path=str(root / f"{role}.parquet"), timestamp_field="event_timestamp"
                ),
                online=True,
            ),
        )
    store = FeatureStore(
        config=RepoConfig(
            project="bench",
            registry=str(root / "registry.db"),
            provider="local",
            online_store=SqliteOnlineStoreConfig(path=str(root / "feast.db")),
            entity_key_serialization_version=3,
        )
    )
    store.apply([part for pair in views.values() for part in pair])
    for role, table in tables.items():
        store.write_to_online_store(f"{role}_history", table)
    features = [f"customer_history:{n}" for n in CUSTOMER_FEATURES] + [
        f"terminal_history:{n}" for n in TERMINAL_FEATURES
    ]
    customers = rng.integers(0, CUSTOMERS, requests + 50)
    terminals = rng.integers(0, TERMINALS, requests + 50)

    def read(i: int) -> None:
        store.get_online_features(
            features=features,
            entity_rows=[{"customer_id": int(customers[i]), "terminal_id": int(terminals[i])}],
        ).to_dict()

    def write(i: int) -> None:
        for role, ids in (("customer", customers), ("terminal", terminals)):
            row = tables[role].iloc[[int(ids[i])]].copy()
            row["event_timestamp"] = stamp + timedelta(seconds=i + 1)
            store.write_to_online_store(f"{role}_history", row)

    return {"read": timed(read, requests), "write": timed(write, requests)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()
    try:
        import feast
    except ImportError:
        raise SystemExit("feast is not installed here: run `make bench-feast`") from None
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="fraudctl-feast-") as scratch:
        root = Path(scratch)
        print(f"fraudctl SQLite store, {args.events:,} transactions loaded ...", flush=True)
        ours = fraudctl_store(root, args.events, args.requests, rng)
        print(f"Feast {feast.__version__} SQLite online store ...", flush=True)
        theirs = feast_store(root, args.requests, rng)
    print(f"\nstore work of one raw /predict, {args.requests:,} requests, one thread (ms)")
    print(f"{'store':<34} {'p50':>7} {'p99':>7} {'mean':>7} {'req/s':>8}")
    rows = {f"fraudctl: {k}": v for k, v in ours.items()}
    rows |= {f"Feast: {k}": v for k, v in theirs.items()}
    rows["Feast: read + write"] = {
        key: theirs["read"][key] + theirs["write"][key] for key in ("p50", "p99", "mean")
    }
    for name, r in rows.items():
        print(
            f"{name:<34} {r['p50']:>7.3f} {r['p99']:>7.3f} {r['mean']:>7.3f} "
            f"{1000 / r['mean']:>8,.0f}"
        )
    budget = (
        "a whole request (HTTP, validation, features, trees, logging) in 0.67 ms of one core "
        "for 1,500 req/s on one worker"
    )
    print(f"budget: {budget}")
    work = {
        "fraudctl: read + write": "both 30-day windows read, the transaction appended",
        "Feast: read": "`get_online_features`, both entities' precomputed rows",
        "Feast: write": "`write_to_online_store`, both rows",
        "Feast: read + write": "both of the above",
    }
    records = [
        {
            "store": name.split(":")[0],
            "work": work[name],
            "p50_ms": r["p50"],
            "p99_ms": r["p99"],
            "mean_ms": r["mean"],
            "rps": 1000 / r["mean"],
        }
        for name, r in rows.items()
    ]
    conditions = (
        f"Feast {feast.__version__}; fraudctl's store holds {args.events:,} transactions; "
        f"{args.requests:,} requests one after another on one thread; budget: {budget}"
    )
    print(f"results: {results.write('feature_store', records, conditions)}")


if __name__ == "__main__":
    main()
