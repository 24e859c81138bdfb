"""Generated blocks: ``<!-- generated:NAME -->`` ... ``<!-- /generated -->`` in Markdown.

HTML comments render as nothing on GitHub and on the mkdocs site, so a page shows the
block's committed content on both. A block whose opening marker ends its line is a block
of Markdown (a table, a paragraph); one that opens and closes on the same line is inline
(a number inside a sentence).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

BLOCK = re.compile(
    r"<!-- generated:(?P<name>[\w.-]+) -->(?P<body>.*?)<!-- /generated -->", re.DOTALL
)


@dataclass(frozen=True)
class Block:
    name: str
    body: str
    start: int  # offsets of the whole block, markers included
    end: int

    @property
    def inline(self) -> bool:
        return not self.body.startswith("\n")


def find(text: str) -> Iterator[Block]:
    for match in BLOCK.finditer(text):
        yield Block(match["name"], match["body"], match.start(), match.end())


def outside(text: str) -> str:
    """The page with every block blanked to spaces (offsets and line numbers kept): what a
    person wrote."""

    def blank(match: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    return BLOCK.sub(blank, text)


def fill(text: str, render: Callable[[str], str]) -> str:
    """The page with every block re-rendered by ``render(name)``."""

    def replace(match: re.Match[str]) -> str:
        name, body = match["name"], match["body"]
        content = render(name).strip("\n")
        if body.startswith("\n"):
            content = f"\n{content}\n"
        elif "\n" in content:
            raise ValueError(f"generated:{name} is inline but renders several lines")
        return f"<!-- generated:{name} -->{content}<!-- /generated -->"

    return BLOCK.sub(replace, text)


def pages(root: Path) -> list[Path]:
    """The Markdown a reader meets: the README and every page of the manual."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
