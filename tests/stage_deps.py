"""The code each DVC stage runs, from its entry module's imports, and dvc.yaml kept to it.

``dvc.yaml`` names, for every stage, each fraudctl module the stage's command imports (at
any depth, lazily or not): DVC then reruns a stage exactly when code it runs has changed,
and editing, say, the PyTorch network leaves ``prepare`` up to date. The test in
``tests/unit/test_layout.py`` holds the file to this; ``python -m tests.stage_deps --write``
rewrites the lists after a change of imports.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# stage -> the module its command runs (fraudctl/stages/, one module per stage)
STAGE_MODULES = {
    "prepare": "fraudctl/stages/prepare.py",
    "features": "fraudctl/stages/features.py",
    "train": "fraudctl/stages/train.py",
    "evaluate": "fraudctl/stages/evaluate.py",
    "poison": "fraudctl/stages/poison.py",
    "fairness": "fraudctl/stages/fairness.py",
    "drift": "fraudctl/stages/drift.py",
    "card": "fraudctl/stages/card.py",
}
# Modules that cannot change a stage's outputs: messages, progress, the MLflow side channel
# and the energy meter (whose files are neither outputs nor deps).
NO_OUTPUT_EFFECT = {
    "fraudctl/__init__.py",
    "fraudctl/errors.py",
    "fraudctl/progress.py",
    "fraudctl/tracking.py",
    "fraudctl/emissions.py",
    "fraudctl/faults.py",
}


def imports(module: Path) -> set[str]:
    """fraudctl modules imported by ``module`` (anywhere in the file, ``TYPE_CHECKING``
    blocks included), as repository paths."""
    found = set()
    tree = ast.parse(module.read_text(encoding="utf-8"))
    package = module.relative_to(REPO_ROOT).with_suffix("").parts
    if module.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = list(package[: len(package) - node.level + 1])
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if not name.startswith("fraudctl"):
                continue
            parts = name.split(".")
            # a package's __init__ runs too when one of its modules is imported
            for depth in range(1, len(parts) + 1):
                base = REPO_ROOT / Path(*parts[:depth])
                for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                    if candidate.exists() and candidate.stat().st_size:  # an empty one runs nothing
                        found.add(candidate.relative_to(REPO_ROOT).as_posix())
    return found


def closure(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo += imports(REPO_ROOT / current)
    return seen


def code_deps(stage: str) -> list[str]:
    return sorted(closure(STAGE_MODULES[stage]) - NO_OUTPUT_EFFECT)


_STAGE = re.compile(r"^  (\w+):\s*$")


def rewrite(text: str) -> str:
    """dvc.yaml with each stage's ``fraudctl/`` deps replaced by :func:`code_deps`."""
    out: list[str] = []
    stage = None
    in_deps = False
    written = False
    for line in text.splitlines(keepends=True):
        match = _STAGE.match(line)
        if match:
            stage, in_deps, written = match.group(1), False, False
        elif line.startswith("    deps:"):
            in_deps = True
        elif line.startswith("    ") and not line.startswith("    -"):
            in_deps = False
        if in_deps and stage in STAGE_MODULES and line.startswith("    - fraudctl/"):
            if not written:
                out += [f"    - {path}\n" for path in code_deps(stage)]
                written = True
            continue
        out.append(line)
    return "".join(out)


if __name__ == "__main__":
    target = REPO_ROOT / "dvc.yaml"
    updated = rewrite(target.read_text(encoding="utf-8"))
    if "--write" in sys.argv:
        target.write_text(updated, encoding="utf-8")
    else:
        sys.stdout.write(updated)
