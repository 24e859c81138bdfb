"""compute.engine: dask against engine: local on the same day-partitioned log.

prepare, features and score must give the same rows and numbers; LightGBM's distributed
training is compared by validation PR-AUC within a stated tolerance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fraudctl.config import parse_params
from fraudctl.data.synthetic_transactions import write_partitioned_log
from fraudctl.paths import SPLITS, ProjectPaths
from tests.conftest import example_params, invoke, run_training_stages

pytest.importorskip("distributed")

# one task per day or two (the default packs 500,000 rows into a task)
DASK = {
    "engine": "dask",
    "dask": {
        "scheduler": "local-cluster",
        "workers": 2,
        "memory_per_worker": "1GiB",
        "rows_per_task": 1000,
    },
}
# LightGBM on two workers bins each worker's rows itself: not bit-identical (docs/dask.md).
PR_AUC_TOLERANCE = 0.05
RETURNING = 9_999_999  # a customer seen on day 0 and again on the last day only


def _write_log(directory: Path, days: int = 45) -> Path:
    write_partitioned_log(
        directory,
        days=days,
        n_customers=150,
        n_terminals=200,
        seed=3,
        compromised_terminal_rate=0.05,
        compromised_card_rate=0.05,
    )
    files = sorted(directory.glob("*.parquet"))
    for file, hour in ((files[0], 10), (files[-1], 11)):
        day = pd.read_parquet(file)
        extra = day.iloc[[0]].copy()
        extra["customer_id"] = RETURNING
        extra["transaction_id"] = 10**9 + hour
        extra["timestamp"] = day["timestamp"].iloc[0].floor("D") + pd.Timedelta(hours=hour)
        extra["is_fraud"] = 0
        both = pd.concat([day, extra]).sort_values("timestamp", kind="stable")
        both.to_parquet(file, index=False)
    return directory


def _params(log: Path, **sections: Any):
    return parse_params(
        example_params(
            {
                "data": {"source": str(log)},
                "selection": {"folds": 0},
                "emissions": {"enabled": False},
                **sections,
            }
        )
    )


@pytest.fixture(scope="module")
def engines(tmp_path_factory, mlflow_store) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("engines")
    log = _write_log(root / "log")
    runs = {}
    for engine, compute in (("local", {}), ("dask", DASK)):
        params = _params(log, compute=compute)
        runs[engine] = run_training_stages(params, ProjectPaths(root / engine), mlflow_store)
    return {"root": root, "log": log, **runs}


def _frames(paths: ProjectPaths, kind: str) -> dict[str, pd.DataFrame]:
    if kind == "prepared":
        return {s: pd.read_parquet(paths.split_file(s)) for s in (*SPLITS, "gap")}
    return {s: pd.read_parquet(paths.features_file(s)) for s in SPLITS}


def test_prepared_splits_are_the_same_rows(engines):
    local, dask = engines["local"], engines["dask"]
    assert dask.split_file("train").is_dir()  # partitioned like its input
    for name, frame in _frames(local, "prepared").items():
        pd.testing.assert_frame_equal(_frames(dask, "prepared")[name], frame, check_exact=True)
    reports = [json.loads(p.data_report.read_text()) for p in (local, dask)]
    assert reports[0]["splits"] == reports[1]["splits"]
    assert reports[0]["gap_rows"] == reports[1]["gap_rows"] > 0


def test_features_are_identical_across_partition_edges(engines):
    """Every history feature crosses day files here: windows up to 30 days, a terminal's
    risk with a 7-day label delay, and a customer who returns after 44 days."""
    local, dask = _frames(engines["local"], "features"), _frames(engines["dask"], "features")
    for name in SPLITS:
        pd.testing.assert_frame_equal(dask[name], local[name], check_exact=True)
    transforms = [
        json.loads(p.transform_file.read_text()) for p in (engines["local"], engines["dask"])
    ]
    assert transforms[0] == transforms[1]
    test = local["test"]
    returning = test[test["customer_id"] == RETURNING]
    assert len(returning) == 1  # its day-0 row is far outside every window...
    gap = returning["customer_seconds_since_previous"].iloc[0]
    assert gap == pytest.approx(44 * 86_400 + 3600)  # ...but still its previous transaction


def test_other_partition_sizes_give_the_same_features(engines, tmp_path):
    """Three days per file instead of one, and several files per task: partition and task
    edges fall elsewhere in every entity's history, and nothing changes."""
    days = sorted(engines["log"].glob("*.parquet"))
    weekly = tmp_path / "log"
    weekly.mkdir()
    for start in range(0, len(days), 3):
        group = [pd.read_parquet(f) for f in days[start : start + 3]]
        pd.concat(group, ignore_index=True).to_parquet(weekly / f"{start:03d}.parquet")
    params = _params(weekly, compute={**DASK, "dask": {**DASK["dask"], "rows_per_task": 5000}})
    paths = ProjectPaths(tmp_path / "project")
    from fraudctl.stages import features, prepare

    prepare.run(params, paths)
    features.run(params, paths)
    expected = _frames(engines["local"], "features")
    for name, frame in _frames(paths, "features").items():
        pd.testing.assert_frame_equal(frame, expected[name], check_exact=True)


def test_distributed_lightgbm_is_within_tolerance_of_local(engines):
    reports = {e: json.loads(engines[e].train_report.read_text()) for e in ("local", "dask")}
    assert reports["dask"]["selection"]["engine"] == "dask"
    local, dask = (reports[e]["validation"]["pr_auc"] for e in ("local", "dask"))
    assert abs(local - dask) <= PR_AUC_TOLERANCE, (local, dask)
    from fraudctl.model.bundle import payload_dir

    metadata = [
        json.loads((payload_dir(engines[e].model_dir) / "model.json").read_text()) for e in reports
    ]
    # the same validation rows: the registry compares the two models on equal terms
    assert metadata[0]["validation_fingerprint"] == metadata[1]["validation_fingerprint"]


def test_score_on_dask_writes_one_file_per_day_with_the_local_scores(
    engines, tmp_path, runner, monkeypatch
):
    """The Dask door of the parity test (tests/models/test_door_parity.py checks local
    `score` against every other door): the same probabilities, columns taken by name."""
    days = sorted(engines["log"].glob("*.parquet"))
    batch, earlier = tmp_path / "batch", tmp_path / "earlier"
    for directory, files in ((batch, days[-5:]), (earlier, days[:-5])):
        directory.mkdir()
        for file in files:  # columns in another order than training: read by name
            day = pd.read_parquet(file)
            day[list(reversed(day.columns))].to_parquet(directory / file.name, index=False)
    model = engines["local"].model_dir
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps(example_params({"compute": DASK})))
    monkeypatch.chdir(tmp_path)
    common = ["--history", str(earlier), "--model", str(model), "-p", str(params)]
    result = invoke(runner, "score", str(batch), "-o", "scored", *common)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "scored").iterdir()) == [f.name for f in days[-5:]]

    params.write_text(json.dumps(example_params()))
    result = invoke(runner, "score", str(batch), "-o", "local.parquet", *common)
    assert result.exit_code == 0, result.output
    on_dask = pd.read_parquet(tmp_path / "scored")
    local = pd.read_parquet(tmp_path / "local.parquet")
    np.testing.assert_array_equal(on_dask["fraud_probability"], local["fraud_probability"])


def test_score_on_dask_decides_with_the_models_rules_as_locally(
    engines, tmp_path, runner, monkeypatch
):
    """The Dask door of the rules' parity (tests/models/test_door_parity.py draws rule sets
    through the other doors): every partition decides with the model's own rules, and the
    decision and rule columns equal the local engine's row for row."""
    from fraudctl.config import RuleParams
    from fraudctl.model.saving import resave_with_rules
    from fraudctl.rules.ruleset import RuleSet

    rules = RuleSet.from_params(
        [
            RuleParams(
                name="burst", when="customer_count_1d >= 3 and amount < 20", action="review"
            ),
            RuleParams(
                name="online_night",
                when="merchant_category == 'online' and is_night == 1",
                action="block",
                priority=5,
            ),
            RuleParams(name="regular", when="customer_id in [1, 2, 3, 4, 5]", action="allow"),
        ]
    )
    model = tmp_path / "model"
    resave_with_rules(engines["local"].model_dir, model, rules)
    days = sorted(engines["log"].glob("*.parquet"))
    batch, earlier = tmp_path / "batch", tmp_path / "earlier"
    for directory, files in ((batch, days[-5:]), (earlier, days[:-5])):
        directory.mkdir()
        for file in files:
            (directory / file.name).write_bytes(file.read_bytes())
    params = tmp_path / "params.yaml"
    monkeypatch.chdir(tmp_path)
    common = ["--history", str(earlier), "--model", str(model), "-p", str(params)]
    params.write_text(json.dumps(example_params({"compute": DASK})))
    assert invoke(runner, "score", str(batch), "-o", "scored", *common).exit_code == 0
    params.write_text(json.dumps(example_params()))
    assert invoke(runner, "score", str(batch), "-o", "local.parquet", *common).exit_code == 0
    on_dask = pd.read_parquet(tmp_path / "scored")
    local = pd.read_parquet(tmp_path / "local.parquet")
    for column in ("decision", "rule"):
        # a folder of files reads back as object, one file as text: the values compare
        pd.testing.assert_series_equal(
            on_dask[column].astype("string"), local[column].astype("string")
        )
    assert set(local["rule"].dropna()) == {"burst", "online_night", "regular"}


# --- what goes wrong, said clearly ----------------------------------------------------


def _data(runner, tmp_path, monkeypatch, log: Path, **sections: Any):
    monkeypatch.chdir(tmp_path)
    raw = example_params({"data": {"source": str(log)}, "compute": DASK, **sections})
    (tmp_path / "params.yaml").write_text(json.dumps(raw))
    return invoke(runner, "data")


def test_overlapping_partitions_are_refused(engines, tmp_path, runner, monkeypatch):
    days = sorted(engines["log"].glob("*.parquet"))[:4]
    log = tmp_path / "log"
    log.mkdir()
    for file in days:
        (log / file.name).write_bytes(file.read_bytes())
    (log / "2099-01-01.parquet").write_bytes(days[0].read_bytes())  # day 0 again, last
    result = _data(runner, tmp_path, monkeypatch, log)
    assert result.exit_code == 2
    assert "does not end before" in result.output and "2099-01-01.parquet" in result.output
    assert not (tmp_path / "data/prepared").exists()


def test_a_bad_partition_is_named_with_its_row(engines, tmp_path, runner, monkeypatch):
    days = sorted(engines["log"].glob("*.parquet"))[:6]
    log = tmp_path / "log"
    log.mkdir()
    for file in days:
        frame = pd.read_parquet(file)
        if file == days[3]:
            frame.loc[2, "amount"] = float("nan")
        frame.to_parquet(log / file.name, index=False)
    result = _data(runner, tmp_path, monkeypatch, log)
    assert result.exit_code == 2
    assert days[3].name in result.output and "row 3" in result.output, result.output


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({"split": {"method": "random", "gap": None}}, "split.method: random"),
        ({"model": {"name": "hist_gradient_boosting"}}, "does not train on compute.engine: dask"),
        (
            {"compute": {**DASK, "dask": {**DASK["dask"], "scheduler": "tcp://127.0.0.1:9"}}},
            "cannot reach tcp://127.0.0.1:9",
        ),
    ],
)
def test_what_dask_cannot_do_is_a_clear_error(
    engines, tmp_path, runner, monkeypatch, sections, expected
):
    monkeypatch.chdir(tmp_path)
    raw = example_params(
        {"data": {"source": str(engines["log"])}, "compute": DASK, "selection": {"folds": 0}}
    )
    for key, value in sections.items():
        raw[key] = {**raw[key], **value}
    (tmp_path / "params.yaml").write_text(json.dumps(raw))
    result = invoke(runner, "train" if "model" in sections else "data")
    assert result.exit_code == 2, result.output
    assert expected in result.output


@pytest.mark.parametrize("command", [["data"], ["features", "build"], ["train"]])
def test_the_local_engine_refuses_a_log_it_cannot_hold(
    engines, tmp_path, runner, monkeypatch, command
):
    """On a machine too small for the log (simulated: each value takes a terabyte), each
    stage refuses before reading it and names the other engine; nothing is written."""
    import shutil

    monkeypatch.chdir(tmp_path)
    raw = example_params({"data": {"source": str(engines["log"])}})
    (tmp_path / "params.yaml").write_text(json.dumps(raw))
    if command != ["data"]:  # the earlier stages' outputs, from a machine that could
        shutil.copytree(engines["local"].prepared_dir, tmp_path / "data/prepared")
        shutil.copytree(engines["local"].reports_dir, tmp_path / "reports")
        shutil.copytree(engines["local"].features_dir, tmp_path / "data/features")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    monkeypatch.setattr("fraudctl.capacity.CELL", 10**12)
    result = invoke(runner, *command)
    assert result.exit_code == 2, result.output
    assert "set compute.engine: dask" in result.output
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_a_day_clock_on_dask_gives_the_local_features_and_scores(
    day_clock_project, tmp_path, runner, monkeypatch
):
    """data.schema.time_unit: d on both engines: the same splits (a 7d gap of seven steps),
    the same features, and the day-clock model scores alike on Dask and locally."""
    from fraudctl.stages import features, prepare
    from tests.conftest import day_clock_params, day_step_log

    parts = tmp_path / "log"
    parts.mkdir()
    log = day_step_log()
    for number, days in log.groupby(log["step"] // 5):  # five days a file: frauds in each
        days.to_parquet(parts / f"{number:03d}.parquet", index=False)
    runs = {}
    for engine, compute in (("local", {}), ("dask", DASK)):
        raw = day_clock_params({"data": {"source": str(parts)}, "compute": compute})
        paths = ProjectPaths(tmp_path / engine)
        prepare.run(parse_params(raw), paths)
        features.run(parse_params(raw), paths)
        runs[engine] = paths
    reports = [json.loads(runs[e].data_report.read_text()) for e in ("local", "dask")]
    assert reports[0] == reports[1] and reports[0]["schema"]["time_unit"] == "d"
    local, dask = _frames(runs["local"], "features"), _frames(runs["dask"], "features")
    for name in SPLITS:
        pd.testing.assert_frame_equal(dask[name], local[name], check_exact=True)

    days = sorted(parts.glob("*.parquet"))
    batch, earlier = tmp_path / "batch", tmp_path / "earlier"
    for directory, files in ((batch, days[-2:]), (earlier, days[:-2])):
        directory.mkdir()
        for file in files:
            pd.read_parquet(file).to_parquet(directory / file.name, index=False)
    model = day_clock_project / "models/model"
    params = tmp_path / "params.yaml"
    monkeypatch.chdir(tmp_path)
    common = ["--history", str(earlier), "--model", str(model), "-p", str(params)]
    scores = {}
    for engine, compute, out in (("dask", DASK, "scored"), ("local", {}, "local.parquet")):
        params.write_text(json.dumps(day_clock_params({"compute": compute})))
        result = invoke(runner, "score", str(batch), "-o", out, *common)
        assert result.exit_code == 0, result.output
        scores[engine] = pd.read_parquet(tmp_path / out)["fraud_probability"].to_numpy()
    np.testing.assert_array_equal(scores["dask"], scores["local"])
