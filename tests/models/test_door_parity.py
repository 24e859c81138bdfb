"""One model, one answer: the same rows get the same probabilities through every door.

Hypothesis draws a table nobody hand-picked: columns in a random order (target, time and
ids anywhere), text categories out of alphabetical order, integer-coded categories,
with or without an amount, with or without a customer id and its history features, and
a model family. The project is trained through the CLI, then the test split is scored
through each door with its columns shuffled again, and with categories the training
split never saw:

- the estimator's own ``predict_proba`` on the features stage's rows (what training and
  the old evaluate did), and the model's scorer on them (evaluate, the experiments, the
  card, the UI), checked against ``reports/metrics.json`` from ``fraudctl evaluate``;
- ``fraudctl score`` (with the earlier splits as ``--history`` where the model has
  history features);
- for models without history: the MLflow pyfunc, and ``fraudctl serve``'s ``/predict``,
  ``/predict/batch`` as rows, as columnar JSON and as Arrow.

CI runs the ``ci`` profile (fixed seed, few examples); ``--hypothesis-profile=thorough``
runs many more locally.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from tests.conftest import invoke

FAMILIES = [
    "lightgbm",
    "logistic_regression",
    "hist_gradient_boosting",
    "random_forest",
    "xgboost",
    "catboost",
    "mlp",
    "ensemble",
    "stacking",
]
ATOL = 1e-9
ARROW = "application/vnd.apache.arrow.stream"


@st.composite
def tables(draw: st.DrawFn) -> dict[str, Any]:
    """A table description: column names and roles in a drawn order, and a family."""
    n_numeric = draw(st.integers(1, 3))
    n_text = draw(st.integers(0, 3))
    n_codes = draw(st.integers(0, 2))
    names = draw(
        st.lists(
            st.from_regex(r"[A-Z][a-z]{2,7}", fullmatch=True),
            min_size=n_numeric + n_text + n_codes + 5,
            max_size=n_numeric + n_text + n_codes + 5,
            unique_by=str.lower,
        )
    )
    numeric, names = names[:n_numeric], names[n_numeric:]
    text, names = names[:n_text], names[n_text:]
    codes, names = names[:n_codes], names[n_codes:]
    time, target, amount_name, customer = names[:4]
    with_amount = draw(st.booleans())
    with_history = draw(st.booleans())
    columns = [*numeric, *text, *codes, time, target]
    columns += [amount_name] if with_amount else []
    columns += [customer] if with_history else []
    order = draw(st.permutations(columns))
    vocabularies = {
        c: draw(
            st.lists(
                st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=2, max_size=5, unique=True
            )
        )
        for c in text
    }
    return {
        "numeric": numeric,
        "text": vocabularies,
        "codes": codes,
        "time": time,
        "target": target,
        "amount": amount_name if with_amount else None,
        "customer": customer if with_history else None,
        "order": list(order),
        "family": draw(st.sampled_from(FAMILIES)),
        "seed": draw(st.integers(0, 2**16)),
    }


def generate(spec: dict[str, Any], rows: int) -> pd.DataFrame:
    """Rows whose label depends on every kind of column, so each family uses them."""
    rng = np.random.default_rng(spec["seed"])
    data: dict[str, Any] = {}
    signal = np.full(rows, -3.2)
    for name in spec["numeric"]:
        data[name] = rng.normal(size=rows).round(4)
        signal += 0.8 * data[name]
    for name, vocabulary in spec["text"].items():
        picked = rng.integers(0, len(vocabulary), rows)
        data[name] = np.array(vocabulary, dtype=object)[picked]
        signal += np.where(picked == len(vocabulary) - 1, 1.5, 0.0)
    for name in spec["codes"]:
        data[name] = rng.integers(0, 5, rows)
        signal += np.where(data[name] == 3, 1.2, 0.0)
    data[spec["time"]] = np.sort(rng.uniform(0, 20 * 86_400, rows)).round(0)
    if spec["amount"]:
        data[spec["amount"]] = rng.gamma(2.0, 40.0, rows).round(2)
    if spec["customer"]:
        data[spec["customer"]] = rng.integers(0, 60, rows)
    data[spec["target"]] = (rng.random(rows) < 1 / (1 + np.exp(-signal))).astype(int)
    return pd.DataFrame(data)[spec["order"]]


def params_for(spec: dict[str, Any], source: str) -> dict[str, Any]:
    family = spec["family"]
    name, method = ("ensemble", "stacking") if family == "stacking" else (family, "rank_average")
    categorical = [*spec["text"], *spec["codes"]]
    features = [c for c in spec["order"] if c in {*spec["numeric"], *categorical}]
    entities = {"customer": spec["customer"]} if spec["customer"] else {}
    return {
        "base": {"seed": spec["seed"] % 1000},
        "data": {
            "source": source,
            "schema": {
                "time": spec["time"],
                "amount": spec["amount"],
                "target": spec["target"],
                "features": features,
                "categorical": categorical,
                "entities": entities,
            },
        },
        "features": {
            "entities": (
                {"customer": {"windows": ["1d", "7d"], "aggregates": ["count", "mean"]}}
                if spec["customer"] and spec["amount"]
                else {"customer": {"windows": ["1d", "7d"], "aggregates": ["count"]}}
                if spec["customer"]
                else {}
            ),
        },
        "selection": {"folds": 0, "candidates": []},
        "model": {
            "name": name,
            "lightgbm": {"n_estimators": 20, "min_child_samples": 5},
            "xgboost": {"n_estimators": 20},
            "catboost": {"iterations": 20},
            "hist_gradient_boosting": {"max_iter": 20},
            "random_forest": {"n_estimators": 15},
            "mlp": {"hidden_layers": [8], "max_iter": 5},
            "ensemble": {"members": ["lightgbm", "logistic_regression"], "method": method},
        },
        "evaluate": {"card_k": 5},
        "emissions": {"enabled": False},
    }


def unseen(spec: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """Every fourth row gets categories the training split never saw."""
    frame = frame.copy()
    for name in spec["text"]:
        frame[name] = frame[name].astype(object)
        frame.loc[frame.index[::4], name] = "never-seen"
    for name in spec["codes"]:  # prepared tables keep category codes as text
        text = pd.api.types.is_string_dtype(frame[name])
        frame[name] = frame[name].astype(object)
        frame.loc[frame.index[::4], name] = "97" if text else 97
    return frame


def shuffled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    order = np.random.default_rng(seed + 1).permutation(len(frame.columns))
    return frame[[frame.columns[j] for j in order]]


@pytest.mark.slow
@settings(
    deadline=None,
    # each example trains a model: a failure is reported as drawn, not shrunk for minutes
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=tables())
def test_every_door_gives_the_same_probabilities(spec, tmp_path_factory, runner, monkeypatch):
    from sklearn.metrics import average_precision_score

    from fraudctl.features.outputs import load_schema, load_split
    from fraudctl.model.bundle import load_model
    from fraudctl.model.fitting import score
    from fraudctl.paths import ProjectPaths

    root = tmp_path_factory.mktemp("parity")
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    generate(spec, 1500).to_csv(root / "table.csv", index=False)
    (root / "params.yaml").write_text(
        yaml.safe_dump(params_for(spec, "table.csv"), sort_keys=False), encoding="utf-8"
    )
    for command in (["data"], ["features", "build"], ["train"], ["evaluate"]):
        result = invoke(runner, *command)
        assert result.exit_code == 0, (command, result.output)

    paths = ProjectPaths(root)
    model = load_model(paths.model_dir)
    test_features = load_split(paths, "test")
    target = spec["target"]
    labels = test_features[target].to_numpy()

    # evaluate's door, and the estimator's own predict_proba on the same named columns
    evaluated = model.score_features(shuffled(test_features, spec["seed"]))
    estimator = score(model.estimator, test_features, load_schema(paths))
    np.testing.assert_allclose(estimator, evaluated, rtol=0, atol=ATOL)
    metrics = json.loads((root / "reports/metrics.json").read_text())
    assert average_precision_score(labels, evaluated) == pytest.approx(metrics["pr_auc"], abs=1e-6)

    from fraudctl.ui.data import test_scores

    np.testing.assert_allclose(test_scores(paths).scores, evaluated, rtol=0, atol=ATOL)

    # fraudctl score, on the raw test rows in another column order
    raw_test = pd.read_parquet(paths.split_file("test"))
    history = pd.concat(
        [
            pd.read_parquet(paths.gap_file if s == "gap" else paths.split_file(s))
            for s in ("train", "gap", "validation")
        ],
        ignore_index=True,
    )
    shuffled(raw_test, spec["seed"]).to_parquet(root / "in.parquet")
    args = ["score", "in.parquet", "-o", "out.parquet"]
    if model.transform.needs_history:
        shuffled(history, spec["seed"] + 7).to_parquet(root / "history.parquet")
        args += ["--history", "history.parquet"]
    result = invoke(runner, *args)
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(root / "out.parquet")["fraud_probability"].to_numpy()
    np.testing.assert_allclose(scored, evaluated, rtol=0, atol=ATOL)

    # the same model on categories it never saw: every door agrees with `score`
    novel = shuffled(unseen(spec, raw_test), spec["seed"] + 3)
    # and with a column the table never had: every door ignores it (one rule, every door)
    novel.insert(int(spec["seed"]) % (len(novel.columns) + 1), "zz_note", "seen twice")
    novel.to_parquet(root / "novel.parquet")
    result = invoke(runner, "score", "novel.parquet", "-o", "novel-out.parquet")
    assert result.exit_code == 0, result.output
    reference = pd.read_parquet(root / "novel-out.parquet")["fraud_probability"].to_numpy()
    if not model.transform.needs_history:
        np.testing.assert_allclose(
            model.predict_raw(novel.drop(columns=[target])), reference, rtol=0, atol=ATOL
        )
    assert_pyfunc_agrees(paths.model_dir, novel.drop(columns=[target]), reference)
    if not model.transform.needs_history:
        # the whole record: the time, the label and the note beside the inputs
        assert_serve_agrees(paths.model_dir, novel, reference)


def assert_pyfunc_agrees(model_dir: Path, raw: pd.DataFrame, expected: np.ndarray) -> None:
    """MLflow's own loader; with history features the request rows are their own history,
    exactly as `fraudctl score` without --history."""
    import mlflow.pyfunc

    loaded = mlflow.pyfunc.load_model(str(model_dir))
    np.testing.assert_allclose(loaded.predict(raw), expected, rtol=0, atol=ATOL)


def _json_value(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def assert_serve_agrees(model_dir: Path, raw: pd.DataFrame, expected: np.ndarray) -> None:
    import pyarrow as pa
    from fastapi.testclient import TestClient

    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings
    from tests.serve.conftest import wait_ready

    with TestClient(create_app(ServeSettings(model=str(model_dir)))) as client:
        wait_ready(client)
        fields = client.get("/model").json()["inputs"]
        assert set(fields) <= set(raw.columns)
        fields = list(raw.columns)  # every column of the record, read or not
        rows = [
            {name: _json_value(record[name]) for name in reversed(fields)}
            for record in raw.to_dict("records")
        ]

        def probabilities(response: Any) -> np.ndarray:
            assert response.status_code == 200, response.text
            body = response.json()
            return np.array([p["probability"] for p in body.get("predictions", [body])])

        single = [probabilities(client.post("/predict", json=row))[0] for row in rows[:8]]
        np.testing.assert_allclose(single, expected[:8], rtol=0, atol=ATOL)

        batch = client.post("/predict/batch", json={"transactions": rows})
        np.testing.assert_allclose(probabilities(batch), expected, rtol=0, atol=ATOL)
        columns = list(reversed(fields))
        columnar = {"columns": columns, "data": [[row[c] for c in columns] for row in rows]}
        as_columns = client.post("/predict/batch", json=columnar)
        np.testing.assert_allclose(probabilities(as_columns), expected, rtol=0, atol=ATOL)
        sink = pa.BufferOutputStream()
        table = pa.Table.from_pandas(raw[columns], preserve_index=False)
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        as_arrow = client.post(
            "/predict/batch", content=sink.getvalue().to_pybytes(), headers={"Content-Type": ARROW}
        )
        np.testing.assert_allclose(probabilities(as_arrow), expected, rtol=0, atol=ATOL)


def test_a_day_clock_scores_alike_through_score_and_the_in_process_scorer(
    day_clock_project, runner, monkeypatch, tmp_path
):
    """data.schema.time_unit: d travels inside the model: `fraudctl score`, the in-process
    scorer and evaluate's door give one answer on the day-step log's test rows (labels
    included: the terminal risk reads those older than its 7-day delay), and the pyfunc
    agrees with `score` when an unlabelled request is its own history."""
    from fraudctl.features.outputs import load_split
    from fraudctl.model.bundle import load_model
    from fraudctl.paths import ProjectPaths

    monkeypatch.chdir(day_clock_project)
    paths = ProjectPaths(day_clock_project)
    model = load_model(paths.model_dir)
    assert model.transform.time_unit == "d" and model.transform.needs_history
    raw_test = pd.read_parquet(paths.split_file("test"))
    history = pd.concat(
        [
            pd.read_parquet(paths.gap_file if s == "gap" else paths.split_file(s))
            for s in ("train", "gap", "validation")
        ],
        ignore_index=True,
    )
    shuffled(raw_test, 5).to_parquet(tmp_path / "in.parquet")
    shuffled(history, 9).to_parquet(tmp_path / "history.parquet")
    out = tmp_path / "out.parquet"
    args = ["score", str(tmp_path / "in.parquet"), "-o", str(out)]
    result = invoke(runner, *args, "--history", str(tmp_path / "history.parquet"))
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(out)["fraud_probability"].to_numpy()
    np.testing.assert_allclose(scored, model.predict_raw(raw_test, history), rtol=0, atol=ATOL)
    evaluated = model.score_features(load_split(paths, "test"))
    np.testing.assert_allclose(scored, evaluated, rtol=0, atol=ATOL)

    unlabelled = raw_test.drop(columns=["is_fraud"])
    shuffled(unlabelled, 6).to_parquet(tmp_path / "unlabelled.parquet")
    alone = tmp_path / "alone.parquet"
    args = ["score", str(tmp_path / "unlabelled.parquet"), "-o", str(alone)]
    assert invoke(runner, *args).exit_code == 0
    without = pd.read_parquet(alone)["fraud_probability"].to_numpy()
    assert not np.allclose(without, scored)  # the day clock's history features are at work
    np.testing.assert_allclose(model.predict_raw(unlabelled), without, rtol=0, atol=ATOL)
    assert_pyfunc_agrees(paths.model_dir, unlabelled, without)


def test_a_day_clock_serves_what_score_answers(day_clock_project, runner, monkeypatch, tmp_path):
    """`fraudctl serve` over an online store loaded with the history: the stored clock is
    the model's (days as milliseconds), and a batch gets `fraudctl score --history`'s
    answers."""
    from fastapi.testclient import TestClient

    from fraudctl.paths import ProjectPaths
    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings
    from tests.serve.conftest import wait_ready

    monkeypatch.chdir(day_clock_project)
    paths = ProjectPaths(day_clock_project)
    history = pd.concat(
        [
            pd.read_parquet(paths.gap_file if s == "gap" else paths.split_file(s))
            for s in ("train", "gap", "validation")
        ],
        ignore_index=True,
    )
    history.to_parquet(tmp_path / "history.parquet")
    batch = pd.read_parquet(paths.split_file("test")).drop(columns=["is_fraud"]).head(400)
    batch.to_parquet(tmp_path / "batch.parquet")
    out = tmp_path / "out.parquet"
    args = ["score", str(tmp_path / "batch.parquet"), "-o", str(out)]
    assert invoke(runner, *args, "--history", str(tmp_path / "history.parquet")).exit_code == 0
    expected = pd.read_parquet(out)["fraud_probability"].to_numpy()

    store = f"sqlite:///{tmp_path / 'online.db'}"
    args = ["features", "materialize", "--store", store, "--history"]
    result = invoke(runner, *args, str(tmp_path / "history.parquet"))
    assert result.exit_code == 0, result.output
    with TestClient(create_app(ServeSettings(model="models/model", online_store=store))) as client:
        wait_ready(client)
        fields = client.get("/model").json()["inputs"]
        rows = [
            {name: _json_value(record[name]) for name in fields}
            for record in batch.to_dict("records")
        ]
        response = client.post("/predict/batch?record=false", json={"transactions": rows})
        assert response.status_code == 200, response.text
        served = np.array([p["probability"] for p in response.json()["predictions"]])
    np.testing.assert_allclose(served, expected, rtol=0, atol=ATOL)


# --- rules: the same decision through every door -----------------------------------------


@st.composite
def rule_sets(draw: st.DrawFn, fields: list[tuple[str, str]], values: dict[str, list]) -> list:
    """1 to 4 rules written as a user writes them (condition text), over the model's own
    fields, with literals taken from the data so that they fire on some rows and not all;
    priorities tie often (the listed order then decides)."""

    def number(name: str) -> str:
        return repr(draw(st.sampled_from(values[name])))

    def predicate() -> str:
        name, kind = draw(st.sampled_from(fields))
        if kind == "text":
            chosen = draw(st.lists(st.sampled_from([*values[name], "never-seen"]), min_size=1))
            listed = ", ".join(repr(v) for v in dict.fromkeys(chosen))
            return draw(
                st.sampled_from(
                    [
                        f"{name} in [{listed}]",
                        f"{name} not in [{listed}]",
                        f"{name} == {chosen[0]!r}",
                        f"{name} is missing",
                    ]
                )
            )
        other = draw(st.sampled_from([f for f, k in fields if k == "number"]))
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        return draw(
            st.sampled_from(
                [
                    f"{name} {op} {number(name)}",
                    f"{name} > 2 * {other}",
                    f"{name} - {other} / 2 >= {number(name)}",
                    f"{name} in [{number(name)}, {number(name)}]",
                    f"{name} is not missing",
                ]
            )
        )

    def condition(depth: int = 0) -> str:
        if depth >= 2 or draw(st.booleans()):
            return predicate()
        word = draw(st.sampled_from(["and", "or", "not"]))
        if word == "not":
            return f"not ({condition(depth + 1)})"
        return f"({condition(depth + 1)}) {word} ({condition(depth + 1)})"

    count = draw(st.integers(1, 4))
    return [
        {
            "name": f"rule_{k}",
            "when": condition(),
            "action": draw(st.sampled_from(["block", "review", "allow"])),
            "priority": draw(st.integers(0, 2)),
        }
        for k in range(count)
    ]


@pytest.fixture(scope="module")
def rules_model(transactions_project):
    """The transactions project's model, its fields, and its test split three ways: raw
    rows, raw history before them, and the features stage's rows."""
    from fraudctl.features.outputs import load_schema, load_split, raw_rows_of
    from fraudctl.model.bundle import load_model
    from fraudctl.paths import ProjectPaths
    from fraudctl.rules.fields import fields_of

    paths = ProjectPaths(transactions_project)
    model = load_model(paths.model_dir)
    schema = load_schema(paths)
    features = load_split(paths, "test")
    # with its labels: a test row's history features count the labels of earlier test
    # rows (past the risk delay), offline and in `score` alike; no rule reads the label
    raw = raw_rows_of(paths, "test", features, schema.time)
    history = pd.concat(
        [
            pd.read_parquet(paths.gap_file if s == "gap" else paths.split_file(s))
            for s in ("train", "gap", "validation")
        ],
        ignore_index=True,
    )
    fields = [(n, k) for n, k in fields_of(model) if k != "time"]
    inputs = model.inputs_from_features(features)
    frame = pd.concat(
        [pd.DataFrame(inputs, columns=model.features), raw.drop(columns=[schema.target])], axis=1
    )
    values = {}
    for name, kind in fields:
        column = frame.loc[:, ~frame.columns.duplicated(keep="last")][name].dropna()
        if kind == "text":
            values[name] = sorted(column.astype(str).unique().tolist())[:6]
        else:
            quantiles = np.quantile(column.to_numpy(dtype=float), [0.1, 0.5, 0.9, 0.99])
            values[name] = sorted({float(round(q, 2)) for q in quantiles} | {0})
    return {
        "paths": paths,
        "model": model,
        "raw": raw,
        "history": history,
        "features": features,
        "fields": fields,
        "values": values,
    }


def _same_decisions(expected: Any, decision: Any, rule: Any, probability: Any, threshold: float):
    """Equal decisions and rules; a row the model decided may differ only where the two
    probabilities (equal to 1e-9) straddle the threshold."""
    decision = np.asarray(pd.Series(decision).astype(object))
    rule = np.asarray(pd.Series(rule).astype(object).where(pd.notna(pd.Series(rule)), None))
    np.testing.assert_array_equal(rule, expected.rule)
    edge = np.abs(expected.probability - threshold) < 1e-9
    np.testing.assert_array_equal(decision[~edge], expected.decision[~edge])
    np.testing.assert_allclose(probability, expected.probability, rtol=0, atol=ATOL)


@pytest.mark.slow
@settings(
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_door_gives_the_same_decision(data, rules_model, tmp_path_factory, runner):
    """A drawn rule set saved with the trained model (the same estimator bits): the
    in-process batch, the one-row path, evaluate's door (the features stage's rows beside
    the prepared raw rows), `fraudctl score` with history, and the MLflow pyfunc decide
    every test row alike. (The Dask door: tests/distributed/test_engines.py.)"""
    import mlflow.pyfunc

    from fraudctl.config import RuleParams
    from fraudctl.model.bundle import load_model
    from fraudctl.model.saving import resave_with_rules
    from fraudctl.rules.ruleset import RuleSet
    from fraudctl.stages.evaluate import rules_block

    base = rules_model["model"]
    drawn = data.draw(rule_sets(rules_model["fields"], rules_model["values"]))
    rules = RuleSet.from_params([RuleParams(**entry) for entry in drawn])
    root = tmp_path_factory.mktemp("rules")
    resave_with_rules(rules_model["paths"].model_dir, root / "model", rules)
    model = load_model(root / "model")
    assert model.rules == rules and model.contract.scorer_sha256() == base.contract.scorer_sha256()
    raw, history, features = rules_model["raw"], rules_model["history"], rules_model["features"]

    expected = model.decide(raw, history)  # the in-process batch
    decided = sum(r is not None for r in expected.rule)
    event(
        "a rule decides "
        + ("no row" if not decided else "all rows" if decided == len(raw) else "some rows")
    )
    # the one-row path, on the same inputs
    inputs = model.inputs(raw, history)
    for k in data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=5, max_size=20)):
        one = model.decide_one(raw.iloc[k].to_dict(), inputs[k], expected.probability[k])
        assert (one.decision, one.rule) == (expected.decision[k], expected.rule[k]), k

    # evaluate's door: the features stage's rows and scores, raw fields beside them
    scores = model.score_features(features)
    evaluated = model.decide_inputs(raw, model.inputs_from_features(features), scores)
    _same_decisions(
        expected, evaluated.decision, evaluated.rule, evaluated.probability, model.threshold
    )
    schema_like = type("S", (), {"time": "timestamp", "target": "is_fraud", "amount": "amount"})
    block = rules_block(rules_model["paths"], model, features, scores, schema_like)
    assert block["combined"]["alerts"] == int(evaluated.alert.sum())
    for position, name in enumerate(rules.names):
        assert block["per_rule"][name]["hits"] == int(evaluated.fired[:, position].sum())
        assert block["per_rule"][name]["decided"] == int((evaluated.rule == name).sum())

    # fraudctl score, columns shuffled, history given
    seed = data.draw(st.integers(0, 1000))
    shuffled(raw, seed).to_parquet(root / "in.parquet")
    shuffled(history, seed + 1).to_parquet(root / "history.parquet")
    result = invoke(
        runner,
        "score",
        str(root / "in.parquet"),
        "-o",
        str(root / "out.parquet"),
        "--history",
        str(root / "history.parquet"),
        "--model",
        str(root / "model"),
    )
    assert result.exit_code == 0, result.output
    out = pd.read_parquet(root / "out.parquet")
    _same_decisions(
        expected, out["decision"], out["rule"], out["fraud_probability"], model.threshold
    )
    np.testing.assert_array_equal(
        out["fraud_decision"], (out["fraud_probability"] >= model.threshold).astype(int)
    )

    # the pyfunc: the request's rows are their own history
    request = raw.drop(columns=["is_fraud"])
    alone = model.decide(request)
    answered = mlflow.pyfunc.load_model(str(root / "model")).predict(request)
    _same_decisions(
        alone, answered["decision"], answered["rule"], answered["probability"], model.threshold
    )
