"""A clock that counts days (``data.schema.time_unit: d``) through the public doors.

The log is the generated transaction log with its timestamps replaced by a day number, the
shape of public simulated payment logs. ``7d`` windows, ``split.gap: 7d`` and card
precision@k per day then mean what they say; the same log with its clock in seconds gives
the same features; a clock whose span cannot be right for its unit is named at
``fraudctl data`` with the unit to set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import (
    day_clock_params,
    day_step_log,
    example_params,
    invoke,
    run_cli_project,
)


def flat(text: str) -> str:
    """CLI output with the console's line wrapping undone."""
    return " ".join(text.split())


def write(root: Path, overrides: dict) -> None:
    """The day-clock project's params with ``overrides``, as root/params.yaml."""
    text = yaml.safe_dump(day_clock_params(overrides), sort_keys=False)
    (root / "params.yaml").write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return day_step_log()


def test_a_day_clock_end_to_end(day_clock_project: Path):
    root = day_clock_project
    report = json.loads((root / "reports/data.json").read_text())
    assert report["schema"]["time_unit"] == "d" and report["gap_rows"] > 0
    train = pd.read_parquet(root / "data/prepared/train.parquet")
    validation = pd.read_parquet(root / "data/prepared/validation.parquet")
    test = pd.read_parquet(root / "data/prepared/test.parquet")
    # split.gap: 7d is seven steps of the day clock, not seven seconds
    assert validation["step"].min() >= train["step"].max() + 7
    assert test["step"].min() >= validation["step"].max() + 7

    transform = json.loads((root / "data/features/transform.json").read_text())
    assert transform["time_unit"] == "d"
    features = pd.read_parquet(root / "data/features/test.parquet")
    # a 1d window holds the customer's transactions of that day only, 7d of the week
    assert (features["customer_count_1d"] < features["customer_count_7d"]).any()
    assert (features["customer_count_7d"] <= features["customer_count_30d"]).all()

    metrics = json.loads((root / "reports/metrics.json").read_text())
    # card precision@k per day: one value per day of the test split, not one for the period
    assert metrics["card_precision_days"] == test["step"].nunique() > 7
    assert 0.0 <= metrics["card_precision_at_k"] <= 1.0
    trained = json.loads((root / "reports/train.json").read_text())
    assert trained["validation"]["card_precision_days"] > 1


def test_the_same_log_in_seconds_gives_the_same_features(
    day_clock_project: Path, log: pd.DataFrame, tmp_path: Path, mlflow_store: str
):
    log.assign(step=log["step"] * 86_400).to_csv(tmp_path / "log.csv", index=False)
    seconds = day_clock_params({"data": {"schema": {"time_unit": "s"}}})
    run_cli_project(tmp_path, seconds, mlflow_store, "data", "features build")

    in_days = json.loads((day_clock_project / "data/features/transform.json").read_text())
    in_seconds = json.loads((tmp_path / "data/features/transform.json").read_text())
    assert "time_unit" not in in_seconds  # seconds: the format before units existed
    assert in_seconds == {k: v for k, v in in_days.items() if k != "time_unit"}
    for split in ("train", "validation", "test"):
        days = pd.read_parquet(day_clock_project / f"data/features/{split}.parquet")
        secs = pd.read_parquet(tmp_path / f"data/features/{split}.parquet")
        inputs = in_days["output_columns"]
        assert len(days) == len(secs) > 0
        np.testing.assert_allclose(
            secs[inputs].to_numpy(), days[inputs].to_numpy(), rtol=0, atol=1e-9
        )
        np.testing.assert_array_equal(secs["step"], days["step"] * 86_400)


def test_a_day_clock_read_as_seconds_is_named_at_fraudctl_data(
    log: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runner
):
    """Every duration written in seconds (the old workaround): the run works, and the note
    says the clock spans 79 seconds and which unit to set."""
    monkeypatch.chdir(tmp_path)
    log.to_csv("log.csv", index=False)
    write(
        tmp_path,
        {
            "data": {"schema": {"time_unit": "s"}},
            "split": {"gap": "7s"},
            "selection": {"gap": "7s"},
        },
    )
    result = invoke(runner, "data")
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "the clock 'step', read in seconds (data.schema.time_unit: s), spans 79 seconds" in out
    assert "shorter than one day (card precision@k is counted per day)" in out
    assert "set data.schema.time_unit: d (then it spans 79 days)" in out


def test_a_gap_that_empties_a_split_says_what_the_clock_spans(
    log: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runner
):
    monkeypatch.chdir(tmp_path)
    log.to_csv("log.csv", index=False)
    write(tmp_path, {"data": {"schema": {"time_unit": "s"}}})
    result = invoke(runner, "data")
    assert result.exit_code == 2
    out = flat(result.output)
    assert "the validation split has 0 rows" in out and "after split.gap (7d)" in out
    assert "spans 79 seconds (1.32 minutes)" in out
    assert "set data.schema.time_unit: d (then it spans 79 days)" in out
    assert not Path("data/prepared").exists()


def test_calendar_features_on_a_day_clock_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runner
):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"features": {"calendar": ["hour"]}})
    result = invoke(runner, "data")
    assert result.exit_code == 2
    out = flat(result.output)
    assert "features.calendar: hour need the time of day" in out
    assert "data.schema.time_unit is d" in out


def test_a_unit_on_a_datetime_column_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runner
):
    monkeypatch.chdir(tmp_path)
    params = example_params({"data": {"schema": {"time_unit": "h"}}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    result = invoke(runner, "data")
    assert result.exit_code == 2
    out = flat(result.output)
    assert "column 'timestamp' holds datetimes, which carry their own unit" in out
    assert "data.schema.time_unit: h is for a numeric clock" in out


def test_the_features_stage_refuses_calendar_on_a_day_clock_prepared_earlier(
    day_clock_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runner
):
    """params changed after `fraudctl data` (calendar added, unit back to seconds): the
    prepared data's unit still rules, and the transform refuses the calendar."""
    import shutil

    for folder in ("data/prepared", "reports"):
        shutil.copytree(day_clock_project / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"data": {"schema": {"time_unit": "s"}}, "features": {"calendar": ["hour"]}})
    result = invoke(runner, "features", "build")
    assert result.exit_code == 2
    assert "data.schema.time_unit is d" in flat(result.output)
