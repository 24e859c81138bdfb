"""Measured numbers stated by hand: the check behind "every number from a file".

A measured number is a duration, a rate, a memory or disk size, a speed-up, or a model
metric's value (PR-AUC, recall, ...). One written outside a generated block is a copy
that goes stale the day the benchmark is rerun, so the manual's test fails on it. Settings
and targets are not measurements: a number directly after ``≤``, ``≥``, "target",
"every", "for", "up to", "timeout" and the like is left alone, as is anything in code
(spans and fenced blocks: commands, configuration, example output) and in HTML comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from docgen import blocks

NUMBER = r"(?<![\w.-])\d[\d,]*(?:\.\d+)?"
UNIT = (
    r"(?:µs|us|ms|s|sec|seconds?|min|minutes?|h|hours?|KiB|MiB|GiB|TiB|kB|KB|MB|GB|TB|"
    r"req/s|requests/s|rows/s|requests a second|rows a second)"
)
MEASURED = [
    re.compile(rf"{NUMBER}(?:\s*(?:–|-|to)\s*{NUMBER})?\s?{UNIT}(?![\w/])"),
    re.compile(rf"{NUMBER}\s?×"),  # a speed-up
    re.compile(r"(?<![\w.])\d+\.\d+ times\b"),
    re.compile(
        r"\b(?:PR-AUC|ROC-AUC|recall|precision|F1|PSI|equali[sz]ed-odds difference)"
        r"(?: [a-z@0-9%]+){0,3}(?: of| from| is| was|:)?\s+(?:about\s+)?0\.\d{2,}"
    ),
    re.compile(r"(?<![\w.])0\.\d{3,}\b(?= (?:against|vs|→|->|PR-AUC|ROC-AUC))"),
    re.compile(rf"{NUMBER}(?:–{NUMBER})? ?% (?:faster|slower|margin|miss|more|less)\b"),
]
# a number right after one of these is a setting, a limit or a target, not a measurement
QUALIFIER = re.compile(
    r"(?:≤|≥|<=|>=|<|>|\btarget(?:s)?:?|\bat most|\bat least|\bup to|\bevery|\bfor|\beach|"
    r"\btimeout|\blimit|\bbudget|\bdefault|\bwithin|\bover|\bunder|\bbelow|\babove|"
    r"\bcapped at|\bmax(?:imum)?|\bof the|\bbeyond)\s*(?:of\s+|about\s+)?$",
    re.IGNORECASE,
)
CODE_FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
LINK_TARGET = re.compile(r"\]\([^)]*\)")


@dataclass(frozen=True)
class Finding:
    line: int
    text: str
    context: str


def _blank(pattern: re.Pattern[str], text: str) -> str:
    """Replace matches by spaces (newlines kept), so offsets and line numbers stay put."""
    return pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def prose(text: str) -> str:
    """What a person wrote and a reader reads as running text."""
    text = blocks.outside(text)
    for pattern in (CODE_FENCE, COMMENT, CODE_SPAN, LINK_TARGET):
        text = _blank(pattern, text)
    return text


def findings(text: str) -> list[Finding]:
    """Every measured-looking number outside generated blocks and code."""
    clean = prose(text)
    found: dict[int, Finding] = {}
    for pattern in MEASURED:
        for match in pattern.finditer(clean):
            # the words right before the (first) number: "PR-AUC within 0.05" is a tolerance
            number = re.search(r"\d", match.group(0))
            at = match.start() + (number.start() if number else 0)
            if QUALIFIER.search(clean[max(0, at - 30) : at]):
                continue
            line = clean.count("\n", 0, match.start()) + 1
            start = clean.rfind("\n", 0, match.start()) + 1
            end = clean.find("\n", match.end())
            context = " ".join(clean[start : end if end >= 0 else None].split())
            found.setdefault(match.start(), Finding(line, match.group(0), context))
    return [found[k] for k in sorted(found)]
