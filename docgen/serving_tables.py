"""Renderers for the serving side: load tests, serving, raw logs, Dask, the online stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docgen import fmt
from docgen.results import load
from docgen.tables import with_source


def _latency(row: dict[str, Any]) -> tuple[str, str]:
    return fmt.milliseconds(row.get("p50_ms")), fmt.milliseconds(row.get("p99_ms"))


def load_table(root: Path) -> str:
    result = load(root, "load")
    compared = [r for r in result.rows if r.get("tool") != "locust"]
    rows = [(r["tool"], fmt.count(r.get("rps")), *_latency(r)) for r in compared]
    table = fmt.table(["tool", "/predict req/s", "p50", "p99"], rows)
    mix = [r for r in result.rows if r.get("tool") == "locust"]
    mixed = fmt.table(
        ["Locust request", "requests", "failures", "req/s", "p50", "p95", "p99"],
        [
            (
                r["request"],
                fmt.count(r["requests"]),
                fmt.count(r["failures"]),
                fmt.count(r["rps"]),
                *(fmt.milliseconds(r.get(k)) for k in ("p50_ms", "p95_ms", "p99_ms")),
            )
            for r in mix
        ],
    )
    return with_source(result, table, mixed, f"Conditions: {result.targets}.")


def serving_single(root: Path) -> str:
    result = load(root, "serving")
    single = result.part("single")
    rows = [
        (
            f"`{r['server']}`",
            r["connections"],
            fmt.count(r["rps"]),
            *_latency(r),
            fmt.count(r.get("errors")),
        )
        for r in single
    ]
    table = fmt.table(["server", "connections", "req/s", "p50", "p99", "non-2xx or errors"], rows)
    rps = {(r["server"], r["connections"]): r["rps"] for r in single}
    ours, theirs = rps.get(("fraudctl serve", 16)), rps.get(("mlflow models serve", 16))
    ratio = (
        f"At 16 connections `fraudctl serve` answers {ours / theirs:.0f} times as many "
        "requests as `mlflow models serve` on the same model."
        if ours and theirs
        else ""
    )
    return with_source(result, table, ratio, f"Conditions and targets: {result.targets}.")


def serving_batch(root: Path) -> str:
    result = load(root, "serving")
    rows = [(r["form"], r["connections"], fmt.count(r["rows_per_s"])) for r in result.part("batch")]
    return with_source(result, fmt.table(["body", "connections", "rows/s"], rows))


def serving_registry(root: Path) -> str:
    """Reloads under load, the shadow challenger's cost and the soak, as sentences."""
    result = load(root, "serving")
    text = []
    for r in result.part("reload"):
        text.append(
            f"While the champion alias moved twice during {fmt.seconds(r['seconds'])} of load at "
            f"16 connections, the server reloaded {fmt.count(r['reloads'])} times and answered "
            f"{fmt.count(r['requests'])} requests with {fmt.count(r['errors'])} non-2xx or errors."
        )
    shadow = result.part("shadow")
    if shadow:
        parts = [
            f"{fmt.count(r['rps'])} req/s with p99 {fmt.milliseconds(r['p99_ms'])} at "
            f"{r['connections']} connections"
            for r in shadow
        ]
        text.append("With a shadow challenger scoring every request: " + "; ".join(parts) + ".")
    for r in result.part("soak"):
        text.append(
            f"A soak of {fmt.seconds(r['seconds'])} at {fmt.count(r['rps'])} req/s: "
            f"{fmt.count(r['requests'])} requests, {fmt.count(r['errors'])} errors, resident "
            f"memory {fmt.mib(r['rss_start_mib'])} → {fmt.mib(r['rss_end_mib'])}."
        )
    return with_source(result, " ".join(text) or "*This run skipped the registry parts.*")


def transactions_table(root: Path) -> str:
    result = load(root, "transactions")
    rows = []
    scale = result.part("scale")
    if scale:
        n = fmt.count(scale[0]["rows"])
        rows += [
            (
                f"`fraudctl {r['stage']}` on {n} rows",
                fmt.seconds(r["seconds"]),
                fmt.mib(r["peak_mib"]),
            )
            for r in scale
        ]
    for r in result.part("example"):
        rows.append(
            (
                "the example's `dvc repro` on its defaults",
                fmt.seconds(r["repro_s"]),
                fmt.mib(r["peak_mib"]),
            )
        )
    for r in result.part("score"):
        rows.append(
            (
                f"`fraudctl score`, {r['case']} ({fmt.count(r['rows'])} rows through the features)",
                f"{fmt.count(r['rows_per_s'])} rows/s",
                fmt.mib(r["peak_mib"]),
            )
        )
    for r in result.part("online"):
        rows.append(
            (
                f"raw `/predict`, SQLite store, {r['connections']} connections",
                f"{fmt.count(r['rps'])} req/s, p50 {fmt.milliseconds(r['p50_ms'])}, "
                f"p99 {fmt.milliseconds(r['p99_ms'])}",
                "–",
            )
        )
    table = fmt.table(["what", "measured", "peak memory"], rows)
    quality = [
        f"test PR-AUC {fmt.metric(r['pr_auc'])} on the {fmt.count(r['rows'])}-row log"
        for r in result.part("quality")
    ] + [
        f"the example's test PR-AUC with history features {fmt.metric(r['history_pr_auc'])}, with "
        f"amount and merchant category only {fmt.metric(r['baseline_pr_auc'])}"
        for r in result.part("example")
    ]
    reading = ("; ".join(quality) + ".").capitalize() if quality else ""
    return with_source(result, table, reading, f"Targets: {result.targets}.")


def transactions_kernel(root: Path) -> str:
    result = load(root, "transactions")
    stage = next((r for r in result.part("scale") if r["stage"] == "features build"), None)
    if stage is None:
        return with_source(result, "*This run skipped the scale part.*")
    return with_source(
        result,
        f"`fraudctl features build` computes the example's features for "
        f"{fmt.count(stage['rows'])} rows in {fmt.seconds(stage['seconds'])} "
        f"(peak {fmt.mib(stage['peak_mib'])}).",
    )


def dask_table(root: Path) -> str:
    result = load(root, "dask")
    runs: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for r in result.rows:
        runs.setdefault((r["engine"], r["rows"]), {})[r["stage"]] = r
    stages = ("prepare", "features", "train", "score")
    rows = []
    for (engine, n), by_stage in runs.items():
        cells = [
            f"{fmt.seconds(s['seconds'])} ({fmt.count(s['rows_per_s'])} rows/s)" if s else "–"
            for s in (by_stage.get(name) for name in stages)
        ]
        worker = max((s.get("worker_mib") or 0 for s in by_stage.values()), default=0)
        client = max((s.get("client_mib") or 0 for s in by_stage.values()), default=0)
        pr_auc = next((s.get("val_pr_auc") for s in by_stage.values() if s.get("val_pr_auc")), None)
        rows.append(
            (
                fmt.count(n),
                engine,
                *cells,
                fmt.mib(worker) if worker else "–",
                fmt.mib(client),
                fmt.metric(pr_auc, 4),
            )
        )
    headers = ["rows", "engine", *stages, "largest worker", "client process", "validation PR-AUC"]
    return with_source(result, fmt.table(headers, rows), f"Conditions: {result.targets}.")


BUDGET_MS = 1000 / 1500  # a whole raw /predict at the 1,500 req/s target on one worker


def feature_store_table(root: Path) -> str:
    result = load(root, "feature_store")
    writes = [r for r in result.rows if r["store"] == "Feast" and "write_to" in r["work"]]
    write = writes[0] if writes else None
    reading = (
        f"A whole request has {fmt.milliseconds(BUDGET_MS)} of one core at the target of 1,500 "
        f"requests/s; Feast's write alone takes {write['mean_ms'] / BUDGET_MS:.1f} times that."
        if write
        else ""
    )
    rows = [
        (
            r["store"],
            r["work"],
            *(fmt.milliseconds(r.get(k)) for k in ("p50_ms", "p99_ms", "mean_ms")),
            fmt.count(r.get("rps")),
        )
        for r in result.rows
    ]
    headers = ["store", "work per request", "p50", "p99", "mean", "requests/s"]
    return with_source(result, fmt.table(headers, rows), reading, f"Conditions: {result.targets}.")
