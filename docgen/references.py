"""References that must resolve: a pointer to a page or a section that no longer exists
sends a reader nowhere, so the manual's test fails on it.

Checked, in code, params files, the Makefile, monitoring rules, workflows and the docs:

- "README:" then a section name (or "README," then one): a heading of README.md;
- "docs:" then a page title or a section name: the title or a heading of a page in docs/;
- a path under docs/ ending in ``.md``, with or without ``#anchor``: the file, and a
  heading with that anchor;

and in the docs and the README:

- ``see *Section*``: a heading of the same page (another page is a link, which
  ``mkdocs build --strict`` checks);
- "below" and "above" used as references: ``*Section* below`` (a heading after it on the
  page), "the table below/above" (a table after/before it), "the example/command(s)
  below" (a code block after it). Any other "below"/"above" that is not a comparison
  ("above 0.2", "below `min_card_precision`", "below the median") names nothing a reader
  can find, and fails.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from docgen import numbers

SOURCES = (
    "fraudctl/**/*.py",
    "benchmarks/**/*.py",
    "dags/**/*.py",
    "docgen/**/*.py",
    "params.yaml",
    "examples/**/params.yaml",
    "Makefile",
    "monitoring/**/*.yml",
    "monitoring/**/*.yaml",
    "dvc.yaml",
    ".github/workflows/*.yml",
    "pyproject.toml",
    "README.md",
    "docs/**/*.md",
)
README_REF = re.compile(
    r"\bREADME(?:\s*:\s*|,\s+|\s+\()\"?(?P<target>[A-Z][^()\"\n;:]*?)\"?\s*(?=[)\n;]|\.\s|\.$|$)"
)
DOCS_REF = re.compile(r"\bdocs:\s+(?P<target>[A-Z][^()\n;:]*?)\s*(?=[)\n;]|\.\s|\.$|$)")
DOCS_PATH = re.compile(r"(?<![\w/.-])docs/(?P<path>[\w/.-]+\.md)(?:#(?P<anchor>[\w-]+))?")
SEE_ITALIC = re.compile(r"\bsee \*(?P<target>[^*]+?)\*(?:\s+(?P<where>below|above)\b)?")
NAMED = re.compile(r"\*(?P<target>[^*]+?)\*\s+(?P<where>below|above)\b")
THE_THING = re.compile(
    r"\bthe (?P<thing>table|example|command|commands|block|list) (?P<where>below|above)\b"
)
DIRECTION = re.compile(r"\b(?P<where>below|above)\b")
# "below"/"above" as comparisons: followed by a number, code, or a named level
COMPARISON = re.compile(
    r"^\s*(?:the\s+)?(?:[\d`±]|median|its\b|it\b|a\b|an\b|half\b|zero\b|one\b|that\b|"
    r"this\b|which\b|level\b|limit\b|target\b|threshold\b|[A-Z][\w-]*\s+[\d`])"
)
HEADING = re.compile(r"^(#{1,6})\s+(?P<text>.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Broken:
    file: str
    line: int
    reference: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reference!r}: {self.problem}"


def slug(text: str) -> str:
    """The anchor mkdocs (Python-Markdown's toc) gives a heading."""
    text = re.sub(r"[`*_]|<[^>]+>", "", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def headings(text: str) -> list[tuple[int, str]]:
    """(offset, heading text) of a Markdown page, outside code fences."""
    clean = numbers._blank(numbers.CODE_FENCE, text)
    return [(m.start(), re.sub(r"[`*]", "", m["text"]).strip()) for m in HEADING.finditer(clean)]


def _same(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return " ".join(text.split()).strip(" .\"'").casefold()

    return norm(a) == norm(b)


def files(root: Path) -> list[Path]:
    """The files references are checked in: tracked or new, never ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    present = {Path(name) for name in listed if (root / name).is_file()}
    chosen = {p for p in present if any(p.match(g) or _glob(p, g) for g in SOURCES)}
    return sorted(chosen)


def _glob(path: Path, pattern: str) -> bool:
    if "**/" not in pattern:
        return False
    head, tail = pattern.split("**/", 1)
    return str(path).startswith(head) and Path(path.name).match(tail)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def check(root: Path) -> list[Broken]:
    readme = (root / "README.md").read_text(encoding="utf-8")
    readme_headings = [h for _, h in headings(readme)]
    docs = {p: p.read_text(encoding="utf-8") for p in sorted((root / "docs").rglob("*.md"))}
    docs_headings = [h for text in docs.values() for _, h in headings(text)]
    broken: list[Broken] = []
    for relative in files(root):
        text = (root / relative).read_text(encoding="utf-8", errors="replace")
        broken += list(_file_references(root, str(relative), text, readme_headings, docs_headings))
        if relative.suffix == ".md":
            broken += list(_page_references(str(relative), text))
    return broken


def _file_references(
    root: Path, name: str, text: str, readme_headings: list[str], docs_headings: list[str]
) -> Iterator[Broken]:
    for match in README_REF.finditer(text):
        target = match["target"]
        if not any(_same(target, h) for h in readme_headings):
            yield Broken(name, _line(text, match.start()), match[0], "no such README heading")
    for match in DOCS_REF.finditer(text):
        target = match["target"]
        if not any(_same(target, h) for h in docs_headings):
            yield Broken(name, _line(text, match.start()), match[0], "no such page or heading")
    for match in DOCS_PATH.finditer(text):
        page = root / "docs" / match["path"]
        where = _line(text, match.start())
        if not page.is_file():
            yield Broken(name, where, match[0], "no such file")
        elif match["anchor"]:
            anchors = {slug(h) for _, h in headings(page.read_text(encoding="utf-8"))}
            if match["anchor"] not in anchors:
                yield Broken(name, where, match[0], "no heading with that anchor")


def _page_references(name: str, text: str) -> Iterator[Broken]:
    """In-page references of a Markdown page: see *X*, X below/above, the table below."""
    prose = numbers.prose(text)
    marks = headings(text)
    used: set[int] = set()
    for pattern in (SEE_ITALIC, NAMED):
        for match in pattern.finditer(prose):
            target, where = match["target"], match["where"] or ""
            used.add(match.start("where") if where else -1)
            found = [at for at, h in marks if _same(target, h)]
            line = _line(text, match.start())
            if not found:
                yield Broken(name, line, match[0], "no heading of this page has that name")
            elif where == "below" and not any(at > match.start() for at in found):
                yield Broken(name, line, match[0], "the heading is not below")
            elif where == "above" and not any(at < match.start() for at in found):
                yield Broken(name, line, match[0], "the heading is not above")
    for match in THE_THING.finditer(prose):
        used.add(match.start("where"))
        after = prose[match.end() :] if match["where"] == "below" else prose[: match.start()]
        kind = match["thing"]
        ok = (
            re.search(r"^\|.*\|\s*$", after, re.M)
            if kind == "table"
            else re.search(
                r"^\s*(```|~~~)",
                text[match.end() :] if match["where"] == "below" else text[: match.start()],
                re.M,
            )
            if kind in {"example", "command", "commands", "block"}
            else re.search(r"^\s*[-*\d]+[.)]?\s", after, re.M)
        )
        if not ok:
            yield Broken(name, _line(text, match.start()), match[0], f"no {kind} there")
    for match in DIRECTION.finditer(prose):
        if match.start() in used or COMPARISON.match(text[match.end() :]):
            continue
        context = " ".join(prose[max(0, match.start() - 40) : match.end() + 20].split())
        yield Broken(
            name,
            _line(text, match.start()),
            context,
            f"'{match['where']}' names nothing a reader can find: name the section "
            "(*Heading* below), the table, or link to the page",
        )
