"""The Locust load test runs: a short, bounded smoke run of its traffic mix on 127.0.0.1."""

from __future__ import annotations

from benchmarks.load import run_locust, summarise
from tests.serve.test_server_process import serving


def test_the_locust_mix_runs_against_a_real_server_without_failures(trained, tmp_path):
    with serving(trained.model_dir) as host:
        rows = run_locust(
            host, users=2, seconds=4, prefix=tmp_path / "locust", rows=trained.split_file("test")
        )
    table = {row["request"]: row for row in summarise(rows)}
    assert {"POST /predict", "POST /predict/batch", "POST /explain", "GET /model"} <= set(table)
    assert table["POST /predict"]["requests"] > 10
    assert all(row["failures"] == 0 for row in table.values()), table
    assert (tmp_path / "locust_stats_history.csv").exists()  # Locust's own CSV output
