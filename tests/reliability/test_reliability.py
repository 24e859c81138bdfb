"""Nothing lost, nothing wrong: promotion on comparable data, duplicates on whole rows,
orphaned runs closed, file modes, and a missing extra named."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import invoke, write_params


def _client():
    from mlflow import MlflowClient

    return MlflowClient()


def test_a_model_validated_on_other_data_is_not_auto_promoted(project, runner):
    name = "fingerprint-model"
    write_params(project, {"tracking": {"registered_model": name}})
    for command in (["data"], ["features", "build"], ["train"]):
        assert invoke(runner, *command).exit_code == 0
    # A small, easy data set: a higher validation PR-AUC, but on other rows.
    write_params(
        project,
        {
            "tracking": {"registered_model": name},
            "data": {"synthetic": {"n_rows": 2000, "fraud_rate": 0.1}},
        },
    )
    assert invoke(runner, "data").exit_code == 0
    assert invoke(runner, "features", "build").exit_code == 0
    second = invoke(runner, "train")
    assert second.exit_code == 0, second.output
    text = " ".join(second.output.split())
    assert "measured on other rows" in text and "fraudctl promote 2" in text
    assert str(_client().get_model_version_by_alias(name, "champion").version) == "1"
    assert str(_client().get_model_version_by_alias(name, "challenger").version) == "2"


def test_duplicates_are_judged_on_the_whole_row(project, runner):
    from fraudctl.data.synthetic import generate_transactions

    frame = generate_transactions(n_rows=3000, fraud_rate=0.05, days=1, seed=3)
    frame["customer"] = "a"
    twin = frame.iloc[:50].assign(customer="b")  # same payment, another customer
    exact = frame.iloc[50:60]  # a true repeat
    pd.concat([frame, twin, exact]).to_csv(project / "log.csv", index=False)
    write_params(project, {"data": {"source": "log.csv"}})
    result = invoke(runner, "data")
    assert result.exit_code == 0, result.output
    report = pd.read_json(project / "reports/data.json", typ="series")
    assert report["source"]["duplicates_found"] == 10
    assert report["source"]["rows_kept"] == 3050


def test_a_run_left_running_by_a_killed_process_is_closed(mlflow_store, monkeypatch):
    import socket

    from fraudctl import tracking
    from fraudctl.config import TrackingParams

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    params = TrackingParams()
    dead = subprocess.Popen(["true"])
    dead.wait()
    experiment = tracking.ensure_experiment(params, "orphans")
    client = _client()
    orphan = client.create_run(
        experiment,
        tags={tracking.HOST_TAG: socket.gethostname(), tracking.PID_TAG: str(dead.pid)},
    )
    alive = client.create_run(
        experiment,
        tags={tracking.HOST_TAG: socket.gethostname(), tracking.PID_TAG: str(os.getppid())},
    )
    with tracking.run(params, "orphans", run_name="next"):
        pass
    assert client.get_run(orphan.info.run_id).info.status == "KILLED"
    assert client.get_run(alive.info.run_id).info.status == "RUNNING"
    client.set_terminated(alive.info.run_id)


def test_written_files_follow_the_umask(tmp_path):
    from fraudctl.io import write_json

    previous = os.umask(0o022)
    try:
        import fraudctl.io

        fraudctl.io._umask.cache_clear()
        write_json(tmp_path / "out.json", {"a": 1})
    finally:
        os.umask(previous)
        fraudctl.io._umask.cache_clear()
    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == 0o644


def test_a_missing_extra_is_named(tmp_path):
    """Without the experiments extra, the command says what to install (no traceback)."""
    write_params(tmp_path)  # a project folder: without params.yaml the command stops earlier
    script = (
        "import sys; sys.modules['fairlearn'] = None\n"
        "from fraudctl.cli import app\n"
        "app(['experiment', 'fairness'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert "pip install 'fraudctl[experiments]'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["metrics", "plots"])
def test_a_full_disk_is_one_line_and_keeps_the_outputs(project, runner, monkeypatch, where):
    """evaluate's plots and metrics change together or not at all."""
    import errno
    from pathlib import Path

    from matplotlib.figure import Figure

    for command in (["data"], ["features", "build"], ["train"], ["evaluate"]):
        assert invoke(runner, *command).exit_code == 0

    def snapshot() -> dict[str, bytes]:
        reports = project / "reports"
        return {str(p): p.read_bytes() for p in reports.rglob("*") if p.is_file()}

    write_params(project, {"evaluate": {"top_k": 7}})  # metrics would change
    before = snapshot()

    def no_space(path: object) -> OSError:
        return OSError(errno.ENOSPC, "No space left on device", str(path))

    real_write_text = Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name.startswith(".metrics.json."):
            raise no_space(self)
        return real_write_text(self, *args, **kwargs)

    def savefig(self, path, *args, **kwargs):
        raise no_space(path)

    with monkeypatch.context() as patch:
        if where == "metrics":
            patch.setattr(Path, "write_text", write_text)
        else:
            patch.setattr(Figure, "savefig", savefig)
        result = invoke(runner, "evaluate")
    assert result.exit_code == 2, result.output
    assert "no space left on the device" in result.output and "Traceback" not in result.output
    assert snapshot() == before


def test_a_staging_folder_left_by_a_killed_run_is_removed(project, runner):
    leftover = project / "data" / ".prepared.killed123"
    (leftover / "content").mkdir(parents=True)
    (leftover / "content" / "train.parquet").write_bytes(b"half")
    assert invoke(runner, "data").exit_code == 0
    assert not leftover.exists()
    assert not [p for p in (project / "data").iterdir() if p.name.startswith(".prepared.")]
