"""``fraudctl score`` on files larger than one slice: the rows come back as they went in,
with the same probabilities as scoring the whole table at once, in parquet and CSV."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from fraudctl.model.bundle import ROWS_PER_PIECE, load_model
from tests.conftest import invoke


@pytest.fixture(scope="module")
def batch() -> pd.DataFrame:
    """More rows than one slice, with a text id, a column the model does not read and a
    stale score column that the output replaces where it stands."""
    from fraudctl.data.synthetic import generate_transactions

    rows = ROWS_PER_PIECE + 4321
    frame = generate_transactions(n_rows=rows, seed=11).drop(columns="Class")
    frame.insert(0, "transaction_id", [f"tx-{i}" for i in range(rows)])
    frame.insert(3, "fraud_probability", -1.0)
    frame["note"] = np.where(np.arange(rows) % 3 == 0, None, "ok")
    return frame


def _expected(model_dir, batch: pd.DataFrame) -> pd.DataFrame:
    """The whole table scored at once; a model without rules decides by its threshold
    alone (review or allow, no rule)."""
    model = load_model(model_dir)
    whole = model.probabilities(model.inputs(batch), threads=1)  # one matrix, one thread
    flagged = whole >= model.threshold
    return batch.assign(
        fraud_probability=whole,
        fraud_decision=flagged,
        decision=np.where(flagged, "review", "allow").astype(object),
        rule=np.full(len(batch), None, dtype=object),
    )


def test_parquet_rows_and_scores_match_scoring_the_whole_table(
    model_dir, batch, runner, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    batch.to_parquet("in.parquet", index=False)
    result = invoke(runner, "score", "in.parquet", "-o", "out.parquet", "--model", str(model_dir))
    assert result.exit_code == 0, result.output
    expected = _expected(model_dir, batch)
    expected["fraud_decision"] = expected["fraud_decision"].astype(np.int8)
    scored = pd.read_parquet("out.parquet")
    pd.testing.assert_frame_equal(scored, expected, check_exact=True)
    assert pq.ParquetFile("out.parquet").metadata.num_row_groups > 1  # written a slice at a time
    assert f"{len(batch):,} rows scored" in " ".join(result.output.split())


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz"])
def test_csv_text_is_what_pandas_writes_for_the_whole_table(
    model_dir, batch, runner, tmp_path, monkeypatch, name
):
    monkeypatch.chdir(tmp_path)
    batch.to_parquet("in.parquet", index=False)
    result = invoke(runner, "score", "in.parquet", "-o", name, "--model", str(model_dir))
    assert result.exit_code == 0, result.output
    expected = _expected(model_dir, batch)
    expected["fraud_decision"] = expected["fraud_decision"].astype(np.int8)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(name, "rt", encoding="utf-8", newline="") as handle:
        assert handle.read() == expected.to_csv(index=False)


def test_a_failed_score_leaves_no_output_and_the_input_untouched(
    model_dir, batch, runner, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    bad = batch.copy()
    bad.loc[ROWS_PER_PIECE + 5, "V3"] = np.inf  # past the first slice
    bad.to_parquet("in.parquet", index=False)
    before = (tmp_path / "in.parquet").read_bytes()
    result = invoke(runner, "score", "in.parquet", "-o", "out.parquet", "--model", str(model_dir))
    assert result.exit_code == 2
    assert f"column 'V3': infinite value(s) at row {ROWS_PER_PIECE + 6}" in result.output
    assert not (tmp_path / "out.parquet").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]
    assert (tmp_path / "in.parquet").read_bytes() == before
