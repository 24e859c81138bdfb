"""The params.yaml reference: every key of the parameter models, walked, not written by hand.

For each key: its type, default, allowed values (``Literal`` choices and numeric bounds),
what it does and which DVC stages depend on it (``dvc.yaml``'s ``params:`` lists). What it
does comes from the first of: the field's ``Field(description=...)``, the key's comment in
params.yaml (or an example's params file, for sections params.yaml leaves out), and the
comment beside or above the field in its model's source. ``python -m docgen --missing``
lists the keys that have none of the three.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from docgen import fmt

PARAMS_FILES = (
    "params.yaml",
    "examples/transactions/params.yaml",
    "examples/continuous/params.yaml",
)
# sections no DVC stage lists, and the commands that read them
COMMANDS = {
    "tune": "`fraudctl tune`",
    "continuous": "`fraudctl simulate`, `fraudctl cycle`",
}


@dataclass(frozen=True)
class Key:
    path: str
    type: str
    default: str
    allowed: str
    description: str
    stages: str


# -- types, defaults, bounds ------------------------------------------------------------


def _args(annotation: Any) -> tuple[Any, ...]:
    return typing.get_args(annotation)


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _strip(annotation: Any) -> tuple[Any, list[Any]]:
    """The annotation without ``Annotated`` wrappers, and their metadata."""
    metadata: list[Any] = []
    while typing.get_origin(annotation) is typing.Annotated:
        annotation, *extra = _args(annotation)
        metadata += extra
    return annotation, metadata


def _validators(metadata: list[Any]) -> set[str]:
    return {getattr(getattr(m, "func", None), "__name__", "") for m in metadata}


def type_name(annotation: Any, metadata: list[Any] = ()) -> str:  # type: ignore[assignment]
    annotation, more = _strip(annotation)
    metadata = [*metadata, *more]
    names = _validators(metadata)
    if "_duration" in names:
        return "duration (`30s`, `12h`, `7d`)"
    if "_memory" in names:
        return "size (`512MiB`, `2GiB`)"
    if annotation is type(None):
        return "null"
    if typing.get_origin(annotation) is Literal:
        return "text"
    if _is_union(annotation):
        return " or ".join(dict.fromkeys(type_name(a) for a in _args(annotation)))
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        return f"list of {type_name(_args(annotation)[0])}"
    if origin is dict:
        return f"mapping of {type_name(_args(annotation)[1])}"
    if annotation is typing.Any:
        return "any"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    return {int: "integer", float: "number", str: "text", bool: "true or false"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))


def allowed(annotation: Any, metadata: list[Any] = ()) -> str:  # type: ignore[assignment]
    annotation, more = _strip(annotation)
    metadata = [*metadata, *more]
    # a Field(...) inside a union (``Annotated[float, Field(gt=0)] | None``) keeps its
    # bounds in its own metadata
    metadata = [m for item in metadata for m in (item, *getattr(item, "metadata", ()))]
    parts: list[str] = []
    for item in metadata:
        for attribute, sign in BOUNDS:
            bound = getattr(item, attribute, None)
            if bound is not None:
                parts.append(f"{sign} {value(bound)}")
        pattern = getattr(item, "pattern", None)
        if pattern:
            parts.append(f"matches `{pattern}`")
        min_length = getattr(item, "min_length", None)
        if min_length:
            parts.append(f"at least {min_length} item(s)")
    if typing.get_origin(annotation) is Literal:
        parts.append(" \\| ".join(f"`{value(a)}`" for a in _args(annotation)))
    elif _is_union(annotation) or typing.get_origin(annotation) in (list, tuple):
        inner = [allowed(a) for a in _args(annotation) if a is not type(None)]
        parts += [p for p in inner if p]
    return ", ".join(dict.fromkeys(parts))


def value(item: Any) -> str:
    """A value as params.yaml spells it."""
    if isinstance(item, BaseModel):
        item = item.model_dump(by_alias=True)
    text = yaml.safe_dump(item, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def default_of(field: Any) -> str:
    if field.is_required():
        return "(required)"
    found = field.get_default(call_default_factory=True)
    if isinstance(found, BaseModel):
        return "(its keys' defaults)"
    if isinstance(found, dict) and any(isinstance(v, BaseModel | dict) for v in found.values()):
        return "(see below)"
    return f"`{value(found)}`"


# -- descriptions -----------------------------------------------------------------------


def yaml_comments(text: str) -> dict[str, str]:
    """Key path -> the comment beside the key, or the comment lines just above it."""
    found: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    above: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("# ").rstrip())
            continue
        match = re.match(r"^(\s*)([A-Za-z_][\w-]*):(.*)$", line)
        if not match:
            above = [] if not stripped else above
            continue
        indent, key, rest = len(match[1]), match[2], match[3]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([*(k for _, k in stack), key])
        stack.append((indent, key))
        beside = comment_of(rest)
        comment = beside if beside else " ".join(above)
        if comment:
            found[path] = comment
        above = []
    return found


def comment_of(line: str) -> str | None:
    """The text after a line's ``#`` comment sign, if any (a ``#`` inside quotes is text)."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[i + 1 :].strip()
    return None


def source_comments(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> the comment beside or just above it in the model's class body."""
    try:
        lines = inspect.getsource(model).splitlines()
    except (OSError, TypeError):
        return {}
    found: dict[str, str] = {}
    above: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("# ").rstrip())
            continue
        match = re.match(r"^\s+(\w+)\s*:", line)
        if match and match[1] in model.model_fields:
            beside = comment_of(line)
            comment = beside if beside else " ".join(above)
            if comment:
                found[match[1]] = comment
        above = []
    return found


def first_line(docstring: str | None) -> str:
    if not docstring:
        return ""
    text = " ".join(inspect.cleandoc(docstring).split("\n\n")[0].split())
    text = re.sub(r":\w+:`([^`]+)`", r"`\1`", text)  # Sphinx roles read as plain code
    return text.replace("``", "`")


# -- the walk ---------------------------------------------------------------------------


class Walk:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.comments: dict[str, str] = {}
        for name in reversed(PARAMS_FILES):  # params.yaml's own comment wins
            path = root / name
            if path.exists():
                self.comments |= yaml_comments(path.read_text(encoding="utf-8"))
        stages = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
        self.stage_params = {
            stage: [p for p in spec.get("params", []) if isinstance(p, str)]
            for stage, spec in stages.items()
        }

    def stages(self, path: str) -> str:
        readers = [
            f"`{stage}`"
            for stage, listed in self.stage_params.items()
            if any(path == p or path.startswith(p + ".") for p in listed)
        ]
        if readers:
            return ", ".join(readers)
        return COMMANDS.get(path.split(".")[0], "–")

    def keys(self, model: type[BaseModel], prefix: str) -> Iterator[tuple[str, Key | str]]:
        """(section path, Key) for each key, and (section path, docstring) for each section."""
        from fraudctl.config import ComputeParams, ModelParams

        comments = source_comments(model)
        yield prefix, first_line(model.__doc__)
        nested: list[tuple[str, type[BaseModel]]] = []
        for name, field in model.model_fields.items():
            if model in (ModelParams, ComputeParams) and name == "blocks":
                continue  # the blocks their owners check, walked below from the owners
            path = f"{prefix}.{field.alias or name}" if prefix else field.alias or name
            annotation, metadata = field.annotation, list(field.metadata)
            inner = self._section(annotation)
            description = self._describe(path, name, field, comments)
            if inner is ModelParams and prefix:  # the poisoning grid's own model block
                description = description or "a model block with the keys of `model`"
                yield prefix, self._key(path, field, annotation, metadata, description)
                continue
            if inner is None:
                yield prefix, self._key(path, field, annotation, metadata, description)
                continue
            depth = self._mapping_depth(annotation)
            if depth or _is_union(_strip(annotation)[0]):  # a mapping of sections, or optional
                yield prefix, self._key(path, field, annotation, metadata, description)
            names = PLACEHOLDERS.get(path, ["<name>"] * depth)
            nested.append((".".join([path, *names]), inner))
        if model is ModelParams:
            from fraudctl.model.families import FAMILIES

            nested += [(f"{prefix}.{name}", entry.params) for name, entry in FAMILIES.items()]
        if model is ComputeParams:
            from fraudctl.distributed.settings import DaskParams

            nested.append((f"{prefix}.dask", DaskParams))
        for path, inner in nested:
            yield from self.keys(inner, path)

    @staticmethod
    def _section(annotation: Any) -> type[BaseModel] | None:
        """The section class an annotation holds, however deep in unions and mappings."""
        pending = [annotation]
        while pending:
            candidate, _ = _strip(pending.pop())
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                return candidate
            pending += list(_args(candidate))
        return None

    @staticmethod
    def _mapping_depth(annotation: Any) -> int:
        depth = 0
        annotation, _ = _strip(annotation)
        while typing.get_origin(annotation) is dict:
            depth += 1
            annotation, _ = _strip(_args(annotation)[1])
        return depth

    def _describe(self, path: str, name: str, field: Any, comments: dict[str, str]) -> str:
        for text in (field.description, self.comments.get(path), comments.get(name)):
            if text:
                return " ".join(text.split()).replace("|", "\\|")
        return ""

    def _key(
        self, path: str, field: Any, annotation: Any, metadata: list[Any], description: str
    ) -> Key:
        return Key(
            path=path,
            type=type_name(annotation, metadata),
            default=default_of(field),
            allowed=allowed(annotation, metadata) or self._family_names(path),
            description=description,
            stages=self.stages(re.sub(r"\.<[a-z]+>.*$", "", path)),
        )

    @staticmethod
    def _family_names(path: str) -> str:
        if path in {"model.name", "selection.candidates"} or path.endswith(".members"):
            from fraudctl.model.families import FAMILIES

            return " \\| ".join(f"`{name}`" for name in FAMILIES)
        if path == "compute.engine":
            from fraudctl.stages.engines import ENGINES

            return " \\| ".join(f"`{name}`" for name in ENGINES)
        return ""


PLACEHOLDERS = {
    "features.entities": ["<role>"],
    "tune.search_space": ["<family>", "<parameter>"],
}


def _top() -> type[BaseModel]:
    from fraudctl.config import Params

    return Params


def collect(root: Path) -> list[tuple[str, Key | str]]:
    return list(Walk(root).keys(_top(), ""))


def page(root: Path) -> str:
    """Every section as a heading and a table of its keys."""
    sections: dict[str, tuple[str, list[Key]]] = {}
    for section, item in collect(root):
        doc, keys = sections.setdefault(section, ("", []))
        if isinstance(item, Key):
            keys.append(item)
        elif item and not doc:
            sections[section] = (item, keys)
    out = []
    for section, (doc, keys) in sections.items():
        if not section:
            continue
        level = "##" if "." not in section else "###"
        out += [f"{level} `{section}`", ""]
        if doc:
            out += [doc, ""]
        if not keys:
            continue
        rows = [
            (
                f"`{k.path.removeprefix(section + '.')}`",
                k.type,
                k.default,
                k.allowed or "–",
                k.description or "–",
                k.stages,
            )
            for k in keys
        ]
        out += [
            fmt.table(["key", "type", "default", "allowed", "what it does", "DVC stages"], rows),
            "",
        ]
    return "\n".join(out).rstrip()


def missing(root: Path) -> list[str]:
    """Keys with no description anywhere (field, params file, source comment)."""
    return [
        item.path for _, item in collect(root) if isinstance(item, Key) and not item.description
    ]
