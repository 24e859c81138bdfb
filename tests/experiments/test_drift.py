"""Drift: the gate stays quiet on the same distribution and fires on a shifted batch."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fraudctl.experiments.drift import psi
from fraudctl.experiments.evidently_adapter import parse_metrics
from tests.conftest import invoke


def test_psi_is_zero_for_identical_and_large_for_shifted_samples():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=20_000)
    assert psi(reference, reference, 10) == pytest.approx(0.0, abs=1e-9)
    assert psi(reference, rng.normal(size=20_000), 10) < 0.01
    assert psi(reference, rng.normal(1.0, 1.0, size=20_000), 10) > 0.5


def test_evidently_results_are_read_per_column():
    metrics = [
        {
            "metric_name": "DriftedColumnsCount(drift_share=0.5)",
            "config": {},
            "value": {"count": 1.0, "share": 0.5},
        },
        {
            "metric_name": "ValueDrift(column=V1,method=Wasserstein distance (normed),"
            "threshold=0.1)",
            "config": {"column": "V1", "method": "Wasserstein distance (normed)", "threshold": 0.1},
            "value": 0.4,
        },
        {
            "metric_name": "ValueDrift(column=V2,method=K-S p_value,threshold=0.05)",
            "config": {"column": "V2", "method": "K-S p_value", "threshold": 0.05},
            "value": 0.3,
        },
    ]
    drift = parse_metrics(metrics)
    assert (drift.drifted_count, drift.drifted_share) == (1, 0.5)
    assert [c.drifted for c in drift.columns] == [True, False]


def test_gate_is_quiet_on_the_test_split(trained_project, runner):
    result = invoke(runner, "experiment", "drift", "--fail-on-drift")
    assert result.exit_code == 0, result.output
    directory = trained_project / "reports" / "drift"
    metrics = json.loads((directory / "results.json").read_text())
    assert metrics["drift_detected"] is False
    assert metrics["target"]["fraud_rate_current"] > 0
    assert set(metrics["features"]) == {f"V{i}" for i in range(1, 29)} | {"Amount"}
    assert (directory / "report.html").stat().st_size > 10_000
    assert "gate passed" in (directory / "summary.md").read_text()


def test_gate_fires_on_a_simulated_shift(trained_project, runner):
    """A simulation goes to reports/drift-check and never touches the tracked outputs."""
    tracked = trained_project / "reports/drift/metrics.json"
    before = tracked.read_bytes() if tracked.exists() else None
    result = invoke(runner, "experiment", "drift", "--simulate", "--fail-on-drift")
    assert result.exit_code == 1, result.output
    metrics = json.loads((trained_project / "reports/drift-check/results.json").read_text())
    assert metrics["drift_detected"] is True and metrics["reasons"]
    assert metrics["prediction"]["psi"] > 0
    assert (tracked.read_bytes() if tracked.exists() else None) == before


def test_current_file_without_labels_is_accepted(trained_project, runner):
    import pandas as pd

    test = pd.read_parquet(trained_project / "data/prepared/test.parquet")
    test.drop(columns=["Class"]).to_csv(trained_project / "batch.csv", index=False)
    result = invoke(runner, "experiment", "drift", "--current", "batch.csv")
    assert result.exit_code == 0, result.output
    metrics = json.loads((trained_project / "reports/drift-check/results.json").read_text())
    assert metrics["target"] is None and metrics["current"] == "batch.csv"


def test_current_file_with_missing_columns_is_rejected(trained_project, runner):
    import pandas as pd

    test = pd.read_parquet(trained_project / "data/prepared/test.parquet")
    test.drop(columns=["V3", "V9"]).to_csv(trained_project / "batch.csv", index=False)
    result = invoke(runner, "experiment", "drift", "--current", "batch.csv")
    assert result.exit_code == 2
    assert "batch.csv: missing column(s) V3, V9" in " ".join(result.output.split())
    assert not (trained_project / "reports" / "drift").exists()
