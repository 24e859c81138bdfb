"""The rule language's syntax tree, and its canonical text.

Frozen dataclasses: the parser (:mod:`fraudctl.rules.syntax`) builds them, the evaluator
and the field check walk them, and :func:`format_condition` writes one back as text that
parses to the same tree. No fraudctl imports: the params loader reaches this through the
parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

KEYWORDS = frozenset({"and", "or", "not", "in", "is", "missing"})


@dataclass(frozen=True)
class Number:
    value: int | float


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Negate:
    operand: Value


@dataclass(frozen=True)
class Arithmetic:
    op: str  # + - * /
    left: Value
    right: Value


@dataclass(frozen=True)
class Compare:
    op: str  # < <= > >= == !=
    left: Value
    right: Value


@dataclass(frozen=True)
class Member:
    operand: Value
    values: tuple[int | float | str, ...]
    negated: bool = False

    @cached_property
    def lookup(self) -> MemberSets:
        """The list as sets, built once: a deny list of 10,000 card ids is one hash
        look-up per row, not 10,000 comparisons."""
        ints = frozenset(v for v in self.values if isinstance(v, int))
        floats = frozenset(v for v in self.values if isinstance(v, float))
        return MemberSets(
            texts=frozenset(v for v in self.values if isinstance(v, str)),
            ints=ints,
            floats=floats,
            ints_as_floats=frozenset(float(v) for v in ints),
        )


@dataclass(frozen=True)
class MemberSets:
    """An ``in`` list by type. An integer matches an integer exactly and a decimal number
    as a float64 (as numpy compares them); text matches text only."""

    texts: frozenset[str]
    ints: frozenset[int]
    floats: frozenset[float]
    ints_as_floats: frozenset[float]

    def __contains__(self, value: object) -> bool:
        if isinstance(value, str):
            return value in self.texts
        if isinstance(value, int):
            return value in self.ints or float(value) in self.floats
        if isinstance(value, float):
            return value in self.floats or value in self.ints_as_floats
        return False


@dataclass(frozen=True)
class Missing:
    operand: Value
    negated: bool = False


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class And:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Condition, ...]


Value = Number | Text | Field | Negate | Arithmetic
Condition = Compare | Member | Missing | Not | And | Or


def fields(node: Value | Condition) -> list[str]:
    """The field names a condition reads, in order of first appearance."""
    found: dict[str, None] = {}

    def walk(item: object) -> None:
        if isinstance(item, Field):
            found[item.name] = None
        elif isinstance(item, Negate | Not):
            walk(item.operand)
        elif isinstance(item, Arithmetic | Compare):
            walk(item.left)
            walk(item.right)
        elif isinstance(item, Member | Missing):
            walk(item.operand)
        elif isinstance(item, And | Or):
            for child in item.items:
                walk(child)

    walk(node)
    return list(found)


# --- back to text ------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _literal(value: int | float | str) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def _field(name: str) -> str:
    if _IDENTIFIER.match(name) and name.lower() not in KEYWORDS:
        return name
    return f"`{name}`"


def _value(node: Value, parent: int = 0, right: bool = False) -> str:
    """Precedence: sum 1, product 2, unary 3; a right operand of equal precedence keeps
    its parentheses (a - (b - c) is not (a - b) - c)."""
    if isinstance(node, Number):
        text = _literal(node.value)
        return f"({text})" if node.value < 0 and parent >= 2 else text
    if isinstance(node, Text):
        return _literal(node.value)
    if isinstance(node, Field):
        return _field(node.name)
    if isinstance(node, Negate):
        return "-" + _value(node.operand, 3)
    level = 1 if node.op in ("+", "-") else 2
    text = f"{_value(node.left, level)} {node.op} {_value(node.right, level, right=True)}"
    return f"({text})" if level < parent or (right and level == parent) else text


def format_condition(node: Condition, parent: str = "") -> str:
    """Canonical text of a condition: ``parse(format_condition(c)) == c``."""
    if isinstance(node, Compare):
        return f"{_value(node.left)} {node.op} {_value(node.right)}"
    if isinstance(node, Member):
        listed = ", ".join(_literal(v) for v in node.values)
        return f"{_value(node.operand)} {'not in' if node.negated else 'in'} [{listed}]"
    if isinstance(node, Missing):
        return f"{_value(node.operand)} is {'not missing' if node.negated else 'missing'}"
    if isinstance(node, Not):
        inner = node.operand
        text = format_condition(inner, "not")
        return f"not ({text})" if isinstance(inner, And | Or) else f"not {text}"
    word = "and" if isinstance(node, And) else "or"
    text = f" {word} ".join(format_condition(item, word) for item in node.items)
    # an Or inside an And, and any nesting of the same kind, keeps its parentheses
    needs = parent == "and" or (parent == "or" and word == "or")
    return f"({text})" if needs else text
