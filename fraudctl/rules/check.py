"""Rules against a model's fields: an unknown field or a type mismatch is refused with the
rule's key path, when a stage or a server loads params and a model together.

A field is a raw input column of the model's contract or a feature its transform computes
(history windows, calendar, relative amounts); each has a kind:

- ``number``: numeric columns and every computed feature;
- ``text``: categorical and id columns holding text (compared with ``==``, ``!=``, ``in``);
- ``time``: the time column, which rules compare through the calendar features instead.

The label is never a field: it is not known when a transaction is scored.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from fraudctl.errors import ConfigError
from fraudctl.rules.nodes import (
    Compare,
    Condition,
    Field,
    Member,
    Missing,
    Negate,
    Number,
    Text,
    Value,
    format_condition,
)
from fraudctl.rules.ruleset import RuleSet

KINDS = ("number", "text", "time")


def kind_of_dtype(dtype: str) -> str:
    """The kind of a column from its pandas dtype's name."""
    name = dtype.lower()
    if name.startswith(("datetime", "timedelta")):
        return "time"
    if name.startswith(("int", "uint", "float", "bool")):
        return "number"
    return "text"


def model_fields(
    raw_columns: Iterable[tuple[str, str, str]], feature_columns: Iterable[str]
) -> list[tuple[str, str]]:
    """(name, kind) pairs a model offers rules: its contract's raw columns as (name, role,
    dtype), then the computed feature columns that are not raw columns."""
    out: dict[str, str] = {}
    for name, role, dtype in raw_columns:
        if role == "label":
            continue
        if role == "time":
            out[name] = "time"
        elif role in ("numeric", "amount"):
            out[name] = "number"
        else:  # categorical, entity: as their values are
            out[name] = kind_of_dtype(dtype)
    for name in feature_columns:
        out.setdefault(name, "number")
    return list(out.items())


class _Mismatch(Exception):
    pass


def check_rules(rules: RuleSet, fields: Sequence[tuple[str, str]], where: str = "rules") -> None:
    """Raise ConfigError naming ``{where}.{rule}.when`` at the first unknown field or type
    mismatch; a rule set that passes can be evaluated on rows with these fields."""
    kinds = dict(fields)
    for name, kind in kinds.items():
        if kind not in KINDS:
            raise ValueError(f"field {name!r}: unknown kind {kind!r} (expected {KINDS})")
    for rule in rules.rules:
        path = f"{where}.{rule.name}.when"
        for name in rule.fields:
            if name not in kinds:
                close = difflib.get_close_matches(name, list(kinds), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                known = ", ".join(sorted(kinds)) or "none"
                raise ConfigError(
                    f"{path}: unknown field {name!r}{hint}; this model's fields: {known}"
                )
        try:
            _condition(rule.condition, kinds)
        except _Mismatch as exc:
            raise ConfigError(f"{path}: {exc}") from None


def _value(node: Value, kinds: dict[str, str]) -> str:
    if isinstance(node, Number):
        return "number"
    if isinstance(node, Text):
        return "text"
    if isinstance(node, Field):
        return kinds[node.name]
    operands = [node.operand] if isinstance(node, Negate) else [node.left, node.right]
    for operand in operands:
        kind = _value(operand, kinds)
        if kind != "number":
            what = "-" if isinstance(node, Negate) else node.op  # type: ignore[union-attr]
            raise _Mismatch(f"{_describe(operand, kind)} in arithmetic ({what}) is not a number")
    return "number"


def _describe(node: Value, kind: str) -> str:
    if isinstance(node, Field):
        return f"field {node.name!r} ({kind})"
    if isinstance(node, Text):
        return f"the string {node.value!r}"
    return f"a {kind}"


def _time_hint(node: Value, kind: str) -> str:
    if kind == "time":
        return (
            f"{_describe(node, kind)} is the time column; compare the calendar features "
            "(hour, is_night, is_weekend) or a *_seconds_since_previous feature instead"
        )
    return ""


def _condition(node: Condition, kinds: dict[str, str]) -> None:
    if isinstance(node, Compare):
        left, right = _value(node.left, kinds), _value(node.right, kinds)
        for operand, kind in ((node.left, left), (node.right, right)):
            if hint := _time_hint(operand, kind):
                raise _Mismatch(hint)
        if node.op in ("==", "!="):
            if left != right:
                raise _Mismatch(
                    f"{format_condition(node)!r} compares {_describe(node.left, left)} with "
                    f"{_describe(node.right, right)}"
                )
        else:
            for operand, kind in ((node.left, left), (node.right, right)):
                if kind != "number":
                    raise _Mismatch(
                        f"{format_condition(node)!r}: {_describe(operand, kind)} has no order; "
                        "text compares with ==, != or in"
                    )
    elif isinstance(node, Member):
        kind = _value(node.operand, kinds)
        if hint := _time_hint(node.operand, kind):
            raise _Mismatch(hint)
        listed = "text" if isinstance(node.values[0], str) else "number"
        if kind != listed:
            raise _Mismatch(
                f"{format_condition(node)!r}: {_describe(node.operand, kind)} against a list "
                f"of {'strings' if listed == 'text' else 'numbers'}"
            )
    elif isinstance(node, Missing):
        _value(node.operand, kinds)
    elif hasattr(node, "operand"):
        _condition(node.operand, kinds)
    else:
        for item in node.items:
            _condition(item, kinds)
