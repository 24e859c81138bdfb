"""docs/real-data.md's steps in a copy of the repository."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.conftest import REPO_ROOT, SMALL_PARAMS
from tests.pipeline.dvc_project import copy_repository, init_git, run

pytestmark = pytest.mark.slow


def test_the_real_data_steps_work_as_written(tmp_path):
    """docs/real-data.md, line by line in bash, on a small table zipped as Kaggle serves it:
    the champion trained on synthetic data stays champion until `fraudctl promote latest`."""
    import zipfile

    from mlflow import MlflowClient

    from fraudctl.data.synthetic import generate_transactions

    copy_repository(tmp_path)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["data"]["synthetic"].update(SMALL_PARAMS["data"]["synthetic"])
    params["model"]["lightgbm"].update(SMALL_PARAMS["model"]["lightgbm"])
    params["selection"]["candidates"] = []
    # one LightGBM, twice: the steps are the subject here; the budget's portfolio through
    # `dvc repro` is tested in tests/pipeline/test_dvc.py
    params["selection"]["budget"] = None
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = init_git(tmp_path)
    run(["dvc", "repro", "train"], tmp_path, env)  # the synthetic champion, v1

    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    table = generate_transactions(n_rows=4000, fraud_rate=0.05, days=1, seed=9)
    # the archive as Kaggle serves it: a zip holding creditcard.csv
    with zipfile.ZipFile(downloads / "creditcardfraud.zip", "w") as archive:
        archive.writestr("creditcard.csv", table.to_csv(index=False))
    page = (REPO_ROOT / "docs" / "real-data.md").read_text()
    steps = re.search(r"```bash\n(.*?)```", page, re.S).group(1).splitlines()
    script = ["set -euo pipefail"]
    for line in steps:
        command = line.split("  #")[0].strip()
        command = command.replace("~/Downloads", str(downloads))
        if command == "source .venv/bin/activate":
            continue  # the test's environment already has the venv first on PATH
        if command == "dvc repro":
            command = "dvc repro train"  # the experiments are tested elsewhere
        if "candidates" in command:
            continue  # the blend's comparison is tested in tests/models/test_selection.py
        script.append(command)
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "source: data/raw/creditcard.csv.gz" in (tmp_path / "params.yaml").read_text()
    tracked = run(["git", "status", "--porcelain"], tmp_path, env).stdout
    assert "data/raw/creditcard.csv.gz.dvc" in tracked and "creditcard.csv.gz\n" not in tracked
    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    champion = client.get_model_version_by_alias("fraud-detector", "champion")
    assert str(champion.version) == "2", "promote latest made the real-data model champion"
