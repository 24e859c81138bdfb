"""The last inputs that used to pass without a word: a finite but absurd feature value, one
transaction id on two different rows, and a project command run where there is no
params.yaml. Each is one line naming the column, the id or the file, through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fraudctl.data.rows import ABSURD_FACTOR, absurd_values
from fraudctl.data.synthetic import generate_transactions
from tests.conftest import example_params, invoke, write_example_params


def small_table(n: int = 3000) -> pd.DataFrame:
    return generate_transactions(n_rows=n, fraud_rate=0.03, seed=3)


@pytest.mark.parametrize("value", [1e308, -1e308, 3e38, 1e12])
def test_an_absurd_feature_value_is_refused_by_column_and_line(project, runner, value):
    frame = small_table()
    frame.loc[41, "V5"] = value
    frame.to_csv(project / "in.csv", index=False)
    result = invoke(runner, "data", "--source", "in.csv")
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"in.csv: column 'V5': absurd value {value:g}" in message
    assert "at line 43" in message and "data.schema.exclude" in message
    assert not (project / "data/prepared").exists()


def test_wide_but_real_columns_pass(project, runner):
    """Heavy tails, a column of rare ones and one of large counts are data, not mistakes."""
    frame = small_table()
    rng = np.random.default_rng(0)
    frame["V1"] = rng.standard_cauchy(len(frame))  # tails far beyond any normal column
    frame["V2"] = (rng.random(len(frame)) < 0.002).astype(float) * 1e5  # rare, large
    frame["V3"] = rng.integers(0, 10**9, len(frame)).astype(float)  # large counts
    frame.to_csv(project / "in.csv", index=False)
    result = invoke(runner, "data", "--source", "in.csv")
    assert result.exit_code == 0, result.output


def test_the_bound_is_a_million_times_the_bulk_and_one_value_cannot_hide_itself():
    values = np.concatenate([np.linspace(-3.0, 3.0, 999), [2.9e6]])
    bad, bound = absurd_values(values)
    bulk = np.quantile(np.abs(values), 0.99, method="lower")  # about 2.98
    assert bad.size == 0 and bound == ABSURD_FACTOR * bulk
    values[-1] = 3.1e6
    assert absurd_values(values)[0].tolist() == [999]
    # a column that is zero but for the absurd value: the bulk stays at the floor of 1
    zeros = np.zeros(100)
    zeros[7] = 1e308
    assert absurd_values(zeros)[0].tolist() == [7]


def _log() -> pd.DataFrame:
    """The small log the transaction tests use (tests/conftest.py: SMALL_LOG)."""
    from fraudctl.data.synthetic_transactions import generate_transaction_log

    generator = example_params()["data"]["synthetic_transactions"]
    return generate_transaction_log(**generator, seed=3).reset_index(drop=True)


def test_one_transaction_id_on_two_different_rows_is_refused(project, runner):
    write_example_params(project, {"data": {"source": "log.parquet"}})
    log = _log()
    log.loc[2500, "transaction_id"] = log.loc[17, "transaction_id"]  # another payment
    log.to_parquet(project / "log.parquet", index=False)
    result = invoke(runner, "data")
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    shared = log.loc[17, "transaction_id"]
    assert f"log.parquet: column 'transaction_id': id {shared} names 2 different rows" in message
    assert "(row 18, row 2501)" in message
    assert not (project / "data/prepared").exists()


def test_an_exact_repeat_of_a_transaction_is_a_duplicate_not_a_clash(project, runner):
    write_example_params(project, {"data": {"source": "log.parquet"}})
    log = _log()
    pd.concat([log, log.iloc[[17, 40]]], ignore_index=True).to_parquet(project / "log.parquet")
    result = invoke(runner, "data")
    assert result.exit_code == 0, result.output
    report = json.loads((project / "reports/data.json").read_text())["source"]
    assert report["duplicates_dropped"] == 2


@pytest.mark.parametrize("command", [["evaluate"], ["data"], ["features", "build"], ["train"]])
def test_a_project_command_without_params_yaml_stops_and_says_where(
    project, runner, command, tmp_path
):
    (project / "params.yaml").unlink()
    result = invoke(runner, *command)
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"params.yaml not found in {project}" in message and "--params" in message
    assert not (project / "data").exists() and not (project / "reports").exists()


def test_an_explicit_params_file_is_read_from_anywhere(project, runner):
    (project / "params.yaml").rename(project / "elsewhere.yaml")
    result = invoke(runner, "data", "--params", "elsewhere.yaml")
    assert result.exit_code == 0, result.output
