"""Each catalogue case through its public door: one clear error, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.catalogue.cases import all_cases, build_project, run_case

CASES = all_cases()


@pytest.fixture(scope="module")
def catalogue_project(tmp_path_factory, mlflow_store) -> Path:
    from tests.conftest import tracking_uri

    with tracking_uri(mlflow_store):
        yield build_project(tmp_path_factory.mktemp("catalogue") / "project")


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 60
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize(
    "case",
    # a subprocess each (fraudctl's start-up): slow, like the other end-to-end runs
    [pytest.param(c, marks=[pytest.mark.slow] if c.kind == "process" else []) for c in CASES],
    ids=[case.name for case in CASES],
)
def test_case_is_clean(case, catalogue_project, monkeypatch, mlflow_store):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    problem = run_case(case, catalogue_project, catalogue_project / "models" / "model")
    assert problem is None, problem
