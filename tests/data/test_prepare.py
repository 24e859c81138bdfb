"""`fraudctl data` through the CLI: good inputs, and every kind of unusable input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudctl.data.schema import ULB_COLUMNS
from fraudctl.data.synthetic import generate_transactions
from tests.conftest import invoke, write_params

OUTPUTS = [
    "data/prepared/train.parquet",
    "data/prepared/validation.parquet",
    "data/prepared/test.parquet",
    "reports/data.json",
]


def small_table(n: int = 3000, seed: int = 3) -> pd.DataFrame:
    return generate_transactions(n_rows=n, fraud_rate=0.03, seed=seed)


def write_ulb_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write like the original file: quoted header and quoted class values."""
    import csv

    frame = frame.copy()
    frame["Class"] = frame["Class"].astype(str)
    frame.to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
    return path


def test_synthetic_default_writes_time_ordered_splits(project, runner):
    result = invoke(runner, "data")
    assert result.exit_code == 0, result.output
    for output in OUTPUTS:
        assert (project / output).exists(), output
    parts = {
        s: pd.read_parquet(project / f"data/prepared/{s}.parquet")
        for s in ("train", "validation", "test")
    }
    assert parts["train"]["Time"].max() <= parts["validation"]["Time"].min()
    assert parts["validation"]["Time"].max() <= parts["test"]["Time"].min()
    sizes = [len(p) for p in parts.values()]
    assert sizes == [4200, 600, 1200]
    report = json.loads((project / "reports/data.json").read_text())
    assert report["splits"]["test"]["rows"] == 1200
    assert report["schema"]["features"] == [f"V{i}" for i in range(1, 29)] + ["Amount"]
    assert sum(s["frauds"] for s in report["splits"].values()) == report["source"]["frauds"]


def test_reads_quoted_ulb_csv_gz(project, runner):
    frame = small_table()
    csv_path = write_ulb_csv(frame, project / "creditcard.csv")
    assert csv_path.read_text().startswith('"Time","V1"')
    gz = project / "creditcard.csv.gz"
    gz.write_bytes(gzip.compress(csv_path.read_bytes()))
    result = invoke(runner, "data", "--source", str(gz))
    assert result.exit_code == 0, result.output
    train = pd.read_parquet(project / "data/prepared/train.parquet")
    assert train["Class"].isin([0, 1]).all()
    assert int(json.loads((project / "reports/data.json").read_text())["source"]["frauds"]) == int(
        frame["Class"].sum()
    )


def test_reads_parquet_from_params(project, runner):
    small_table().to_parquet(project / "tx.parquet")
    write_params(project, {"data": {"source": "tx.parquet"}})
    result = invoke(runner, "data")
    assert result.exit_code == 0, result.output


def test_duplicates_are_counted_and_dropped(project, runner):
    frame = small_table()
    frame = pd.concat([frame, frame.iloc[:25]], ignore_index=True)
    frame.to_csv(project / "dup.csv", index=False)
    result = invoke(runner, "data", "--source", "dup.csv")
    assert result.exit_code == 0, result.output
    report = json.loads((project / "reports/data.json").read_text())["source"]
    assert report["duplicates_found"] == 25
    assert report["rows_kept"] == len(frame) - 25


def test_duplicates_kept_when_asked(project, runner):
    frame = small_table()
    pd.concat([frame, frame.iloc[:5]]).to_csv(project / "dup.csv", index=False)
    write_params(project, {"data": {"source": "dup.csv", "drop_duplicates": False}})
    assert invoke(runner, "data").exit_code == 0
    report = json.loads((project / "reports/data.json").read_text())["source"]
    assert (report["duplicates_found"], report["rows_kept"]) == (5, len(frame) + 5)


def test_random_split_is_opt_in_and_stratified(project, runner):
    write_params(project, {"split": {"method": "random"}})
    assert invoke(runner, "data").exit_code == 0
    report = json.loads((project / "reports/data.json").read_text())
    rates = [s["fraud_rate"] for s in report["splits"].values()]
    assert report["split_method"] == "random"
    assert max(rates) - min(rates) < 0.005


def _corrupt(frame: pd.DataFrame, column: str, row: int, value) -> pd.DataFrame:
    frame = frame.astype({column: object})
    frame.loc[row, column] = value
    return frame


BAD_TABLES = {
    "missing column": (lambda f: f.drop(columns=["V7"]), ["missing column(s) V7"]),
    "nan": (lambda f: _corrupt(f, "V3", 10, np.nan), ["'V3'", "missing value", "line 12"]),
    "inf": (lambda f: _corrupt(f, "Amount", 4, np.inf), ["'Amount'", "infinite", "line 6"]),
    "text": (lambda f: _corrupt(f, "V12", 20, "abc"), ["'V12'", "non-numeric", "'abc'", "line 22"]),
    "negative amount": (
        lambda f: _corrupt(f, "Amount", 3, -5.0),
        ["'Amount'", "negative", "line 5"],
    ),
    "bad label": (lambda f: _corrupt(f, "Class", 7, 2), ["'Class'", "0 or 1", "line 9"]),
    "single class": (lambda f: f.assign(Class=0), ["single class"]),
}


def test_all_features_rejects_a_text_column(project, runner):
    small_table().assign(merchant="shop").to_csv(project / "bad.csv", index=False)
    write_params(project, {"data": {"schema": {"features": "all"}}})
    result = invoke(runner, "data", "--source", "bad.csv")
    assert result.exit_code == 2
    assert "'merchant'" in result.output and "non-numeric" in result.output


@pytest.mark.parametrize("case", sorted(BAD_TABLES))
def test_unusable_tables_fail_clearly_and_write_nothing(project, runner, case):
    mutate, expected = BAD_TABLES[case]
    path = project / "bad.csv"
    mutate(small_table()).to_csv(path, index=False)
    result = invoke(runner, "data", "--source", str(path))
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "bad.csv" in message
    for fragment in expected:
        assert fragment in message, (fragment, message)
    assert "Traceback" not in result.output
    for output in OUTPUTS:
        assert not (project / output).exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "empty"),
        (",".join(ULB_COLUMNS) + "\n", "no rows"),
        (
            ",".join(ULB_COLUMNS)
            + "\n"
            + ",".join(["1"] * 31)
            + "\n"
            + ",".join(["1"] * 33)
            + "\n",
            "malformed CSV",
        ),
    ],
    ids=["empty file", "header only", "ragged row"],
)
def test_malformed_files_fail_clearly(project, runner, content, expected):
    (project / "bad.csv").write_text(content)
    result = invoke(runner, "data", "--source", "bad.csv")
    assert result.exit_code == 2
    assert expected in result.output and "bad.csv" in result.output


def test_bad_input_keeps_previous_outputs(project, runner):
    assert invoke(runner, "data").exit_code == 0
    before = {o: (project / o).read_bytes() for o in OUTPUTS}
    small_table().drop(columns=["Amount"]).to_csv(project / "bad.csv", index=False)
    assert invoke(runner, "data", "--source", "bad.csv").exit_code == 2
    assert {o: (project / o).read_bytes() for o in OUTPUTS} == before
    leftovers = [p.name for p in project.rglob(".*.tmp")]
    assert leftovers == []


def test_missing_source_file(project, runner):
    result = invoke(runner, "data", "--source", "nowhere.csv")
    assert result.exit_code == 2
    assert "nowhere.csv: file not found" in result.output


def test_custom_schema_with_listed_features_and_group(project, runner):
    frame = small_table().rename(columns={"Class": "is_fraud", "Amount": "amt"})
    frame["region"] = np.where(frame.index % 2 == 0, "north", "south")
    frame["note"] = "x"
    frame.to_parquet(project / "custom.parquet")
    write_params(
        project,
        {
            "data": {
                "source": "custom.parquet",
                "schema": {
                    "target": "is_fraud",
                    "amount": "amt",
                    "features": ["V1", "V2", "V14", "amt"],
                    "group": "region",
                },
            }
        },
    )
    result = invoke(runner, "data")
    assert result.exit_code == 0, result.output
    assert "ignored columns" in result.output
    train = pd.read_parquet(project / "data/prepared/train.parquet")
    assert list(train.columns) == ["Time", "V1", "V2", "V14", "amt", "is_fraud", "region"]


def test_a_decimal_amount_in_parquet_reads_as_numbers(project, runner):
    """Money exported as parquet decimal128 is numbers, not "numbers stored as text"."""
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = small_table()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    amounts = pa.array([Decimal(f"{a:.2f}") for a in frame["Amount"]], pa.decimal128(12, 2))
    table = table.set_column(table.column_names.index("Amount"), "Amount", amounts)
    pq.write_table(table, project / "money.parquet")
    result = invoke(runner, "data", "--source", str(project / "money.parquet"))
    assert result.exit_code == 0, result.output
    train = pd.read_parquet(project / "data/prepared/train.parquet")
    assert train["Amount"].dtype == "float64"
