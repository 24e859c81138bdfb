"""Rules beside the model: what deciding costs, one transaction at a time (a server's path)
and a batch at once (score, evaluate), for a rule set a fraud team would write.

    python -m benchmarks.rules [--rows 1000000] [--calls 100000]

Five rules: a velocity limit over history features, a deny list of 10,000 card ids, a
category list, an amount spike against the customer's mean (arithmetic) and a missing-value
check. The single-row case is measured twice: no rule fires (every rule is evaluated) and
the first rule fires (evaluation stops there). Targets: a decision adds well under the
serving budget of 0.67 ms a request (ARCHITECTURE.md) to one row, and a batch decides at
least 1 million rows a second. Writes benchmarks/results/rules.json.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from benchmarks.results import write
from fraudctl.config import parse_params
from fraudctl.rules.decide import decide_batch, decide_row
from fraudctl.rules.ruleset import RuleSet

DENIED = list(range(4_000_000_000_000_000, 4_000_000_000_010_000))
RULES = [
    {
        "name": "velocity",
        "when": "customer_count_1d >= 8 and customer_amount_sum_1d > 2000",
        "action": "review",
        "priority": 30,
    },
    {"name": "denied", "when": f"card_id in {DENIED}", "action": "block", "priority": 50},
    {
        "name": "category",
        "when": "merchant_category in ['gambling', 'crypto', 'money_transfer']",
        "action": "review",
        "priority": 20,
    },
    {
        "name": "spike",
        "when": "amount > 10 * customer_amount_mean_30d and amount > 500",
        "action": "review",
        "priority": 10,
    },
    {"name": "no_terminal", "when": "terminal_id is missing", "action": "review"},
]


def frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    categories = np.array(["grocery", "travel", "online", "gambling", "fuel", "crypto"])
    return pd.DataFrame(
        {
            "card_id": rng.integers(4_000_000_000_000_000, 4_000_000_100_000_000, rows),
            "amount": rng.lognormal(3.5, 1.2, rows),
            "customer_count_1d": rng.poisson(2, rows).astype(np.float64),
            "customer_amount_sum_1d": rng.lognormal(4.5, 1.0, rows),
            "customer_amount_mean_30d": rng.lognormal(3.5, 0.5, rows),
            "merchant_category": categories[rng.integers(0, len(categories), rows)],
            "terminal_id": np.where(rng.random(rows) < 0.001, None, "T1").astype(object),
        }
    )


def per_call(rules: RuleSet, row: dict, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        decide_row(rules, row, 0.01, 0.5)
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    started = time.perf_counter()
    rules = RuleSet.from_params(parse_params({"rules": RULES}).rules)
    parse_s = time.perf_counter() - started

    quiet = {
        "card_id": 4_000_000_050_000_000,
        "amount": 42.0,
        "customer_count_1d": 1.0,
        "customer_amount_sum_1d": 42.0,
        "customer_amount_mean_30d": 40.0,
        "merchant_category": "grocery",
        "terminal_id": "T1",
    }
    denied = {**quiet, "card_id": DENIED[-1]}
    none_fire_us = per_call(rules, quiet, args.calls)
    first_fires_us = per_call(rules, denied, args.calls)

    batch = frame(args.rows)
    probabilities = np.random.default_rng(1).random(args.rows)
    decide_batch(rules, batch.iloc[:1000], probabilities[:1000], 0.99)  # warm up
    started = time.perf_counter()
    decisions = decide_batch(rules, batch, probabilities, 0.99)
    batch_s = time.perf_counter() - started
    hits = decisions.fired.sum(axis=0)

    print(f"parse and check 5 rules (10,000-id deny list): {parse_s * 1000:.1f} ms")
    print(f"one row, no rule fires:    {none_fire_us:8.1f} µs a decision")
    print(f"one row, first rule fires: {first_fires_us:8.1f} µs a decision")
    print(
        f"batch of {args.rows:,} rows:      {batch_s:8.3f} s, {args.rows / batch_s:,.0f} rows/s; "
        f"hits per rule {dict(zip(rules.names, hits.tolist(), strict=True))}"
    )
    path = write(
        "rules",
        [
            {"case": "parse 5 rules", "ms": round(parse_s * 1000, 2)},
            {"case": "one row, no rule fires", "us_per_decision": round(none_fire_us, 2)},
            {"case": "one row, first rule fires", "us_per_decision": round(first_fires_us, 2)},
            {
                "case": f"batch of {args.rows:,} rows",
                "batch_s": round(batch_s, 3),
                "rows_per_s": round(args.rows / batch_s),
            },
        ],
        targets="one row: well under 670 µs (the serving budget); batch: >= 1,000,000 rows/s",
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
