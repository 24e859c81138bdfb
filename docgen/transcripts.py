"""Walkthrough transcripts (``benchmarks/results/walkthrough_*.json``) as console blocks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from docgen import fmt
from docgen.results import load

WRAPPED = 95  # a line this long filled the recording's 100-column terminal


def shown(output: str, show: dict[str, Any]) -> list[str]:
    """The lines a page shows of one command's output; ``…`` where lines were left out."""
    lines = output.rstrip("\n").splitlines()
    if "grep" in show:
        pattern = re.compile(show["grep"])
        kept: list[int] = []
        for i, line in enumerate(lines):
            if pattern.search(line):
                kept.append(i)
                j = i  # a line the terminal wrapped goes on in the next ones
                while j + 1 < len(lines) and len(lines[j]) >= WRAPPED:
                    j += 1
                    kept.append(j)
        out: list[str] = []
        previous = -1
        for i in sorted(set(kept)):
            if any(line.strip() for line in lines[previous + 1 : i]):  # blank lines: no gap
                out.append("…")
            out.append(lines[i])
            previous = i
        if kept and any(line.strip() for line in lines[previous + 1 :]):
            out.append("…")
        return out
    head, tail = show.get("head"), show.get("tail")
    if (head is None and tail is None) or len(lines) <= (head or 0) + (tail or 0):
        return lines
    return [*lines[: head or 0], "…", *(lines[-tail:] if tail else [])]


def transcript(root: Path, name: str) -> str:
    result = load(root, f"walkthrough_{name}")
    body = []
    for step in result.rows:
        body.append("$ " + step["command"].replace("\n", "\n> "))
        if step.get("output"):
            body += shown(step["output"], step.get("show", {}))
    total = sum(step.get("seconds") or 0 for step in result.rows)
    took = f"The commands took {fmt.seconds(total)} in all."
    return "\n\n".join(["```console\n" + "\n".join(body) + "\n```", f"{took} {result.source}"])
