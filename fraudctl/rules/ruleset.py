"""A parsed rule set in decision order: the first rule that fires decides.

Built from params.yaml's ``rules:`` entries (anything with ``name``, ``when``, ``action``
and ``priority``), so this package never needs the params loader. A saved model carries its
rule set as :meth:`RuleSet.to_json` text (``rules.json`` in the model's payload), read back
with :meth:`RuleSet.from_json`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fraudctl.rules.nodes import Condition, fields, format_condition
from fraudctl.rules.syntax import parse

ACTIONS = ("block", "review", "allow")
RULES_FORMAT = 1


@dataclass(frozen=True)
class Rule:
    name: str
    condition: Condition
    action: str  # block | review | allow
    priority: int = 0
    text: str = ""  # the condition as written in params.yaml
    description: str = ""  # why the rule exists, for the card and the analyst

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
                description=str(getattr(entry, "description", "") or ""),
            )
            for entry in entries
        )

    def records(self) -> list[dict[str, Any]]:
        """The rules as written (condition text, not the tree), in decision order."""
        return [
            {
                "name": rule.name,
                "when": rule.text or format_condition(rule.condition),
                "action": rule.action,
                "priority": rule.priority,
                "description": rule.description,
            }
            for rule in self.rules
        ]

    def to_json(self) -> str:
        """The rule set as a model saves it: stable text (equal rule sets, equal bytes)."""
        document = {"format": RULES_FORMAT, "rules": self.records()}
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RuleSet:
        """Read :meth:`to_json` text; a condition that does not parse raises the parser's
        error, anything else malformed a ValueError."""
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("format") != RULES_FORMAT:
            raise ValueError(f"rules format is not {RULES_FORMAT}")
        entries = document.get("rules")
        if not isinstance(entries, list):
            raise ValueError("'rules' is not a list")
        listed = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("when"), str):
                raise ValueError(f"rule {entry!r}: expected name, when, action, priority")
            listed.append(
                Rule(
                    name=str(entry["name"]),
                    condition=parse(entry["when"]),
                    action=str(entry["action"]),
                    priority=int(entry.get("priority", 0)),
                    text=entry["when"],
                    description=str(entry.get("description", "")),
                )
            )
        return cls.of(listed)

    def digest(self) -> str:
        """SHA-256 of :meth:`to_json`: the rule set's identity (empty: no rules)."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest() if self else ""

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
