"""Schemathesis, every check, against a real `fraudctl serve` process: 0 failures.

Bounded: a fixed number of generated cases per operation and a fixed seed, on loopback.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env
from tests.serve.test_server_process import serving

pytestmark = pytest.mark.slow

TOKEN = "schemathesis-token"


def run_schemathesis(base: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Runs in ``workdir``: schemathesis keeps a cache in the current directory, which must
    not be the checkout (a test run would leave git dirty)."""
    st = Path(sys.executable).parent / "st"
    if not st.exists() and shutil.which("st") is None:
        pytest.skip("schemathesis is not installed (it is in the dev extra)")
    return subprocess.run(
        [
            str(st if st.exists() else "st"),
            "run",
            f"{base}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "15",
            "--seed",
            "1",
            "--request-timeout",
            "30",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            # a transaction takes any field besides its own (ignored, as at every door):
            # generating bodies that also satisfy the timestamp's and ids' formats filters
            # out most drawn objects, which is slowness of generation, not of the API
            "--suppress-health-check=filter_too_much",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=workdir,
    )


def test_no_schemathesis_failures_on_the_ulb_model(model_dir, tmp_path):
    with serving(model_dir, env=cli_env(FRAUDCTL_ADMIN_TOKEN=TOKEN)) as base:
        result = run_schemathesis(base, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]


def test_no_schemathesis_failures_on_a_raw_transaction_model(transactions_project, tmp_path):
    store = f"sqlite:///{tmp_path / 'online.db'}"
    env = cli_env(FRAUDCTL_ADMIN_TOKEN=TOKEN, FRAUDCTL_ONLINE_STORE=store)
    materialized = subprocess.run(
        ["fraudctl", "features", "materialize"],
        cwd=transactions_project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert materialized.returncode == 0, materialized.stderr
    with serving(transactions_project / "models" / "model", env=env) as base:
        result = run_schemathesis(base, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
