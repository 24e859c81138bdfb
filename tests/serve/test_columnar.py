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
        (lambda d: d["columns"].__setitem__(0, "V99"), "columns.V1", "missing: required here"),
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


def _body(document: dict) -> bytes:
    import json

    return json.dumps(document).encode()


def _nested_pair(document: dict) -> None:
    """Two rows of the right length whose values still add up to rows x columns numbers:
    an empty list in one row, a pair in another (a flattening parser would shift them)."""
    document["data"][1][5] = []
    document["data"][2][5] = [1.0, 2.0]


@pytest.mark.parametrize(
    ("body", "status", "field", "problem"),
    [
        (
            lambda d: _body({**d, "data": d["data"]}).replace(b"]]}", b']], "data": [[1]]}'),
            422,
            "data[0]",  # the last "data" counts, as in any JSON parser here
            "expected a list of 29 values",
        ),
        (lambda d: (_nested_pair(d), _body(d))[1], 422, "data[1].V6", "got list"),
        (
            lambda d: _body(d).replace(b"]]}", b"], [1e400" + b", 1" * 28 + b"]]}"),
            422,
            "data[10].V1",
            "finite",
        ),
        (
            lambda d: _body(d).replace(b"]]}", b"], [1, 2]]}"),
            422,
            "data[10]",
            "expected a list of 29 values",
        ),
        (lambda d: _body(d).replace(b"]]}", b"]"), 400, None, "not valid JSON"),
    ],
    ids=["repeated-key", "nested-lists", "overflow", "short-row", "truncated"],
)
def test_bodies_of_numbers_that_break_the_contract_are_refused(
    client, test_rows, body, status, field, problem
):
    """Numbers-only bodies take a faster parser; these must still be refused as the general
    path refuses them, never scored with shifted or invented values."""
    response = client.post(
        "/predict/batch",
        content=body(_columnar(test_rows, 10)),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text
    payload = response.json()
    text = str(payload)
    assert problem in text, payload
    if field is not None:
        assert payload["detail"][0]["field"] == field, payload


def test_integers_and_spacing_score_like_floats(client, test_rows):
    """Whitespace, integers and exponents read the same through either parser."""
    document = _columnar(test_rows, 12)
    document["data"][0] = [round(v) for v in document["data"][0][:-1]] + [100]
    compact = _probabilities(
        client.post(
            "/predict/batch",
            content=_body(document).replace(b" ", b""),
            headers={"Content-Type": "application/json"},
        )
    )
    spaced = _probabilities(
        client.post(
            "/predict/batch",
            content=_body(document).replace(b", ", b" ,\n\t ").replace(b"[", b"[ "),
            headers={"Content-Type": "application/json"},
        )
    )
    rows = [dict(zip(FEATURES, map(float, row), strict=True)) for row in document["data"]]
    expected = _probabilities(client.post("/predict/batch", json={"transactions": rows}))
    assert compact == spaced == expected


def test_the_numbers_parser_takes_plain_bodies_and_leaves_the_rest(test_rows):
    """The fast parser answers for clean numeric bodies (so the tests above compare two
    parsers) and declines every body it cannot prove, leaving it to the general path."""
    from fraudctl.serve.columnar import numbers_from_json

    document = _columnar(test_rows, 10)
    columns = numbers_from_json(_body(document), FEATURES, 100)
    assert columns is not None and columns.rows == 10
    np.testing.assert_array_equal(columns.matrix(FEATURES), np.array(document["data"]))
    nested = _columnar(test_rows, 10)
    _nested_pair(nested)
    flagged = _columnar(test_rows, 10)
    flagged["data"][4][2] = True
    declined = [
        _body(nested),
        _body(flagged),
        _body({"data": document["data"], "columns": FEATURES}),  # another key order is fine
        _body(document).replace(b"]]}", b']], "data": [[1]]}'),
        _body(document)[:-3],
        _body({**document, "columns": ["V[1]", *FEATURES[1:]]}),
    ]
    answers = [numbers_from_json(body, FEATURES, 100) for body in declined]
    assert answers[2] is not None  # key order does not matter
    assert [a is None for i, a in enumerate(answers) if i != 2] == [True] * 5
