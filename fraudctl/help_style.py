"""Three corrections to how Typer (0.29) renders ``--help``, applied once at import.

Typer prints the value type after every option, flags included, so ``--help`` reads
``--help <bool>`` though it takes no value; and it wraps required arguments in braces in
the usage line (``fraudctl promote [OPTIONS] {VERSION}``), which reads like a template
placeholder. fraudctl's help shows flags bare and required arguments as ``VERSION``, as
Click and most command-line tools do. And ``typer.rich_utils``, which renders every help
page, imports ``rich.markdown`` (markdown-it, Pygments) and ``rich.traceback`` at its top: a
third of ``fraudctl --help``'s time, for Markdown help text fraudctl does not use and
tracebacks it does not prettify; the help pages import it with stand-ins that load the
real classes on first use. Each patch checks that the method it wraps exists, so another
Typer version renders its own way rather than failing; the help tests say which.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# Modules typer.rich_utils imports at its top for one class each, used only for Markdown
# help text and pretty tracebacks: the stand-in class loads the real one when first used.
DEFERRED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


class _Deferred(type):
    """The metaclass of a stand-in: calls and attributes go to the real class, imported on
    first use (``Traceback.from_exception(...)`` as well as ``Markdown(text)``)."""

    _module: str
    _name: str

    def real(cls) -> Any:
        return getattr(importlib.import_module(cls._module), cls._name)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls.real(), name)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls.real())


def import_rich_utils_lightly() -> None:
    """Import ``typer.rich_utils`` with stand-ins for the classes of :data:`DEFERRED` whose
    modules are not loaded yet; the stand-ins leave ``sys.modules`` right after, so any
    other import of those modules gets the real ones."""
    if "typer.rich_utils" in sys.modules:
        return
    stand_ins: dict[str, types.ModuleType] = {}
    for module_name, class_name in DEFERRED.items():
        if module_name in sys.modules:
            continue
        stand_in = types.ModuleType(module_name)
        deferred = _Deferred(class_name, (), {"_module": module_name, "_name": class_name})
        setattr(stand_in, class_name, deferred)
        stand_ins[module_name] = stand_in
    sys.modules.update(stand_ins)
    try:
        importlib.import_module("typer.rich_utils")
    finally:
        for module_name, stand_in in stand_ins.items():
            if sys.modules.get(module_name) is stand_in:
                del sys.modules[module_name]


def apply() -> None:
    from typer import core

    for kind in ("TyperCommand", "TyperGroup"):
        cls = getattr(core, kind, None)
        original_help = getattr(cls, "format_help", None)
        if original_help is not None and not getattr(original_help, "_fraudctl", False):
            cls.format_help = _lightly(original_help)

    option = getattr(core, "TyperOption", None)
    original_type = getattr(option, "display_type_rich", None)
    if original_type is not None and not getattr(original_type, "_fraudctl", False):

        def display_type_rich(self: Any, ctx: Any) -> str | None:
            if getattr(self, "is_flag", False) and self.metavar is None:
                return None  # a flag takes no value: no type to show
            return original_type(self, ctx)

        display_type_rich._fraudctl = True  # type: ignore[attr-defined]
        option.display_type_rich = display_type_rich

    argument = getattr(core, "TyperArgument", None)
    original_usage = getattr(argument, "_usage_display_name", None)
    if original_usage is not None and not getattr(original_usage, "_fraudctl", False):

        def _usage_display_name(self: Any) -> str:
            name = original_usage(self)
            if name.startswith("{") and "}" in name:  # required: VERSION, not {VERSION}
                name = name[1:].replace("}", "", 1)
            return name

        _usage_display_name._fraudctl = True  # type: ignore[attr-defined]
        argument._usage_display_name = _usage_display_name


def _lightly(format_help: Any) -> Any:
    def wrapped(self: Any, ctx: Any, formatter: Any) -> Any:
        import_rich_utils_lightly()
        return format_help(self, ctx, formatter)

    wrapped._fraudctl = True  # type: ignore[attr-defined]
    return wrapped
