"""Prequential folds, resampling inside training folds only, the family registry as the
one place a family is named, and a tuning study that resumes."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import Field

from fraudctl.config import ModelParams, SelectionParams
from fraudctl.errors import ConfigError
from fraudctl.model import families, payloads
from fraudctl.model.selection import prequential_folds
from fraudctl.sections import _Section
from tests.conftest import REPO_ROOT, invoke, write_params


@pytest.mark.parametrize("gap", [None, "2h", "1d"])
@pytest.mark.parametrize("seed", range(5))
def test_no_validation_row_precedes_its_training_rows(seed, gap):
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0, 10 * 86_400, 5000)).round(-2)  # ties on purpose
    rng.shuffle(times)  # the rows need not arrive in time order
    labels = (rng.random(5000) < 0.05).astype(int)
    settings = SelectionParams(folds=4, gap=gap)
    folds = prequential_folds(times, labels, settings)
    gap_seconds = {None: 0, "2h": 7200, "1d": 86_400}[gap]
    assert len(folds) == 4
    seen = np.zeros(len(times), dtype=int)
    for fold in folds:
        assert times[fold.train].max() < times[fold.validation].min() - gap_seconds
        assert not set(fold.train) & set(fold.validation)
        seen[fold.validation] += 1
    assert seen.max() == 1  # each row validated at most once
    # later folds train on more rows (an expanding window)
    assert all(len(a.train) < len(b.train) for a, b in itertools.pairwise(folds))


def test_a_fold_without_frauds_is_a_clear_error():
    times = np.arange(1000, dtype=float)
    labels = np.zeros(1000, dtype=int)
    labels[:50] = 1  # frauds only early: the validation blocks have none
    with pytest.raises(ConfigError, match=r"selection.folds: fold 1 of 3 has no frauds"):
        prequential_folds(times, labels, SelectionParams(folds=3))


def test_a_gap_that_empties_a_fold_says_what_the_clock_spans():
    """A day clock read as seconds: 80 "seconds" of log, and selection.gap: 7d leaves every
    fold without training rows; the message gives the span that explains it."""
    from fraudctl.data.schema import Schema
    from fraudctl.model.families import model_spec
    from fraudctl.model.selection import cross_validate

    rng = np.random.default_rng(0)
    period = pd.DataFrame({"step": np.repeat(np.arange(80), 25), "x": rng.normal(size=2000)})
    period["y"] = (rng.random(2000) < 0.1).astype(int)
    schema = Schema(time="step", amount=None, target="y", features=("x",))
    with pytest.raises(ConfigError) as caught:
        cross_validate(model_spec(ModelParams()), 0, SelectionParams(gap="7d"), period, schema)
    message = str(caught.value)
    assert "no frauds in its training rows" in message
    assert "or a smaller selection.gap: the clock 'step', read in seconds" in message
    assert "spans 79 seconds (1.32 minutes): shorter than selection.gap (7d)" in message
    assert "set data.schema.time_unit: d (then it spans 79 days)" in message


class RecordingParams(_Section):
    n_estimators: int = Field(default=20, ge=1)


CALLS: list[tuple[str, int, int]] = []


class RecordingForest:
    """A random forest that records every fit and every score it is asked for."""

    def __init__(self, n_estimators: int, seed: int) -> None:
        from sklearn.ensemble import RandomForestClassifier

        self.forest = RandomForestClassifier(n_estimators=n_estimators, random_state=seed)

    def fit(self, rows, labels, **_):
        CALLS.append(("fit", len(labels), int(np.sum(labels))))
        self.forest.fit(rows, labels)
        return self

    def predict_proba(self, rows):
        CALLS.append(("score", len(rows), -1))
        return self.forest.predict_proba(rows)


def _load_recording(path: Path) -> RecordingForest:
    loaded = RecordingForest(1, 0)
    loaded.forest = payloads.SKOPS.load(path)
    return loaded


RECORDING_FORMAT = payloads.Format(
    "recording-forest",
    "estimator.recording.skops",
    lambda estimator, path: payloads.SKOPS.save(estimator.forest, path),
    _load_recording,
)


@pytest.fixture
def recording_family():
    family = families.register(
        families.Family(
            "recording_forest",
            RecordingParams,
            lambda c: RecordingForest(
                c.hyperparameters("recording_forest")["n_estimators"], c.seed
            ),
            RECORDING_FORMAT,
            requirements=("skops",),
        )
    )
    CALLS.clear()
    yield family
    del families.FAMILIES[family.name]
    del payloads.FORMATS[RECORDING_FORMAT.name]


def test_resampling_sees_training_rows_only(project, runner, registry_name, recording_family):
    """SMOTE and undersampling run inside fit: every fold's validation block and the
    threshold's rows are scored as they are, and fits see resampled training rows."""
    write_params(
        project,
        {
            "tracking": {"registered_model": registry_name},
            "model": {"name": "recording_forest", "imbalance": {"resample": "smote", "ratio": 0.5}},
            "selection": {"folds": 3},
        },
    )
    assert invoke(runner, "data").exit_code == 0
    assert invoke(runner, "features", "build").exit_code == 0
    CALLS.clear()
    result = invoke(runner, "train")
    assert result.exit_code == 0, result.output
    fits = [c for c in CALLS if c[0] == "fit"]
    scored = [c for c in CALLS if c[0] == "score"]
    # three folds and the refit; each fit resampled to one fraud per two legitimate rows
    assert len(fits) == 4
    for _, rows, frauds in fits:
        assert frauds / (rows - frauds) == pytest.approx(0.5, abs=0.01)
    # the validation blocks are scored untouched: their sizes add up to the validated rows
    report = json.loads(Path("reports/train.json").read_text())
    validated = report["selection"]["validated_rows"]
    assert sum(rows for _, rows, _ in scored[:3]) == validated
    period = sum(
        len(pd.read_parquet(f"data/features/{s}.parquet")) for s in ("train", "validation")
    )
    assert validated < period


def test_balanced_bagging_saves_one_blend_that_serves(project, runner, registry_name):
    write_params(
        project,
        {
            "tracking": {"registered_model": registry_name},
            "model": {"imbalance": {"resample": "balanced_bagging", "bags": 3, "ratio": 0.2}},
            "selection": {"folds": 0},
        },
    )
    for command in ("data", "train", "evaluate"):
        args = ["features", "build"] if command == "train" else []
        if args:
            assert invoke(runner, *args).exit_code == 0
        result = invoke(runner, command)
        assert result.exit_code == 0, result.output
    from fraudctl.model.bundle import load_model
    from fraudctl.model.ensemble import BlendClassifier

    model = load_model(Path("models/model"))
    assert isinstance(model.estimator, BlendClassifier) and len(model.estimator.members) == 3
    assert model.metadata["estimator_format"] == "blend"


def test_a_new_family_is_one_registry_entry(project, runner, registry_name, recording_family):
    """Registered at run time, the family is valid in params, trains, saves, loads and
    scores through the API: nothing else in the project had to learn its name."""
    write_params(
        project,
        {
            "tracking": {"registered_model": registry_name},
            "model": {"name": "recording_forest", "recording_forest": {"n_estimators": 15}},
            "selection": {"folds": 2},
        },
    )
    for args in (["data"], ["features", "build"], ["train"], ["evaluate"]):
        result = invoke(runner, *args)
        assert result.exit_code == 0, (args, result.output)
    bad = {"model": {"name": "recording_forest", "recording_forest": {"n_estimators": 0}}}
    write_params(project, bad)
    refused = invoke(runner, "train")
    assert refused.exit_code == 2
    assert "model.recording_forest.n_estimators" in refused.output

    from fastapi.testclient import TestClient

    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings
    from tests.serve.conftest import FEATURES, wait_ready

    row = pd.read_parquet("data/features/test.parquet").iloc[0]
    with TestClient(create_app(ServeSettings(model="models/model"))) as client:
        wait_ready(client)
        answer = client.post("/predict", json={f: float(row[f]) for f in FEATURES})
        assert answer.status_code == 200, answer.text
        assert client.get("/model").json()["kind"] == "recording_forest"


def test_selection_candidates_train_the_best_out_of_fold_family(project, runner, registry_name):
    """selection.candidates: the same folds score each family; the best mean out-of-fold
    PR-AUC is what is refitted, saved and registered (here a one-split LightGBM loses)."""
    write_params(
        project,
        {
            "tracking": {"registered_model": registry_name},
            "model": {"lightgbm": {"n_estimators": 1, "num_leaves": 2}},
            "selection": {"folds": 2, "candidates": ["logistic_regression"]},
        },
    )
    for args in (["data"], ["features", "build"]):
        assert invoke(runner, *args).exit_code == 0
    result = invoke(runner, "train")
    assert result.exit_code == 0, result.output
    assert "out-of-fold PR-AUC: lightgbm" in result.output
    selection = json.loads(Path("reports/train.json").read_text())["selection"]
    compared = selection["candidates"]
    assert set(compared) == {"lightgbm", "logistic_regression"}
    assert selection["chosen"] == max(compared, key=compared.get) == "logistic_regression"
    assert selection["mean_pr_auc"] == pytest.approx(
        compared["logistic_regression"], abs=5e-4
    )  # the report keeps three decimals
    from fraudctl.model.bundle import load_model

    assert load_model(Path("models/model")).kind == "logistic_regression"
    assert "logistic_regression fitted on" in result.output

    write_params(project, {"selection": {"candidates": ["lightgbm", "xgbost"]}})
    refused = invoke(runner, "train")
    assert refused.exit_code == 2
    assert "selection.candidates" in refused.output and "xgbost" in refused.output


def test_a_candidate_whose_library_is_missing_names_both_ways_out(
    project, runner, registry_name, monkeypatch
):
    import sys

    write_params(
        project,
        {
            "tracking": {"registered_model": registry_name},
            "selection": {"folds": 2, "candidates": ["mlp"]},
        },
    )
    for args in (["data"], ["features", "build"]):
        assert invoke(runner, *args).exit_code == 0
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    result = invoke(runner, "train")
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "selection.candidates: mlp:" in message and "fraudctl[torch]" in message
    assert "remove mlp from selection.candidates" in message
    assert not Path("models/model").exists()


ALSO_NAMING_FAMILIES = {"fraudctl/config.py", "fraudctl/distributed/families.py"}


def test_family_names_appear_only_in_the_registry():
    """The registry is the only module (and dvc.yaml no stage) that names a family; besides
    it, the params loader's defaults name the default family (they describe params.yaml,
    which knows no registry) and the Dask engine's table names the families it trains."""
    alternatives = "|".join(map(re.escape, families.FAMILIES))
    # a quoted family name; `"xgboost": "models"` in the CLI maps an import to its extra
    pattern = re.compile(rf"""["']({alternatives})["'](?!: ")""")
    offenders = []
    registry = REPO_ROOT / "fraudctl" / "model" / "families"
    for path in sorted((REPO_ROOT / "fraudctl").rglob("*.py")):
        if path.is_relative_to(registry):  # the registry package: where families are named
            continue
        if path.relative_to(REPO_ROOT).as_posix() in ALSO_NAMING_FAMILIES:
            continue
        offenders += [
            f"{path.relative_to(REPO_ROOT)}: {m}" for m in pattern.findall(path.read_text())
        ]
    dvc_yaml = (REPO_ROOT / "dvc.yaml").read_text()
    offenders += [f"dvc.yaml: model.{n}" for n in families.FAMILIES if f"model.{n}" in dvc_yaml]
    assert not offenders


@pytest.mark.slow
def test_tune_resumes_a_stopped_study(project, runner, registry_name, tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    write_params(
        project,
        {
            "tracking": {"registered_model": registry_name},
            "selection": {"folds": 2},
            "tune": {
                "storage": storage,
                "startup_trials": 1,
                "search_space": {
                    "lightgbm": {
                        "num_leaves": {"low": 4, "high": 16},
                        "learning_rate": {"low": 0.05, "high": 0.3, "log": True},
                        "n_estimators": {"choices": [20, 40]},
                    }
                },
            },
        },
    )
    assert invoke(runner, "data").exit_code == 0
    assert invoke(runner, "features", "build").exit_code == 0
    first = invoke(runner, "tune", "--trials", "3")
    assert first.exit_code == 0, first.output
    assert "3 finished trial(s) (3 now" in first.output
    second = invoke(runner, "tune", "--trials", "5")
    assert second.exit_code == 0, second.output
    assert "5 finished trial(s) (2 now" in second.output  # resumed, not restarted

    best = Path("reports/tune/best.yaml").read_text()
    assert "dvc exp run -S model.name=lightgbm -S model.lightgbm.num_leaves=" in best
    import yaml

    fragment = yaml.safe_load(best)["model"]["lightgbm"]
    assert set(fragment) == {"num_leaves", "learning_rate", "n_estimators"}

    import mlflow

    runs = mlflow.search_runs(experiment_names=["fraud-training-tuning"])
    trials = runs[runs["tags.fraudctl.trial_state"].notna()]
    assert len(trials) >= 5 and trials["metrics.fold1_pr_auc"].notna().all()

    restart = invoke(runner, "tune", "--trials", "1", "--fresh")
    assert "1 finished trial(s) (1 now" in restart.output

    unknown = invoke(runner, "tune", "--model", "catboost")
    assert unknown.exit_code == 2 and "no search space for 'catboost'" in unknown.output
