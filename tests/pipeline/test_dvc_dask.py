"""`dvc repro` with the Dask engine in a copy of the repository."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.pipeline.dvc_project import copy_repository, init_git, run

pytestmark = pytest.mark.slow


def test_the_dask_engine_through_dvc_repro(tmp_path):
    """docs/dask.md: a day-partitioned log in data/raw, compute.engine:
    dask on a local cluster, `dvc repro`; outputs are partitioned directories, later stages
    read them unchanged, and `fraudctl score` writes one scored file per day."""
    pytest.importorskip("distributed")
    from fraudctl.data.synthetic_transactions import write_partitioned_log
    from tests.conftest import example_params
    from tests.distributed.test_engines import DASK

    copy_repository(tmp_path)
    log = tmp_path / "data/raw/log"
    write_partitioned_log(
        log,
        days=40,
        n_customers=150,
        n_terminals=200,
        seed=3,
        compromised_terminal_rate=0.05,
        compromised_card_rate=0.05,
    )
    params = example_params(
        {
            "data": {"source": "data/raw/log"},
            "compute": DASK,
            "selection": {"folds": 0},
            "emissions": {"enabled": False},
        }
    )
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = init_git(tmp_path)
    first = run(["dvc", "repro", "evaluate"], tmp_path, env)
    for stage in ("prepare", "features", "train", "evaluate"):
        assert f"Running stage '{stage}'" in first.stdout
    assert (tmp_path / "data/features/train.parquet").is_dir()
    report = json.loads((tmp_path / "reports/train.json").read_text())
    assert report["selection"]["engine"] == "dask"
    assert 0 <= json.loads((tmp_path / "reports/metrics.json").read_text())["pr_auc"] <= 1
    assert "Running stage" not in run(["dvc", "repro", "evaluate"], tmp_path, env).stdout
    run(["fraudctl", "score", "data/raw/log", "-o", "scored"], tmp_path, env)
    assert len(list((tmp_path / "scored").iterdir())) == 40
