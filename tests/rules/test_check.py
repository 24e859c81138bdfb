"""Bad rules are refused with their key path: by the params loader (syntax) and against a
model's fields (unknown field, type mismatch)."""

from __future__ import annotations

import pytest

from fraudctl.config import load_params, parse_params
from fraudctl.errors import ConfigError
from fraudctl.rules.check import check_rules, model_fields
from fraudctl.rules.ruleset import RuleSet

RAW = [
    ("timestamp", "time", "datetime64[ns, UTC]"),
    ("customer_id", "entity", "int64"),
    ("terminal_id", "entity", "object"),
    ("amount", "numeric", "float64"),
    ("merchant_category", "categorical", "object"),
    ("is_fraud", "label", "int64"),
]
FEATURES = [
    "amount",
    "merchant_category",
    "customer_count_1d",
    "customer_amount_mean_7d",
    "is_night",
]
FIELDS = model_fields(RAW, FEATURES)


def rules_of(*entries: dict) -> RuleSet:
    params = parse_params({"rules": [{"action": "review", **entry} for entry in entries]})
    return RuleSet.from_params(params.rules)


def test_the_models_fields_and_their_kinds():
    assert dict(FIELDS) == {
        "timestamp": "time",
        "customer_id": "number",
        "terminal_id": "text",
        "amount": "number",
        "merchant_category": "text",
        "customer_count_1d": "number",
        "customer_amount_mean_7d": "number",
        "is_night": "number",
    }  # the label is not a field: it is unknown when a transaction is scored


def test_well_typed_rules_pass():
    check_rules(
        rules_of(
            {"name": "velocity", "when": "customer_count_1d >= 10 and is_night == 1"},
            {"name": "deny", "when": "customer_id in [4111111111111111111, 42]"},
            {"name": "category", "when": "merchant_category in ['gambling'] or amount is missing"},
            {"name": "spike", "when": "amount > 5 * customer_amount_mean_7d"},
            {"name": "terminal", "when": "terminal_id == 'T-99'"},
        ),
        FIELDS,
    )


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("amout > 100", "rules.r.when: unknown field 'amout' (did you mean 'amount'?)"),
        ("is_fraud == 1", "unknown field 'is_fraud'"),
        ("merchant_category > 'a'", "field 'merchant_category' (text) has no order"),
        ("merchant_category == 5", "compares field 'merchant_category' (text) with a number"),
        ("amount in ['big']", "field 'amount' (number) against a list of strings"),
        ("terminal_id in [1, 2]", "field 'terminal_id' (text) against a list of numbers"),
        ("amount * merchant_category > 1", "field 'merchant_category' (text) in arithmetic (*)"),
        ("-terminal_id < 0", "in arithmetic (-) is not a number"),
        ("timestamp > 5", "field 'timestamp' (time) is the time column; compare the calendar"),
        ("timestamp is missing or amount > 1", None),  # a missing time is fine to ask about
    ],
)
def test_unknown_fields_and_type_mismatches_name_the_rule(when, message):
    rules = rules_of({"name": "r", "when": when})
    if message is None:
        check_rules(rules, FIELDS)
        return
    with pytest.raises(ConfigError) as info:
        check_rules(rules, FIELDS)
    assert message in str(info.value)
    assert str(info.value).startswith("rules.r.when: ")


def test_the_loader_refuses_unparseable_rules_with_the_key_path(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(
        "rules:\n"
        "  - name: velocity\n"
        "    when: customer_count_1d => 5\n"
        "    action: review\n"
        "  - name: deny\n"
        "    when: customer_id in [1, 2]\n"
        "    action: stop\n"
        "    priority: high\n"
    )
    with pytest.raises(ConfigError) as info:
        load_params(path)
    message = str(info.value)
    assert "rules.velocity.when: unknown operator '=>' at column 19 (write '>=')" in message
    assert "rules.deny.action: Input should be 'block', 'review' or 'allow'" in message
    assert "rules.deny.priority: Input should be a valid integer" in message


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            [{"name": "a", "when": "x > 1", "action": "block"}] * 2,
            "rules.a.name: two rules have this name",
        ),
        ([{"when": "x > 1", "action": "block"}], "rules.0.name: Field required"),
        ([{"name": "a b", "when": "x > 1", "action": "block"}], "rules.a b.name: String should"),
        ({"a": {"when": "x > 1"}}, "rules: expected a list of rules"),
        ([{"name": "a", "when": True, "action": "block"}], "rules.a.when: Input should be a valid"),
        (
            [{"name": "a", "when": "x > 1", "action": "block", "weight": 2}],
            "rules.a.weight: unknown",
        ),
    ],
)
def test_the_loader_refuses_malformed_rule_lists(rules, message):
    with pytest.raises(ConfigError) as info:
        parse_params({"rules": rules})
    assert message in str(info.value)


def test_no_rules_by_default_and_rules_in_decision_order():
    assert parse_params({}).rules == []
    rules = rules_of(
        {"name": "low", "when": "amount > 1", "priority": 1},
        {"name": "high", "when": "amount > 2", "priority": 9},
        {"name": "low_too", "when": "amount > 3", "priority": 1},
    )
    assert rules.names == ["high", "low", "low_too"]
    assert rules.fields == ["amount"]
