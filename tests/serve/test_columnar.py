"""Columnar batches: the same answers as the row format, precise errors, Arrow streams."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest

from tests.serve.conftest import FEATURES, transaction

ARROW = "application/vnd.apache.arrow.stream"


def _columnar(test_rows, n: int) -> dict:
    return {
        "columns": list(FEATURES),
        "data": [[float(test_rows[f].iloc[i]) for f in FEATURES] for i in range(n)],
    }


def _arrow(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _probabilities(response) -> list[float]:
    assert response.status_code == 200, response.text
    return [p["probability"] for p in response.json()["predictions"]]


def test_columnar_json_and_arrow_score_like_rows(client, test_rows):
    rows = [transaction(test_rows, i) for i in range(40)]
    expected = _probabilities(client.post("/predict/batch", json={"transactions": rows}))
    as_columns = _probabilities(client.post("/predict/batch", json=_columnar(test_rows, 40)))
    table = pa.Table.from_pandas(
        test_rows[FEATURES].iloc[:40].reset_index(drop=True), preserve_index=False
    )
    as_arrow = _probabilities(
        client.post("/predict/batch", content=_arrow(table), headers={"Content-Type": ARROW})
    )
    np.testing.assert_allclose(as_columns, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(as_arrow, expected, rtol=0, atol=1e-12)
    # Columns in another order are matched by name.
    shuffled = _columnar(test_rows, 5)
    order = list(reversed(range(len(FEATURES))))
    shuffled = {
        "columns": [FEATURES[j] for j in order],
        "data": [[row[j] for j in order] for row in shuffled["data"]],
    }
    assert _probabilities(client.post("/predict/batch", json=shuffled)) == pytest.approx(
        expected[:5]
    )


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (lambda d: d["data"][3].__setitem__(1, "1.5"), "data[3].V2", "expected a number, got str"),
        (lambda d: d["data"][7].__setitem__(0, True), "data[7].V1", "expected a number, got bool"),
        (lambda d: d["data"][2].__setitem__(0, None), "data[2].V1", "a value is required"),
        (lambda d: d["data"][4].__setitem__(28, -5.0), "data[4].Amount", "between 0 and 1e9"),
        (lambda d: d["data"][1].pop(), "data[1]", "expected a list of 29 values"),
        (lambda d: d["columns"].__setitem__(0, "V99"), "columns.V1", "missing column"),
    ],
)
def test_columnar_errors_name_the_row_and_field(client, test_rows, change, field, problem):
    document = _columnar(test_rows, 10)
    change(document)
    response = client.post("/predict/batch", json=document)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail[0]["field"] == field and problem in detail[0]["problem"], detail


def test_arrow_errors(client, test_rows, make_client):
    frame = test_rows[FEATURES].iloc[:6].reset_index(drop=True).copy()
    frame.loc[2, "V3"] = np.inf
    response = client.post(
        "/predict/batch",
        content=_arrow(pa.Table.from_pandas(frame, preserve_index=False)),
        headers={"Content-Type": ARROW},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0] == {
        "field": "data[2].V3",
        "problem": "expected a finite number",
    }
    garbage = client.post("/predict/batch", content=b"not arrow", headers={"Content-Type": ARROW})
    assert garbage.status_code == 400
    small = make_client(max_batch_size=5)
    too_many = small.post(
        "/predict/batch",
        content=_arrow(pa.Table.from_pandas(test_rows[FEATURES].iloc[:6], preserve_index=False)),
        headers={"Content-Type": ARROW},
    )
    assert too_many.status_code == 413
    wrong_type = client.post("/predict", content=b"x", headers={"Content-Type": ARROW})
    assert wrong_type.status_code == 415
