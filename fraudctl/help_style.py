"""Two corrections to how Typer (0.29) renders ``--help``, applied once at import.

Typer prints the value type after every option, flags included, so ``--help`` reads
``--help <bool>`` though it takes no value; and it wraps required arguments in braces in
the usage line (``fraudctl promote [OPTIONS] {VERSION}``), which reads like a template
placeholder. fraudctl's help shows flags bare and required arguments as ``VERSION``, as
Click and most command-line tools do. Each patch checks that the method it wraps exists,
so another Typer version renders its own way rather than failing; the help tests say
which.
"""

from __future__ import annotations

from typing import Any


def apply() -> None:
    from typer import core

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
