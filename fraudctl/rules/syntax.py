"""The rule language: a hand-written tokenizer and recursive-descent parser into a small AST.

A rule's condition is text in params.yaml, reviewed like code but never run as code:
nothing here calls ``eval``, ``exec`` or ``compile``; the parser accepts only the grammar
below and builds frozen dataclasses that :mod:`fraudctl.rules.evaluate` interprets.

    condition  := disjunction
    disjunction:= conjunction ("or" conjunction)*
    conjunction:= negation ("and" negation)*
    negation   := "not" negation | predicate
    predicate  := "(" condition ")"
                | sum ("<" | "<=" | ">" | ">=" | "==" | "!=") sum
                | sum ["not"] "in" "[" literal ("," literal)* [","] "]"
                | sum "is" ["not"] "missing"
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | atom
    atom       := NUMBER | STRING | FIELD | `any field name` | "(" sum ")"

Keywords (``and or not in is missing``) are case-insensitive; a field whose name is a
keyword or is not an identifier is written between backticks. Strings take single or
double quotes with ``\\`` escaping the quote and itself. Every error names the column
where the text stops making sense. This module and its tree (:mod:`fraudctl.rules.nodes`)
import no other fraudctl module, so the typed params loader can refuse an unparseable rule
with its key path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fraudctl.rules.nodes import (
    KEYWORDS,
    And,
    Arithmetic,
    Compare,
    Condition,
    Field,
    Member,
    Missing,
    Negate,
    Not,
    Number,
    Or,
    Text,
    Value,
)

COMPARISONS = ("<=", ">=", "==", "!=", "<", ">")
ARITHMETIC = ("+", "-", "*", "/")
MAX_INT = 2**63 - 1
MAX_DEPTH = 40  # parentheses: the parser recurses, and no rule needs more
# operators people type from other languages, and what this language spells them
_SUGGEST = {
    "=": "==",
    "=>": ">=",
    "=<": "<=",
    "<>": "!=",
    "&&": "and",
    "&": "and",
    "||": "or",
    "|": "or",
    "!": "not",
}


class RuleSyntaxError(ValueError):
    """Text that is not a rule condition; ``column`` is 1-based."""

    def __init__(self, message: str, column: int, hint: str = "") -> None:
        super().__init__(f"{message} at column {column}" + (f" ({hint})" if hint else ""))
        self.column = column


# --- tokens ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # number | string | name | field | keyword | op | end
    text: str
    value: object
    column: int


_NUMBER = re.compile(r"(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE = re.compile(r"\s+")
_OPERATOR = re.compile(r"[<>=!&|]+|[-+*/(),\[\]]")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    at = depth = 0
    while at < len(text):
        char = text[at]
        column = at + 1
        if char.isspace():
            space = _SPACE.match(text, at)
            at = space.end() if space else at + 1
            continue
        if number := _NUMBER.match(text, at):
            if (end := number.end()) < len(text) and (text[end].isalnum() or text[end] == "_"):
                raise RuleSyntaxError(f"unexpected {text[at : end + 1]!r}", column)
            tokens.append(Token("number", number.group(), _number(number, column), column))
            at = number.end()
        elif name := _NAME.match(text, at):
            word = name.group()
            kind = "keyword" if word.lower() in KEYWORDS else "name"
            tokens.append(Token(kind, word, word.lower() if kind == "keyword" else word, column))
            at = name.end()
        elif char in "\"'":
            value, at = _string(text, at)
            tokens.append(Token("string", text[column - 1 : at], value, column))
        elif char == "`":
            end = text.find("`", at + 1)
            if end < 0:
                raise RuleSyntaxError("a field name in backticks is not closed", column)
            if end == at + 1:
                raise RuleSyntaxError("an empty field name", column)
            tokens.append(Token("field", text[at : end + 1], text[at + 1 : end], column))
            at = end + 1
        elif operator := _OPERATOR.match(text, at):
            word = operator.group()
            if word not in COMPARISONS and word not in "+-*/(),[]":
                hint = f"write {_SUGGEST[word]!r}" if word in _SUGGEST else ""
                raise RuleSyntaxError(f"unknown operator {word!r}", column, hint)
            depth += {"(": 1, ")": -1}.get(word, 0)
            if depth > MAX_DEPTH:
                raise RuleSyntaxError(f"parentheses nested more than {MAX_DEPTH} deep", column)
            tokens.append(Token("op", word, word, column))
            at = operator.end()
        else:
            raise RuleSyntaxError(f"unexpected character {char!r}", column)
    tokens.append(Token("end", "", None, len(text) + 1))
    return tokens


def _number(match: re.Match[str], column: int) -> int | float:
    text = match.group()
    if match.group(2) is None and "." not in text:
        value = int(text)
        if value > MAX_INT:
            raise RuleSyntaxError(f"the integer {text} is larger than 2**63 - 1", column)
        return value
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise RuleSyntaxError(f"the number {text} is too large", column)
    return number


def _string(text: str, start: int) -> tuple[str, int]:
    quote, at, out = text[start], start + 1, []
    while at < len(text):
        char = text[at]
        if char == "\\" and at + 1 < len(text) and text[at + 1] in (quote, "\\"):
            out.append(text[at + 1])
            at += 2
        elif char == quote:
            return "".join(out), at + 1
        else:
            out.append(char)
            at += 1
    raise RuleSyntaxError("a string is not closed", start + 1)


# --- the parser --------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.at = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def accept(self, kind: str, text: str) -> bool:
        token = self.token
        if token.kind == kind and token.value == text:
            self.at += 1
            return True
        return False

    def expect(self, kind: str, text: str, what: str) -> None:
        if not self.accept(kind, text):
            self.fail(f"expected {what}")

    def fail(self, expected: str) -> None:
        token = self.token
        found = "the end of the condition" if token.kind == "end" else repr(token.text)
        raise RuleSyntaxError(f"{expected}, found {found}", token.column)

    def condition(self) -> Condition:
        items = [self.conjunction()]
        while self.accept("keyword", "or"):
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self) -> Condition:
        items = [self.negation()]
        while self.accept("keyword", "and"):
            items.append(self.negation())
        return items[0] if len(items) == 1 else And(tuple(items))

    def negation(self) -> Condition:
        if self.accept("keyword", "not"):
            return Not(self.negation())
        return self.predicate()

    def predicate(self) -> Condition:
        if self.token.kind == "op" and self.token.value == "(":
            # "(" opens a condition or a value: try the condition, fall back to a value
            # that a comparison continues, e.g. "(amount + 1) * 2 > 10"
            start, first = self.at, None
            try:
                self.take()
                inner = self.condition()
                self.expect("op", ")", "')'")
                if not self._continues_value():
                    return inner
            except RuleSyntaxError as exc:
                first = exc
            self.at = start
            try:
                return self._value_predicate()
            except RuleSyntaxError as exc:  # report whichever reading got further
                raise exc if first is None or exc.column >= first.column else first from None
        return self._value_predicate()

    def _value_predicate(self) -> Condition:
        left = self.sum()
        token = self.token
        if token.kind == "op" and token.value in COMPARISONS:
            self.take()
            return Compare(str(token.value), left, self.sum())
        if self.accept("keyword", "is"):
            negated = self.accept("keyword", "not")
            self.expect("keyword", "missing", "'missing'")
            return Missing(left, negated)
        negated = self.accept("keyword", "not")
        if negated or (self.token.kind == "keyword" and self.token.value == "in"):
            self.expect("keyword", "in", "'in'")
            return Member(left, self.literal_list(), negated)
        self.fail("expected a comparison (< <= > >= == !=), 'in' or 'is missing'")
        raise AssertionError  # pragma: no cover - fail() raises

    def _continues_value(self) -> bool:
        token = self.token
        return token.kind == "op" and (token.value in COMPARISONS or token.value in ARITHMETIC)

    def literal_list(self) -> tuple[int | float | str, ...]:
        column = self.token.column
        self.expect("op", "[", "'[' opening a list")
        values: list[int | float | str] = []
        while not (self.token.kind == "op" and self.token.value == "]"):
            values.append(self.literal())
            if not self.accept("op", ","):
                break
        self.expect("op", "]", "',' or ']'")
        if not values:
            raise RuleSyntaxError("an empty list", column)
        if len({isinstance(v, str) for v in values}) > 1:
            raise RuleSyntaxError("a list mixes numbers and strings", column)
        return tuple(values)

    def literal(self) -> int | float | str:
        sign = -1 if self.accept("op", "-") else 1
        token = self.token
        if token.kind == "number":
            self.take()
            return sign * token.value  # type: ignore[operator]
        if token.kind == "string" and sign == 1:
            self.take()
            return str(token.value)
        self.fail("expected a number or a string")
        raise AssertionError  # pragma: no cover

    def sum(self) -> Value:
        left = self.product()
        while self.token.kind == "op" and self.token.value in ("+", "-"):
            op = str(self.take().value)
            left = Arithmetic(op, left, self.product())
        return left

    def product(self) -> Value:
        left = self.unary()
        while self.token.kind == "op" and self.token.value in ("*", "/"):
            op = str(self.take().value)
            left = Arithmetic(op, left, self.unary())
        return left

    def unary(self) -> Value:
        if self.accept("op", "-"):
            operand = self.unary()
            if isinstance(operand, Number):
                return Number(-operand.value)
            return Negate(operand)
        return self.atom()

    def atom(self) -> Value:
        token = self.token
        if token.kind == "number":
            self.take()
            return Number(token.value)  # type: ignore[arg-type]
        if token.kind == "string":
            self.take()
            return Text(str(token.value))
        if token.kind in ("name", "field"):
            self.take()
            return Field(str(token.value))
        if self.accept("op", "("):
            inner = self.sum()
            self.expect("op", ")", "')'")
            return inner
        if token.kind == "keyword":
            raise RuleSyntaxError(
                f"unexpected keyword {token.text!r}",
                token.column,
                f"a field of that name is written `{token.text}`",
            )
        self.fail("expected a number, a string or a field name")
        raise AssertionError  # pragma: no cover


def parse(text: str) -> Condition:
    """The condition's AST, or RuleSyntaxError naming the column."""
    if not isinstance(text, str):
        raise RuleSyntaxError(f"expected text, got {type(text).__name__}", 1)
    if not text.strip():
        raise RuleSyntaxError("the condition is empty", 1)
    parser = _Parser(text)
    condition = parser.condition()
    if parser.token.kind != "end":
        parser.fail("expected 'and', 'or' or the end of the condition")
    return condition
