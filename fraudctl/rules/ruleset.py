"""A parsed rule set in decision order: the first rule that fires decides.

Built from params.yaml's ``rules:`` entries (anything with ``name``, ``when``, ``action``
and ``priority``), so this package never needs the params loader.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fraudctl.rules.nodes import Condition, fields, format_condition
from fraudctl.rules.syntax import parse

ACTIONS = ("block", "review", "allow")


@dataclass(frozen=True)
class Rule:
    name: str
    condition: Condition
    action: str  # block | review | allow
    priority: int = 0
    text: str = ""  # the condition as written in params.yaml

    @property
    def fields(self) -> list[str]:
        return fields(self.condition)

    def describe(self) -> str:
        """What an analyst reads as the reason: the rule's name and its condition."""
        return f"{self.name}: {self.text or format_condition(self.condition)}"


@dataclass(frozen=True)
class RuleSet:
    """Rules sorted by priority, highest first; equal priorities keep their listed order."""

    rules: tuple[Rule, ...] = ()

    @classmethod
    def of(cls, rules: Iterable[Rule]) -> RuleSet:
        listed = list(rules)
        names = [rule.name for rule in listed]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"two rules named {repeated[0]!r}")
        unknown = [rule.action for rule in listed if rule.action not in ACTIONS]
        if unknown:
            raise ValueError(f"unknown action {unknown[0]!r}; expected one of {ACTIONS}")
        order = sorted(range(len(listed)), key=lambda k: (-listed[k].priority, k))
        return cls(tuple(listed[k] for k in order))

    @classmethod
    def from_params(cls, entries: Iterable[Any]) -> RuleSet:
        """From params.yaml's ``rules:`` (validated there, so parsing cannot fail here)."""
        return cls.of(
            Rule(
                name=str(entry.name),
                condition=parse(entry.when),
                action=str(entry.action),
                priority=int(entry.priority),
                text=str(entry.when),
            )
            for entry in entries
        )

    def __len__(self) -> int:
        return len(self.rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    @property
    def names(self) -> list[str]:
        return [rule.name for rule in self.rules]

    @property
    def fields(self) -> list[str]:
        """Every field any rule reads, in decision order of first use."""
        found: dict[str, None] = {}
        for rule in self.rules:
            found.update(dict.fromkeys(rule.fields))
        return list(found)
