"""Hypothesis strategies for rule conditions: any AST (for the parser), and well-typed
conditions over the columns of a random frame (for the evaluator), with a reference
evaluation written independently of fraudctl.rules.evaluate."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from fraudctl.rules.nodes import (
    And,
    Arithmetic,
    Compare,
    Field,
    Member,
    Missing,
    Negate,
    Not,
    Number,
    Or,
    Text,
)

# --- any AST -----------------------------------------------------------------------------

names = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
    st.text(st.characters(exclude_characters="`", exclude_categories=("Cs",)), min_size=1),
)
integers = st.integers(-(2**63) + 1, 2**63 - 1)
floats = st.floats(allow_nan=False, allow_infinity=False)
strings = st.text(st.characters(exclude_categories=("Cs",)))
literals = st.one_of(integers, floats, strings)

values = st.recursive(
    st.one_of(integers.map(Number), floats.map(Number), strings.map(Text), names.map(Field)),
    lambda inner: st.one_of(
        inner.filter(lambda v: not isinstance(v, Number)).map(Negate),
        st.builds(Arithmetic, st.sampled_from("+-*/"), inner, inner),
    ),
    max_leaves=6,
)
literal_lists = st.one_of(
    st.lists(st.one_of(integers, floats), min_size=1, max_size=4).map(tuple),
    st.lists(strings, min_size=1, max_size=4).map(tuple),
)
predicates = st.one_of(
    st.builds(Compare, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), values, values),
    st.builds(Member, values, literal_lists, st.booleans()),
    st.builds(Missing, values, st.booleans()),
)
conditions = st.recursive(
    predicates,
    lambda inner: st.one_of(
        inner.map(Not),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=8,
)

# --- random frames and well-typed conditions over them ------------------------------------

NUMBER_FIELDS = ("i", "f", "n", "b")
TEXT_FIELDS = ("t", "c")
FIELDS = [(name, "number") for name in NUMBER_FIELDS] + [(name, "text") for name in TEXT_FIELDS]
WORDS = ["a", "b", "c", "d"]
small_numbers = st.one_of(st.integers(-4, 4), st.sampled_from([-1.5, 0.0, 0.5, 2.0, 2.5]))


@st.composite
def frames(draw: Any) -> pd.DataFrame:
    n = draw(st.integers(0, 25))
    ints = draw(st.lists(st.integers(-4, 4), min_size=n, max_size=n))
    nums = st.one_of(st.sampled_from([-1.5, 0.0, 0.5, 2.0, 3.0]), st.just(math.nan))
    floats_ = draw(st.lists(nums, min_size=n, max_size=n))
    nullable = draw(st.lists(st.one_of(st.integers(-3, 3), st.none()), min_size=n, max_size=n))
    texts = draw(st.lists(st.one_of(st.sampled_from(WORDS), st.none()), min_size=n, max_size=n))
    cats = draw(st.lists(st.one_of(st.sampled_from(WORDS), st.none()), min_size=n, max_size=n))
    flags = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    index = draw(st.permutations(range(n))) if n else []
    return pd.DataFrame(
        {
            "i": np.array(ints, dtype=np.int64),
            "f": np.array(floats_, dtype=np.float64),
            "n": pd.array(nullable, dtype="Int64"),
            "t": np.array(texts, dtype=object),
            "c": pd.Categorical(cats, categories=WORDS),
            "b": np.array(flags, dtype=bool),
        },
        index=pd.Index(index, dtype=np.int64) if n else None,
    )


number_values = st.recursive(
    st.one_of(small_numbers.map(Number), st.sampled_from(NUMBER_FIELDS).map(Field)),
    lambda inner: st.one_of(
        inner.filter(lambda v: not isinstance(v, Number)).map(Negate),
        st.builds(Arithmetic, st.sampled_from("+-*/"), inner, inner),
    ),
    max_leaves=4,
)
text_values = st.one_of(st.sampled_from(WORDS).map(Text), st.sampled_from(TEXT_FIELDS).map(Field))
typed_predicates = st.one_of(
    st.builds(
        Compare, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), number_values, number_values
    ),
    st.builds(Compare, st.sampled_from(["==", "!="]), text_values, text_values),
    st.builds(
        Member,
        number_values,
        st.lists(small_numbers, min_size=1, max_size=3).map(tuple),
        st.booleans(),
    ),
    st.builds(
        Member,
        text_values,
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(tuple),
        st.booleans(),
    ),
    st.builds(Missing, st.one_of(number_values, text_values), st.booleans()),
)
typed_conditions = st.recursive(
    typed_predicates,
    lambda inner: st.one_of(
        inner.map(Not),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=6,
)


# --- the reference: Kleene logic as min/max over {0, 1/2, 1}, one row at a time -----------

MISSING = object()
UNKNOWN = 0.5


def cell(frame: pd.DataFrame, column: str, k: int) -> Any:
    value = frame[column].iloc[k]
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, np.bool_ | bool):
        return float(value)
    if isinstance(value, np.integer | int):
        return float(value)  # small integers: exact as floats
    if isinstance(value, np.floating):
        return float(value)
    return value


def ref_value(node: Any, frame: pd.DataFrame, k: int) -> Any:
    if isinstance(node, Number):
        return float(node.value)
    if isinstance(node, Text):
        return node.value
    if isinstance(node, Field):
        return cell(frame, node.name, k)
    if isinstance(node, Negate):
        inner = ref_value(node.operand, frame, k)
        return MISSING if inner is MISSING else -inner
    left, right = ref_value(node.left, frame, k), ref_value(node.right, frame, k)
    if left is MISSING or right is MISSING:
        return MISSING
    if node.op == "/":
        if right == 0:
            return MISSING
        result = left / right
    else:
        result = {"+": left + right, "-": left - right, "*": left * right}[node.op]
    return MISSING if math.isnan(result) else result


def ref_truth(node: Any, frame: pd.DataFrame, k: int) -> float:
    """1 true, 0 false, 0.5 unknown."""
    if isinstance(node, Not):
        return 1 - ref_truth(node.operand, frame, k)
    if isinstance(node, And):
        return min(ref_truth(item, frame, k) for item in node.items)
    if isinstance(node, Or):
        return max(ref_truth(item, frame, k) for item in node.items)
    if isinstance(node, Missing):
        missing = ref_value(node.operand, frame, k) is MISSING
        return float(missing != node.negated)
    if isinstance(node, Member):
        value = ref_value(node.operand, frame, k)
        if value is MISSING:
            return UNKNOWN
        found = any(
            value == (item if isinstance(item, str) else float(item)) for item in node.values
        )
        return float(found != node.negated)
    left, right = ref_value(node.left, frame, k), ref_value(node.right, frame, k)
    if left is MISSING or right is MISSING:
        return UNKNOWN
    ops = {
        "<": left < right if not isinstance(left, str) else None,
        "<=": left <= right if not isinstance(left, str) else None,
        ">": left > right if not isinstance(left, str) else None,
        ">=": left >= right if not isinstance(left, str) else None,
        "==": left == right,
        "!=": left != right,
    }
    return float(ops[node.op])
