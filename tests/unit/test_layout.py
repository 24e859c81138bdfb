"""dvc.yaml and fraudctl.paths.ProjectPaths describe the same files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fraudctl.config import load_params
from fraudctl.model.headline import HEADLINE_FILE
from fraudctl.paths import SPLITS, ProjectPaths
from tests.conftest import REPO_ROOT


def _entries(items: list) -> set[str]:
    return {next(iter(i)) if isinstance(i, dict) else i for i in items}


def test_stage_outputs_are_the_paths_the_code_writes():
    pipeline = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())
    stages = pipeline["stages"]
    paths = ProjectPaths()
    assert _entries(stages["prepare"]["outs"]) == {
        paths.prepared_dir.as_posix(),
        paths.data_report.as_posix(),
    }
    assert "metrics" not in stages["prepare"]  # row counts and schema: detail, not a metric
    assert _entries(stages["features"]["outs"]) == {paths.features_dir.as_posix()}
    assert {paths.features_file(s).as_posix() for s in ("train", "validation")} <= _entries(
        stages["train"]["deps"]
    )
    assert _entries(stages["train"]["outs"]) == {
        paths.model_dir.as_posix(),
        paths.train_report.as_posix(),
    }
    emissions = {s: f"reports/emissions/{s}.json" for s in ("train", "poison", "fairness", "drift")}
    # One metrics file, the card's headline: DVC's views get a column per metric name.
    metrics_files = {name: _entries(s["metrics"]) for name, s in stages.items() if "metrics" in s}
    assert metrics_files == {"card": {(paths.reports_dir / HEADLINE_FILE).as_posix()}}
    assert paths.features_file(SPLITS[2]).as_posix() in _entries(stages["evaluate"]["deps"])
    assert paths.metrics_file.as_posix() in _entries(stages["evaluate"]["outs"])
    assert paths.plots_dir.as_posix() in _entries(stages["evaluate"]["outs"])
    # Each chart is declared once: curve data only in the top-level `plots:` section.
    drawn = [file for plot in pipeline["plots"] for spec in plot.values() for file in spec["y"]]
    for name in ("pr_curve", "roc_curve", "calibration", "confusion"):
        assert drawn.count((paths.plots_dir / f"{name}.csv").as_posix()) == 1
    staged = [_entries(stage.get("plots", [])) for stage in stages.values()]
    assert not any(path.endswith(".csv") for paths_ in staged for path in paths_)
    assert len(drawn) == len(set(drawn))
    # energy files change on every run: neither an output nor a dep of any stage
    declared = set()
    for stage in stages.values():
        for kind in ("deps", "outs", "metrics"):
            declared |= _entries(stage.get(kind, []))
    assert not set(emissions.values()) & declared
    assert _entries(stages["card"]["outs"]) == {"reports/model_card.md"}
    for experiment in ("poison", "fairness", "drift"):
        headline = (paths.experiment_dir(experiment) / "metrics.json").as_posix()
        assert headline in _entries(stages[experiment]["outs"])
        results = (paths.experiment_dir(experiment) / "results.json").as_posix()
        assert results in _entries(stages[experiment]["outs"])


PARAMS_FILES = ["params.yaml", "examples/transactions/params.yaml"]


@pytest.mark.parametrize("name", PARAMS_FILES)
def test_stage_params_exist_in_the_params_files(name):
    """DVC reads the file itself, not fraudctl's defaults: every key a stage names must be
    written out, or `dvc repro` stops with "Parameters ... are missing"."""
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    raw = yaml.safe_load((REPO_ROOT / name).read_text())
    load_params(REPO_ROOT / name)  # and it is valid
    for stage in stages.values():
        for key in stage.get("params", []):
            node = raw
            for part in key.split("."):
                assert isinstance(node, dict) and part in node, f"{name}: {key} is missing"
                node = node[part]


STAGE_MODULES = {
    "prepare": "fraudctl/data/prepare.py",
    "features": "fraudctl/features/build.py",
    "train": "fraudctl/model/train.py",
    "evaluate": "fraudctl/model/evaluate.py",
    "poison": "fraudctl/experiments/poison.py",
    "fairness": "fraudctl/experiments/fairness.py",
    "drift": "fraudctl/experiments/drift.py",
    "card": "fraudctl/model/card.py",
}
# Modules that cannot change a stage's outputs: messages, progress, the MLflow side channel.
NO_OUTPUT_EFFECT = {
    "fraudctl/__init__.py",
    "fraudctl/errors.py",
    "fraudctl/progress.py",
    "fraudctl/tracking.py",
}


def _imports(module: Path) -> set[str]:
    """fraudctl modules imported by ``module`` (at any depth in the file), as repo paths."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if not name.startswith("fraudctl"):
                continue
            base = REPO_ROOT / Path(*name.split("."))
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.exists() and candidate.stat().st_size:
                    found.add(candidate.relative_to(REPO_ROOT).as_posix())
    return found


def _closure(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo += _imports(REPO_ROOT / current)
    return seen


def test_stage_deps_name_every_module_the_stage_imports():
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    for stage, entry in STAGE_MODULES.items():
        deps = _entries(stages[stage]["deps"])
        missing = sorted(
            module
            for module in _closure(entry) - NO_OUTPUT_EFFECT
            if not any(module == d or module.startswith(d.rstrip("/") + "/") for d in deps)
        )
        assert not missing, f"stage {stage}: add to deps in dvc.yaml: {missing}"


# --- layers: no import cycles, and the library layers never import the doors above them ---

LOW_LAYERS = ("fraudctl.data", "fraudctl.features", "fraudctl.model")
HIGH_LAYERS = ("fraudctl.distributed", "fraudctl.serve", "fraudctl.ui", "fraudctl.cli")


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere (function bodies included, not
    ``if TYPE_CHECKING:`` blocks)."""
    import ast

    modules = {}
    for path in package.rglob("*.py"):
        name = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path

    def resolve(target: str) -> str | None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        is_package = path.name == "__init__.py"

        def visit(
            node: ast.AST, name: str = name, is_package: bool = is_package, found: set = found
        ) -> None:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                for child in node.orelse:
                    visit(child)
                return
            if isinstance(node, ast.Import):
                found.update(resolve(a.name) for a in node.names if a.name.startswith("fraudctl"))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = name.split(".") if is_package else name.split(".")[:-1]
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                if base.startswith("fraudctl"):
                    for alias in node.names:
                        full = f"{base}.{alias.name}"
                        found.add(resolve(full) if full in modules else resolve(base))
            for child in ast.iter_child_nodes(node):
                visit(child)

        visit(ast.parse(path.read_text(encoding="utf-8")))
        graph[name] = {t for t in found if t and t != name and not name.startswith(t + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def strong(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                strong(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in graph:
        if node not in index:
            strong(node)
    return found


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    def within(module: str, layers: tuple[str, ...]) -> bool:
        return any(module == layer or module.startswith(layer + ".") for layer in layers)

    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if within(module, LOW_LAYERS) and within(target, HIGH_LAYERS)
    )


def test_the_package_has_no_import_cycles_and_no_upward_imports():
    graph = import_graph(REPO_ROOT / "fraudctl")
    assert not cycles(graph), cycles(graph)
    assert not upward_imports(graph), upward_imports(graph)


def test_the_layer_check_sees_a_cycle_and_an_upward_import(tmp_path):
    package = tmp_path / "fraudctl"
    for folder in ("model", "serve"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "model" / "a.py").write_text("def f():\n    from fraudctl.serve import b\n")
    (package / "serve" / "b.py").write_text("from fraudctl.model.a import f\n")
    graph = import_graph(package)
    assert cycles(graph) == [["fraudctl.model.a", "fraudctl.serve.b"]]
    assert upward_imports(graph) == ["fraudctl.model.a -> fraudctl.serve.b"]


# --- rooms of one job: a module past ~400 lines is doing two jobs -----------------------

MAX_MODULE_LINES = 410
# declarative: one typed class per params.yaml section, read top to bottom as a reference
DECLARATIVE_MODULES = {"fraudctl/config.py"}


def test_no_module_outgrows_one_job():
    oversized = {
        path.relative_to(REPO_ROOT).as_posix(): lines
        for path in (REPO_ROOT / "fraudctl").rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
        and path.relative_to(REPO_ROOT).as_posix() not in DECLARATIVE_MODULES
    }
    assert not oversized, f"split these modules (lines): {oversized}"
