"""Evaluation: the batch path equals a reference evaluation on random frames with missing
values, the single-row path equals the batch path, and priorities decide."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudctl.errors import DataError
from fraudctl.rules.check import check_rules
from fraudctl.rules.decide import decide_batch, decide_row
from fraudctl.rules.evaluate import fired, first_firing, row_truth
from fraudctl.rules.nodes import format_condition
from fraudctl.rules.ruleset import Rule, RuleSet
from fraudctl.rules.syntax import parse
from tests.rules.strategies import FIELDS, frames, ref_truth, typed_conditions

MANY = settings(max_examples=150, deadline=None)


def one_rule(condition, action="review") -> RuleSet:
    return RuleSet.of([Rule("r", condition, action, 0, format_condition(condition))])


def rows_of(frame: pd.DataFrame) -> list[dict]:
    """Rows as a server sees them: numpy scalars, None, NaN, pd.NA."""
    return [{c: frame[c].iloc[k] for c in frame.columns} for k in range(len(frame))]


@MANY
@given(frames(), typed_conditions)
def test_the_batch_equals_the_reference_evaluation(frame, condition):
    rules = one_rule(condition)
    check_rules(rules, FIELDS)  # the generated conditions are well typed
    expected = [ref_truth(condition, frame, k) == 1 for k in range(len(frame))]
    assert fired(rules, frame, len(frame))[:, 0].tolist() == expected


@MANY
@given(frames(), typed_conditions)
def test_one_row_equals_the_batch(frame, condition):
    rules = one_rule(condition)
    batch = fired(rules, frame, len(frame))[:, 0]
    for k, row in enumerate(rows_of(frame)):
        truth = row_truth(condition, row)
        assert (truth is True) == batch[k]
        assert truth == {1: True, 0: False, 0.5: None}[ref_truth(condition, frame, k)]


rule_sets = st.lists(
    st.tuples(typed_conditions, st.sampled_from(["block", "review", "allow"]), st.integers(0, 3)),
    min_size=1,
    max_size=5,
)


@MANY
@given(frames(), rule_sets, st.floats(0, 1))
def test_the_highest_priority_that_fires_decides(frame, specs, threshold):
    rules = RuleSet.of(
        Rule(f"r{k}", condition, action, priority)
        for k, (condition, action, priority) in enumerate(specs)
    )
    probabilities = np.linspace(0, 1, len(frame))
    decisions = decide_batch(rules, frame, probabilities, threshold)
    for k, row in enumerate(rows_of(frame)):
        firing = [j for j, (c, _, _) in enumerate(specs) if ref_truth(c, frame, k) == 1]
        if firing:
            j = max(firing, key=lambda j: (specs[j][2], -j))
            expected = (specs[j][1], f"r{j}")
        else:
            expected = ("review" if probabilities[k] >= threshold else "allow", None)
        assert (decisions.decision[k], decisions.rule[k]) == expected
        single = decide_row(rules, row, float(probabilities[k]), threshold)
        assert (single.decision, single.rule) == expected
        assert single == decisions.row(k)


def test_missing_values_are_unknown_not_false():
    frame = pd.DataFrame({"amount": [50.0, np.nan, 500.0], "country": ["BE", None, "XX"]})
    rules = RuleSet.of(
        [
            Rule("big", parse("not (amount <= 100)"), "review"),
            Rule("no_amount", parse("amount is missing"), "review"),
            Rule("odd_country", parse("country not in ['BE', 'NL']"), "block", priority=5),
        ]
    )
    hits = fired(rules, frame, 3)
    assert rules.names == ["odd_country", "big", "no_amount"]
    assert hits.tolist() == [[False, False, False], [False, False, True], [True, True, False]]


def test_integers_beyond_float_precision_stay_distinct():
    card = 2**60 + 1
    frame = pd.DataFrame({"card": np.array([card, card - 1], dtype=np.int64)})
    rules = one_rule(parse(f"card in [{card}]"), "block")
    assert fired(rules, frame, 2)[:, 0].tolist() == [True, False]
    assert first_firing(rules, {"card": card - 1}) is None
    assert first_firing(rules, {"card": np.int64(card)}) == 0


def test_division_by_zero_is_missing():
    frame = pd.DataFrame({"a": [1.0, 1.0], "b": [0.0, 2.0]})
    rules = one_rule(parse("a / b < 1 or a / b is missing"))
    assert fired(rules, frame, 2)[:, 0].tolist() == [True, True]
    assert row_truth(parse("a / b > 0"), {"a": 1.0, "b": 0.0}) is None


def test_a_missing_field_or_a_wrong_type_is_a_data_error():
    rules = one_rule(parse("amount > 5"))
    with pytest.raises(DataError, match="rule r: no column 'amount'"):
        fired(rules, pd.DataFrame({"x": [1]}), 1)
    with pytest.raises(DataError, match="rule r: the row has no field 'amount'"):
        first_firing(rules, {"x": 1})
    with pytest.raises(DataError, match="rule r"):
        fired(one_rule(parse("amount * 2 > 5")), pd.DataFrame({"amount": ["a lot"]}), 1)


def test_no_rules_leaves_the_model_to_decide():
    decisions = decide_batch(RuleSet(), {}, [0.1, 0.9], 0.5)
    assert decisions.decision.tolist() == ["allow", "review"]
    assert decisions.rule.tolist() == [None, None]
    assert decide_row(RuleSet(), {}, 0.9, 0.5).to_dict() == {
        "decision": "review",
        "rule": None,
        "probability": 0.9,
    }


def test_rule_sets_refuse_repeated_names_and_unknown_actions():
    with pytest.raises(ValueError, match="two rules named 'a'"):
        RuleSet.of([Rule("a", parse("x > 1"), "block"), Rule("a", parse("x > 2"), "review")])
    with pytest.raises(ValueError, match="unknown action 'deny'"):
        RuleSet.of([Rule("a", parse("x > 1"), "deny")])


def test_mixed_object_columns_decide_as_their_rows_do():
    """An object column of numpy scalars, bools and text (a JSON batch, a CSV without
    types): the batch and each row agree, a number never equals its text."""
    values = [np.int64(7), True, "7", 7.0, None, np.float64(np.nan), "x"]
    frame = pd.DataFrame({"v": pd.Series(values, dtype=object)})
    for text in ("v in [7, 1]", "v in ['7', 'x']", "v in [7.0]", "v == 7", "v != 'x'"):
        rules = one_rule(parse(text))
        batch = fired(rules, frame, len(frame))[:, 0].tolist()
        rows = [first_firing(rules, {"v": v}) == 0 for v in values]
        assert batch == rows, text
    assert fired(one_rule(parse("v in ['7']")), frame, 7)[:, 0].tolist() == [
        False,
        False,
        True,
        False,
        False,
        False,
        False,
    ]
