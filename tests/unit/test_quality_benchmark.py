"""benchmarks/quality.py without AutoML: the metric row every system is measured by, the
result rows and file, and the docs table built from them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from benchmarks import quality, results
from fraudctl.model import metrics


def test_a_perfect_ranking_scores_one_and_card_precision_needs_entities():
    labels = np.array([0, 0, 1, 0, 1, 0, 0, 0])
    scores = np.array([0.1, 0.2, 0.9, 0.3, 0.8, 0.05, 0.15, 0.25])
    row = quality.metric_row(labels, scores, max_fpr=0.01)
    assert row == {"pr_auc": 1.0, "roc_auc": 1.0, "recall_at_fpr": 1.0, "card_precision_at_k": None}


def test_the_row_is_fraudctls_metric_code_on_rows_unlike_the_happy_path():
    rng = np.random.default_rng(3)
    labels = (rng.random(2_000) < 0.02).astype(int)
    scores = np.round(rng.random(2_000) + labels * 0.4, 2)  # ties, overlapping classes
    entity = rng.integers(0, 150, 2_000)
    day = np.sort(rng.integers(0, 9, 2_000))
    row = quality.metric_row(labels, scores, max_fpr=0.05, entity=entity, day=day, card_k=7)
    assert row["pr_auc"] == metrics.pr_auc(labels, scores)
    assert row["roc_auc"] == metrics.roc_auc(labels, scores)
    assert row["recall_at_fpr"] == metrics.recall_at_fpr(labels, scores, 0.05)
    assert row["card_precision_at_k"] == metrics.card_precision_at_k(labels, scores, entity, day, 7)
    assert 0.0 < row["recall_at_fpr"] < 1.0


@pytest.mark.parametrize(
    ("scores", "message"),
    [(np.array([0.1, 0.2]), "2 scores for 3 labels"), (np.array([0.1, np.nan, 0.3]), "NaN")],
)
def test_scores_that_do_not_fit_the_labels_are_refused(scores, message):
    with pytest.raises(ValueError, match=message):
        quality.metric_row(np.array([0, 1, 0]), scores, max_fpr=0.01)


def test_days_count_calendar_days_of_seconds_and_datetimes_alike():
    seconds = pd.Series([0.0, 86_399.9, 86_400.0, 3 * 86_400 + 5])
    stamps = pd.Series(pd.to_datetime(seconds, unit="s"))
    assert quality.day_numbers(seconds).tolist() == [0, 0, 1, 3]
    assert quality.day_numbers(stamps).tolist() == [0, 0, 1, 3]


def test_overrides_reach_nested_keys_without_touching_the_original():
    raw = {"data": {"source": "synthetic", "schema": {"target": "Class"}}}
    changed = quality.with_overrides(raw, {"data.source": "x.csv", "selection.budget": 45})
    assert changed == {
        "data": {"source": "x.csv", "schema": {"target": "Class"}},
        "selection": {"budget": 45},
    }
    assert raw["data"]["source"] == "synthetic"


def test_automl_gets_every_prepared_column_but_the_label_and_the_excluded_ids():
    columns = ["transaction_id", "timestamp", "customer_id", "amount", "is_fraud", "category"]
    chosen = quality.automl_columns(columns, "is_fraud", ["transaction_id"])
    assert chosen == ["timestamp", "customer_id", "amount", "category"]


def test_every_fraudctl_configuration_has_a_distinct_name():
    names = [config.name for config in quality.FRAUDCTL_CONFIGS]
    assert names[0] == "default" and quality.FRAUDCTL_CONFIGS[0].overrides == {}
    assert len(names) == len(set(names))


def _rows() -> list[dict]:
    measured = {"pr_auc": 0.8, "roc_auc": 0.97, "recall_at_fpr": 0.88, "card_precision_at_k": None}
    shared = {"train_rows": 1000, "test_rows": 300, "test_frauds": 7}
    return [
        quality.result_row("ulb", "fraudctl 0.1.0", "default", **measured, **shared, train_s=41.0),
        quality.result_row(
            "ulb",
            "FLAML 2.8.0",
            "defaults",
            **{**measured, "pr_auc": 0.77},
            **shared,
            train_s=121.5,
            train_cpu_s=230.0,
            chosen="lgbm",
            time_limit_s=120.0,
        ),
    ]


def test_result_rows_always_carry_the_same_keys_in_the_same_order():
    rows = _rows()
    assert [list(row) for row in rows] == [list(quality.ROW_KEYS)] * 2
    assert rows[0]["time_limit_s"] is None
    with pytest.raises(ValueError, match="unknown result fields"):
        quality.result_row("ulb", "x", "y", accuracy=0.99)


def test_the_result_file_and_the_docs_table_built_from_it(tmp_path, monkeypatch):
    (tmp_path / "benchmarks").mkdir()
    monkeypatch.setattr(results, "RESULTS", tmp_path / "benchmarks" / "results")
    path = results.write("quality", _rows(), "targets")
    document = json.loads(path.read_text())
    assert document["command"] == "python -m benchmarks.quality"
    assert document["rows"] == json.loads(json.dumps(_rows()))
    assert set(document["machine"]) == {"cores", "cpu", "python", "system", "load_average"}

    from docgen.results import measured_page

    text = measured_page(tmp_path)
    assert "**ulb**: trained on 1,000 rows, tested on 300 (7 frauds)." in text
    assert "| fraudctl 0.1.0 | default | **0.800** | 0.970 | 0.880 | – | 41 s | – | – |" in text
    assert "| FLAML 2.8.0 | defaults | 0.770 |" in text
    assert "2 min 2 s" in text  # FLAML's wall time
