"""params.yaml problems fail before any work, naming the key path and what was expected."""

from __future__ import annotations

import pytest

from fraudctl.config import Params, load_params, parse_params
from fraudctl.errors import ConfigError
from tests.conftest import REPO_ROOT, invoke, write_params


def test_shipped_params_are_the_defaults():
    assert load_params(REPO_ROOT / "params.yaml") == Params()


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
    ],
)
def test_bad_params_name_the_key(raw, expected):
    with pytest.raises(ConfigError) as info:
        parse_params(raw)
    assert expected in str(info.value)


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
