"""params.yaml problems fail before any work, naming the key path and what was expected."""

from __future__ import annotations

import pytest

from fraudctl.config import Params, load_params, parse_params
from fraudctl.distributed.settings import dask_settings
from fraudctl.errors import ConfigError
from fraudctl.model.families import model_spec
from fraudctl.stages.project import check_params
from tests.conftest import REPO_ROOT, invoke, write_params


def _without_blocks(params: Params) -> Params:
    """The params with raw blocks set aside: they are compared as the libraries read them."""
    poison = params.experiments.poison.model_copy(
        update={"model": params.experiments.poison.model.model_copy(update={"blocks": {}})}
    )
    return params.model_copy(
        update={
            "model": params.model.model_copy(update={"blocks": {}}),
            "compute": params.compute.model_copy(update={"blocks": {}}),
            "experiments": params.experiments.model_copy(update={"poison": poison}),
        }
    )


def test_shipped_params_are_the_defaults():
    shipped, defaults = load_params(REPO_ROOT / "params.yaml"), Params()
    assert _without_blocks(shipped) == _without_blocks(defaults)
    # every family block params.yaml writes out is that family's defaults
    assert model_spec(shipped.model) == model_spec(defaults.model)
    poison = shipped.experiments.poison.model, defaults.experiments.poison.model
    assert model_spec(poison[0]) == model_spec(poison[1])
    assert dask_settings(shipped.compute) == dask_settings(defaults.compute)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"model": {"name": "xgbost"}},
            "model.name: unknown model 'xgbost'; valid names: lightgbm",
        ),
        ({"model": {"lightgbm": {"n_estimators": "many"}}}, "model.lightgbm.n_estimators"),
        ({"model": {"lightgbm": {"num_leavs": 3}}}, "model.lightgbm.num_leavs: unknown key"),
        ({"split": {"train": 0.8}}, "split: train + validation + test must be 1.0, got 1.1"),
        ({"split": {"method": "shuffle"}}, "split.method"),
        (
            {"threshold": {"min_precision": 1.5}},
            "threshold.min_precision: Input should be less than 1",
        ),
        ({"data": {"synthetic": {"fraud_rate": 0}}}, "data.synthetic.fraud_rate"),
        ({"data": {"schema": {"target": "Time"}}}, "must be different columns"),
        ({"base": {"seed": -1}}, "base.seed"),
        ({"bogus": {}}, "bogus: unknown key"),
        ({"model": {"lightgbm": 3}}, "model.lightgbm: expected a mapping of settings"),
        ({"selection": {"candidates": ["forest"]}}, "selection.candidates: unknown model"),
        ({"compute": {"engine": "spark"}}, "compute.engine: unknown engine 'spark'"),
        ({"compute": {"dask": {"workers": 0}}}, "compute.dask.workers"),
        ({"compute": {"ray": {}}}, "compute.ray: unknown key"),
        (
            {"tune": {"search_space": {"lightgbm": {"leaves": {"low": 1, "high": 2}}}}},
            "tune.search_space.lightgbm: leaves not in model.lightgbm",
        ),
        (
            {"experiments": {"poison": {"model": {"name": "lightgbm", "lightgbm": {"x": 1}}}}},
            "experiments.poison.model.lightgbm.x: unknown key",
        ),
    ],
)
def test_bad_params_name_the_key(raw, expected):
    """The loader checks each section; the stages check the blocks the libraries own (model
    families, engines) right after: one message with the key path either way."""
    with pytest.raises(ConfigError) as info:
        check_params(parse_params(raw))
    assert expected in str(info.value)


def test_the_loader_alone_knows_no_model_family():
    """params.yaml's loader imports no library: a family's block is checked by its family."""
    params = parse_params({"model": {"name": "xgbost", "xgbost": {"depth": 3}}})
    assert params.model.blocks == {"xgbost": {"depth": 3}}
    with pytest.raises(ConfigError, match=r"params\.yaml: model\.name: unknown model 'xgbost'"):
        check_params(params)


def test_not_a_mapping_and_bad_yaml(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_params(path)
    path.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(path)
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "missing.yaml")


def test_cli_rejects_bad_params_before_any_work(project, runner):
    write_params(project, {"model": {"name": "xgbost"}})
    result = invoke(runner, "train")
    assert result.exit_code == 2
    assert "model.name: unknown model 'xgbost'" in result.output
    assert "random_forest" in result.output
    assert not (project / "models").exists()
