"""Rules through the pipeline's doors: refused at `train` with their key path, saved inside
the model, measured by `evaluate`, shown by the card and the PR report, applied by `score`,
and a rule-only change retrains into the same estimator bits and is promoted as such."""

from __future__ import annotations

import json

import pandas as pd

from tests.conftest import CLI_MODEL, invoke, write_params

RULES = [
    {
        "name": "v14_big",
        "when": "V14 < -2 and Amount > 50",
        "action": "block",
        "priority": 10,
        "description": "a strong V14 signal on a large amount",
    },
    {"name": "night_small", "when": "Amount < 2 or V4 > 3", "action": "review"},
    {
        "name": "cleared",
        "when": "Amount in [0.0, 1.0] and V14 > 0",
        "action": "allow",
        "priority": 20,
    },
]


def _payload(project):
    return next((project / "models/model").rglob("contract.json")).parent


def _stages(runner, *commands: str) -> None:
    for command in commands:
        result = invoke(runner, *command.split())
        assert result.exit_code == 0, (command, result.output)


def test_bad_rules_are_refused_at_train_with_their_key_path(project, runner, registry_name):
    _stages(runner, "data", "features build")
    for when, expected in (
        ("V99 > 1", "rules.bad.when: unknown field 'V99'"),
        ("Amount in ['big']", "rules.bad.when: 'Amount in [\"big\"]': field 'Amount' (number)"),
        ("Time > 5", "rules.bad.when: unknown field 'Time'"),  # this model reads no time
        ("V1 + 'a' > 2", "rules.bad.when: the string 'a' in arithmetic (+) is not a number"),
    ):
        rules = [{"name": "bad", "when": when, "action": "review"}]
        write_params(project, {"tracking": {"registered_model": registry_name}, "rules": rules})
        result = invoke(runner, "train")
        assert result.exit_code == 2, result.output
        assert expected in " ".join(result.output.split()), result.output
        assert not (project / "models/model").exists()  # refused before any fit


def test_rules_travel_with_the_model_through_evaluate_card_score_and_promotion(cli_trained, runner):
    from mlflow import MlflowClient

    project, registry_name = cli_trained, CLI_MODEL
    _stages(runner, "evaluate")
    plain = json.loads((project / "reports/metrics.json").read_text())
    assert "rules" not in plain  # no rules: the file as before rules existed
    contract = json.loads((_payload(project) / "contract.json").read_text())
    assert "rules_sha256" not in contract and not (_payload(project) / "rules.json").exists()
    estimator_files = {
        p.name: p.read_bytes()
        for p in _payload(project).iterdir()
        if p.name not in ("contract.json", "rules.json")
    }

    # a rule-only change: train again, the same estimator bits, promoted as a rule change
    write_params(project, {"tracking": {"registered_model": registry_name}, "rules": RULES})
    second = invoke(runner, "train")
    assert second.exit_code == 0, second.output
    assert "a rule change" in " ".join(second.output.split()), second.output
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(registry_name, "champion").version) == "2"
    payload = _payload(project)
    assert {p.name: p.read_bytes() for p in payload.iterdir() if p.name in estimator_files} == (
        estimator_files
    )
    contract = json.loads((payload / "contract.json").read_text())
    assert contract["rules_sha256"] and (payload / "rules.json").exists()

    # evaluate measures the model's rules on the test split
    _stages(runner, "evaluate")
    metrics = json.loads((project / "reports/metrics.json").read_text())
    block = metrics["rules"]
    assert list(block["per_rule"]) == ["cleared", "v14_big", "night_small"]  # decision order
    assert {k: v for k, v in metrics.items() if k != "rules"} == plain  # the model's numbers
    combined = block["combined"]
    assert combined["true_positives"] + combined["false_negatives"] == metrics["frauds"]
    assert block["per_rule"]["v14_big"]["hits"] > 0

    # score applies the same rules: its columns agree with evaluate's counts
    test = pd.read_parquet(project / "data/prepared/test.parquet")
    history = pd.concat(
        [pd.read_parquet(project / f"data/prepared/{s}.parquet") for s in ("train", "validation")]
    )
    test.to_parquet(project / "in.parquet")
    history.to_parquet(project / "history.parquet")
    scored = invoke(runner, "score", "in.parquet", "-o", "out.csv", "--history", "history.parquet")
    assert scored.exit_code == 0, scored.output
    assert "the model's 3 rule(s) decided" in " ".join(scored.output.split())
    out = pd.read_csv(project / "out.csv")
    assert int(out["decision"].isin(["block", "review"]).sum()) == combined["alerts"]
    assert int(out["rule"].notna().sum()) == combined["by_rule"]
    for name, entry in block["per_rule"].items():
        assert int((out["rule"] == name).sum()) == entry["decided"], name
    assert (out["fraud_decision"] == (out["fraud_probability"] >= metrics["threshold"])).all()

    # the card shows them; a params change without train is refused by evaluate and card
    _stages(runner, "card")
    card = (project / "reports/model_card.md").read_text()
    assert "## Rules beside the model" in card and "| v14_big | block | 10 |" in card
    assert "a strong V14 signal on a large amount" in card
    write_params(project, {"tracking": {"registered_model": registry_name}, "rules": RULES[:1]})
    for command in ("evaluate", "card"):
        refused = invoke(runner, command)
        assert refused.exit_code == 2, refused.output
        assert "rules travel with the model" in " ".join(refused.output.split())


def test_score_refuses_an_input_with_the_columns_it_writes(trained_project, runner):
    project = trained_project
    test = pd.read_parquet(project / "data/prepared/test.parquet")
    test.assign(rule="x").to_parquet(project / "in.parquet")
    result = invoke(runner, "score", "in.parquet", "-o", "out.parquet")
    assert result.exit_code == 2
    assert "in.parquet: has column(s) rule, which `fraudctl score` writes" in " ".join(
        result.output.split()
    )
    assert not (project / "out.parquet").exists()
