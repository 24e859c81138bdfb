"""The rule language: text round-trips through the AST, and anything else is refused with
the column where it stops making sense (never run as code)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudctl.rules.nodes import (
    And,
    Arithmetic,
    Compare,
    Field,
    Member,
    Not,
    Number,
    Or,
    fields,
    format_condition,
)
from fraudctl.rules.syntax import RuleSyntaxError, parse
from tests.rules.strategies import conditions

MANY = settings(max_examples=400, deadline=None)


@MANY
@given(conditions)
def test_any_condition_round_trips_through_its_text(condition):
    text = format_condition(condition)
    assert parse(text) == condition
    assert format_condition(parse(text)) == text


@MANY
@given(st.text(max_size=60))
def test_any_text_parses_or_names_a_column(text):
    try:
        condition = parse(text)
    except RuleSyntaxError as exc:
        assert 1 <= exc.column <= len(text) + 1
        assert f"at column {exc.column}" in str(exc)
    else:
        assert parse(format_condition(condition)) == condition


@MANY
@given(
    st.lists(
        st.sampled_from(
            [
                "a",
                "1",
                "'x'",
                "(",
                ")",
                "and",
                "or",
                "not",
                "in",
                "[",
                "]",
                ",",
                "<",
                "==",
                "+",
                "-",
                "*",
                "/",
                "is",
                "missing",
            ]
        ),
        max_size=14,
    )
)
def test_token_soup_parses_or_names_a_column(words):
    text = " ".join(words)
    try:
        parse(text)
    except RuleSyntaxError as exc:
        assert 1 <= exc.column <= len(text) + 1


def test_precedence_and_associativity():
    assert parse("a > 1 or b > 2 and c > 3") == Or(
        (
            Compare(">", Field("a"), Number(1)),
            And((Compare(">", Field("b"), Number(2)), Compare(">", Field("c"), Number(3)))),
        )
    )
    assert parse("a - b - c * d > 0").left == Arithmetic(
        "-", Arithmetic("-", Field("a"), Field("b")), Arithmetic("*", Field("c"), Field("d"))
    )
    assert parse("not a in [1, 2]") == Not(Member(Field("a"), (1, 2)))
    assert parse("(amount + 1) * 2 > 10").left.op == "*"
    assert parse("AMOUNT > 1 AnD b < 2") == parse("AMOUNT > 1 and b < 2")  # keywords only
    assert fields(parse("x > y and (z in ['a'] or x is missing)")) == ["x", "y", "z"]


def test_numbers_keep_integers_exact():
    card = 4111111111111111111  # beyond 2**53: a float would merge it with its neighbours
    assert parse(f"card_id in [{card}]").values == (card,)
    assert isinstance(parse("a > 1").right.value, int)
    assert isinstance(parse("a > 1.0").right.value, float)
    assert parse("a > -2.5e-3").right == Number(-0.0025)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("customer_count_1d => 5", "unknown operator '=>' at column 19 (write '>=')"),
        ("amount = 5", "unknown operator '=' at column 8 (write '==')"),
        ("a > 1 && b < 2", "unknown operator '&&' at column 7 (write 'and')"),
        ("!(a > 1)", "unknown operator '!' at column 1 (write 'not')"),
        ("amount > 5 and", "found the end of the condition at column 15"),
        ("amount", "expected a comparison (< <= > >= == !=), 'in' or 'is missing'"),
        ("a in []", "an empty list at column 6"),
        ("a in [1, 'x']", "a list mixes numbers and strings at column 6"),
        ("name == 'open", "a string is not closed at column 9"),
        ("`in == 1", "a field name in backticks is not closed at column 1"),
        ("in == 1", "unexpected keyword 'in' at column 1 (a field of that name is written `in`)"),
        ("a > 1 b", "expected 'and', 'or' or the end of the condition, found 'b' at column 7"),
        ("a > 99999999999999999999", "larger than 2**63 - 1"),
        ("a > 1e999", "too large"),
        ("", "the condition is empty"),
        ("a > 1; b", "unexpected character ';' at column 6"),
        # the shapes of code are not the shapes of this language
        ("__import__('os').system('rm -rf /') > 0", "unexpected character '.' at column 17"),
        ("eval('1') > 0", "found '(' at column 5"),
        ("amount.real > 0", "unexpected character '.'"),
        ("(" * 50 + "a" + ")" * 50 + " > 1", "parentheses nested more than 40 deep"),
    ],
)
def test_refusals_name_the_column(text, message):
    with pytest.raises(RuleSyntaxError) as info:
        parse(text)
    assert message in str(info.value)


def test_a_field_of_any_name_in_backticks():
    condition = parse("`merchant category` in ['gambling'] and `in` > 1")
    assert fields(condition) == ["merchant category", "in"]
    assert format_condition(condition) == '`merchant category` in ["gambling"] and `in` > 1'
