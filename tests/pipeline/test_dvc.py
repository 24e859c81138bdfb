"""`dvc repro` on a copy of the repository, as a new user's clone would run it.

The clone is repro'd once per pytest run (tests/pipeline/dvc_project.py); each test works on
a copy of it, so a test that changes params or code leaves nothing to the next one."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from fraudctl.paths import SPLITS, ProjectPaths
from fraudctl.stages.headline import NAMES as HEADLINE_NAMES
from tests.conftest import REPO_ROOT
from tests.pipeline.dvc_project import repro_clone
from tests.pipeline.dvc_project import run as _run

pytestmark = pytest.mark.slow


@pytest.fixture
def repro(tmp_path_factory, tmp_path) -> tuple[Path, dict[str, str], str]:
    """This test's copy of the repro'd clone, its environment, and the first repro's output."""
    return repro_clone(tmp_path_factory, tmp_path / "clone")


@pytest.fixture
def clone(repro) -> tuple[Path, dict[str, str]]:
    root, env, _ = repro
    return root, env


def test_repro_runs_every_stage_then_nothing(repro):
    """The clone's first `dvc repro` (run once for the whole suite) ran every stage; its
    copy, moved to another folder, is up to date."""
    root, env, first = repro
    for stage in ("prepare", "train", "evaluate", "poison", "fairness", "drift", "card"):
        assert f"Running stage '{stage}'" in first
    paths = ProjectPaths(root)
    for split in SPLITS:
        assert paths.split_file(split).exists()
    assert (paths.model_dir / "MLmodel").exists()
    metrics = json.loads(paths.metrics_file.read_text())
    assert 0 < metrics["pr_auc"] <= 1

    second = _run(["dvc", "repro"], root, env)
    assert "Running stage" not in second.stdout
    assert "up to date" in second.stdout

    shown = json.loads(_run(["dvc", "metrics", "show", "--json"], root, env).stdout)
    files = next(iter(shown.values()))["data"]
    emissions = {f"reports/emissions/{s}.json" for s in ("train", "poison", "fairness", "drift")}
    assert all((root / name).exists() for name in emissions)
    assert (root / "reports/model_card.md").exists()
    # One headline file: `dvc exp show` had 700 metric columns when grids were metrics, and
    # hundreds still when every stage declared its JSON.
    assert set(files) == {"reports/headline.json"}, files
    assert set(files["reports/headline.json"]["data"]) == set(HEADLINE_NAMES)
    headline = files["reports/headline.json"]["data"]
    assert headline["pr_auc"] == round(metrics["pr_auc"], 4)
    poison = json.loads((root / "reports/poison/metrics.json").read_text())
    assert headline["poison_drop"] == round(poison["worst_pr_auc_drop"], 4)
    table = _run(["dvc", "metrics", "show"], root, {**env, "COLUMNS": "120"}).stdout
    assert max(map(len, table.splitlines())) <= 120, table
    assert "…" not in table and "drifted_share" in table, table
    plots = _run(["dvc", "plots", "show", "--json"], root, env)
    assert "Precision-recall (test)" in plots.stdout
    # The HTML page: every chart once, Vega inline (no CDN), the confusion data small.
    _run(["dvc", "plots", "show", "-o", "dvc_plots"], root, env)
    page = (root / "dvc_plots" / "index.html").read_text()
    assert "cdn.jsdelivr.net" not in page
    charts = re.findall(r"vegaEmbed\('#([^']+)'", page)
    assert len(charts) == len(set(charts)) == 7, charts
    assert len(re.findall(r'<img src="static/', page)) == 3
    assert len(page) < 2_000_000
    assert "dvc_plots" not in _run(["git", "status", "--porcelain"], root, env).stdout


def test_rerunning_stages_on_the_same_inputs_changes_no_tracked_file(clone):
    """A fresh clone's `dvc repro` must not leave git dirty: the reports carry no run ids or
    random ids. (Retraining on the same data and params giving a byte-identical model is
    checked by the next test, whose `dvc repro` retrains what `fraudctl train` trained.)"""
    root, env = clone
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "outputs", "--allow-empty"], root, env)
    forced = _run(
        ["dvc", "repro", "--force", "--single-item", "evaluate", "fairness", "drift"], root, env
    )
    for stage in ("evaluate", "fairness", "drift"):
        assert f"Running stage '{stage}'" in forced.stdout, forced.stdout
    changed = _run(["git", "status", "--porcelain"], root, env).stdout.splitlines()
    # The energy measurements differ on every run, and are not tracked: they measure the
    # machine, not the model.
    assert changed == [], changed
    assert "Running stage" not in _run(["dvc", "repro"], root, env).stdout


def test_fraudctl_train_then_dvc_repro_keep_one_consistent_model(clone):
    """`fraudctl train` outside DVC, then `dvc repro`: the model on disk stays the one the
    registry's newest version holds, and every training run keeps its train-* name. The
    repro goes as far as evaluate, the stage that joins the registry's run (the experiments
    after it log runs of their own, in experiments of their own)."""
    import mlflow

    root, env = clone
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["model"]["lightgbm"]["n_estimators"] += 5
    params["selection"]["budget"] = None  # the portfolio is searched in the clone's repro
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run(["fraudctl", "train"], root, env)
    trained = _digest(root / "models" / "model")
    ran = _run(["dvc", "repro", "evaluate"], root, env).stdout
    assert "Running stage 'train'" in ran and "Running stage 'evaluate'" in ran, ran
    assert _digest(root / "models" / "model") == trained  # never swapped back

    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    record = json.loads((root / "models" / "registry.json").read_text())
    assert client.get_run(record["run_id"]).info.run_name.startswith("train-")
    experiment = client.get_experiment_by_name(params["tracking"]["experiment"])
    runs = client.search_runs([experiment.experiment_id])
    names = {run.info.run_name for run in runs}
    assert names and all(name.startswith("train-") for name in names), names
    newest = max(
        client.search_model_versions(f"name='{params['tracking']['registered_model']}'"),
        key=lambda v: int(v.version),
    )
    assert str(newest.version) == str(record["version"])
    assert "test_pr_auc" in client.get_run(newest.run_id).data.metrics  # evaluate joined it


def _digest(directory: Path) -> dict[str, str]:
    import hashlib

    return {
        p.relative_to(directory).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_one_param_change_reruns_only_what_depends_on_it(clone):
    root, env = clone
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["evaluate"]["calibration_bins"] = 5
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = _run(["dvc", "repro"], root, env)
    assert "Running stage 'evaluate'" in result.stdout
    assert "Running stage 'prepare'" not in result.stdout
    assert "Running stage 'train'" not in result.stdout


def test_editing_the_network_module_leaves_prepare_and_features_up_to_date(clone):
    """dvc.yaml's deps are the code each stage runs: the PyTorch network is a model family,
    so a change to it reruns train and what follows, never the data stages."""
    root, env = clone
    network = root / "fraudctl" / "model" / "network.py"
    original = network.read_text()
    network.write_text(original + "\n# a comment changes the file's hash\n")
    try:
        stale = set(json.loads(_run(["dvc", "status", "--json"], root, env).stdout))
    finally:
        network.write_text(original)
    assert "train" in stale, stale
    assert not {"prepare", "features"} & stale, stale


def test_push_and_pull_through_a_local_remote_restore_a_fresh_clone(clone, tmp_path):
    root, env = clone
    remote = tmp_path / "remote"
    _run(["dvc", "remote", "add", "--local", "-d", "storage", str(remote)], root, env)
    _run(["dvc", "push"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "pipeline outputs", "--allow-empty"], root, env)

    fresh = tmp_path / "fresh"
    _run(["git", "clone", "-q", str(root), str(fresh)], tmp_path, env)
    assert not (fresh / "models" / "model").exists()
    _run(["dvc", "remote", "add", "--local", "-d", "storage", str(remote)], fresh, env)
    _run(["dvc", "pull"], fresh, env)
    model_files = [
        p.relative_to(root).as_posix() for p in (root / "models/model").rglob("*") if p.is_file()
    ]
    assert any(name.startswith("models/model/data/fraudctl/estimator.") for name in model_files)
    for relative in [
        "data/prepared/train.parquet",
        "data/prepared/test.parquet",
        "data/features/train.parquet",
        "reports/plots/confusion.csv",
        *model_files,
    ]:
        assert (fresh / relative).read_bytes() == (root / relative).read_bytes(), relative
    status = _run(["dvc", "status"], fresh, env)
    assert "up to date" in status.stdout


def test_a_failing_stage_keeps_the_last_good_outputs(clone):
    """DVC deletes a stage's outputs before running it unless they are persistent; ours are,
    and fraudctl writes them whole or not at all, so a bad input loses nothing."""
    root, env = clone
    guarded = ["data/prepared/train.parquet", "reports/data.json", "models/model/MLmodel"]
    before = {name: (root / name).read_bytes() for name in guarded}
    params_text = (root / "params.yaml").read_text()
    (root / "bad.csv").write_text("Time,V1,Amount,Class\n1,x,2,0\n")
    params = yaml.safe_load(params_text)
    params["data"]["source"] = "bad.csv"
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        failed = subprocess.run(
            ["dvc", "repro"], cwd=root, env=env, capture_output=True, text=True, timeout=600
        )
        assert failed.returncode != 0
        assert "bad.csv" in failed.stdout + failed.stderr
        for name, content in before.items():
            assert (root / name).read_bytes() == content, name
    finally:
        (root / "params.yaml").write_text(params_text)
        (root / "bad.csv").unlink()
    again = _run(["dvc", "repro"], root, env)
    assert "Running stage 'prepare'" not in again.stdout


@pytest.mark.parametrize("family", ["lightgbm"])
def test_other_families_through_dvc_exp_run(clone, family):
    """`dvc exp run -S model.name=...` re-runs train, evaluate, fairness and drift with
    another family, but not the poisoning grid, which has its own model; the model it
    leaves serves /predict. The clone's repro saved the budget's blend (its members' files
    in one blend folder); the experiment swaps it for one LightGBM text file, the cheapest
    family to train and the one that explains itself. Every family goes through every door
    in-process in tests/models/test_families.py."""
    root, env = clone
    assert json.loads((root / "reports/train.json").read_text())["model"] == "ensemble"
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "baseline", "--allow-empty"], root, env)
    # one fit on the train split: params.yaml writes selection.budget, which needs the
    # folds (refused beside folds=0)
    small = ["-S", "selection.folds=0", "-S", "selection.budget=null"]
    ran = _run(
        ["dvc", "exp", "run", "-n", "other", "-S", f"model.name={family}", *small], root, env
    )
    for stage in ("train", "evaluate", "fairness", "drift"):
        assert f"Running stage '{stage}'" in ran.stdout, ran.stdout
    assert "Running stage 'poison'" not in ran.stdout
    shown = _run(["dvc", "exp", "show", "--json"], root, env)
    assert '"other"' in shown.stdout and family in shown.stdout
    # `make exp`: the headline view fits 120 columns and shows both runs
    columns = re.search(r"^EXP_COLUMNS := (.+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    keep = columns.group(1).replace("$$", "$")
    table = _run(
        ["dvc", "exp", "show", "--no-pager", "--drop", ".*", "--keep", keep],
        root,
        {**env, "COLUMNS": "120"},
    ).stdout
    assert max(map(len, table.splitlines())) <= 120, table
    assert "other" in table and family in table and "…" not in table, table
    report = json.loads((root / "reports/train.json").read_text())
    assert report["model"] == family
    from fastapi.testclient import TestClient

    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings
    from tests.serve.conftest import FEATURES, wait_ready

    row = json.loads((root / "models/model/input_example.json").read_text())
    body = dict(zip(row["columns"], row["data"][0], strict=True))
    settings = ServeSettings(model=str(root / "models/model"))
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        answer = client.post("/predict", json={f: body[f] for f in FEATURES})
        assert answer.status_code == 200, answer.text
        explained = client.post("/explain", json={f: body[f] for f in FEATURES})
        assert explained.status_code == 200, explained.text  # LightGBM's own tree SHAP
