"""The package's layout: dvc.yaml and the paths the code writes, each stage's code deps,
the layers and their one-way imports, and modules of one job."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fraudctl.config import load_params
from fraudctl.paths import SPLITS, ProjectPaths
from fraudctl.stages.headline import HEADLINE_FILE
from tests.conftest import REPO_ROOT
from tests.stage_deps import STAGE_MODULES, code_deps


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


def test_stage_deps_name_exactly_the_modules_the_stage_imports():
    """A stage reruns when code it runs changes, and only then (tests/stage_deps.py:
    ``python -m tests.stage_deps --write`` rewrites the lists)."""
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    assert set(STAGE_MODULES) == set(stages), "every DVC stage has its module in fraudctl/stages"
    for stage in STAGE_MODULES:
        deps = sorted(d for d in _entries(stages[stage]["deps"]) if d.startswith("fraudctl/"))
        assert deps == code_deps(stage), (
            f"stage {stage}: dvc.yaml deps differ from its imports; run "
            "`python -m tests.stage_deps --write`"
        )


def test_every_stage_command_runs_its_stage_module():
    """dvc.yaml's command and the module whose imports are its deps are the same stage."""
    import inspect

    from typer.main import get_command

    from fraudctl.cli import app

    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    root = get_command(app)
    for stage, module in STAGE_MODULES.items():
        words = stages[stage]["cmd"].split()[1:]
        command = root
        for word in words:
            command = command.commands[word]  # type: ignore[attr-defined]
        callback = inspect.unwrap(command.callback)
        body = inspect.getsource(callback)
        dotted = module.removesuffix(".py").replace("/", ".")
        name = dotted.rsplit(".", 1)[1]
        assert f"fraudctl.stages import {name} as stage" in body or dotted in body, (
            f"`{stages[stage]['cmd']}` does not call {dotted}"
        )


# --- layers: each package on its own floor, imports only point down ------------------------

# Lowest first. A module may import modules of its own layer and of layers below it; nothing
# imports upward, `if TYPE_CHECKING:` imports included (ARCHITECTURE.md: layers and engines).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "utilities",
        (
            "fraudctl",
            "fraudctl.errors",
            "fraudctl.sections",
            "fraudctl.progress",
            "fraudctl.faults",
            "fraudctl.io",
            "fraudctl.table_writer",
            "fraudctl.numbers",
            "fraudctl.capacity",
            "fraudctl.help_style",
            "fraudctl.paths",
            "fraudctl.durations",
            "fraudctl.webclient",
            "fraudctl.store_uri",
        ),
    ),
    # the rules' language: a parser and evaluator over plain columns, imports only errors
    ("rules", ("fraudctl.rules",)),
    ("config", ("fraudctl.config",)),
    ("data", ("fraudctl.data",)),
    ("features", ("fraudctl.features",)),
    ("model", ("fraudctl.model",)),
    ("experiments", ("fraudctl.experiments",)),
    ("distributed", ("fraudctl.distributed",)),
    ("alerts", ("fraudctl.alerts",)),
    ("services", ("fraudctl.tracking", "fraudctl.emissions")),
    ("stages", ("fraudctl.stages",)),
    ("loop", ("fraudctl.loop",)),
    ("serve", ("fraudctl.serve",)),
    ("stream", ("fraudctl.stream",)),
    ("operations", ("fraudctl.release", "fraudctl.shadow_report", "fraudctl.report")),
    ("ui", ("fraudctl.ui",)),
    ("cli", ("fraudctl.cli", "fraudctl.cli_reference", "fraudctl.__main__")),
)
LIBRARIES = ("data", "features", "model", "experiments", "distributed", "rules", "alerts")


def layer_of(module: str) -> int:
    """The index in LAYERS of the most specific entry that holds ``module``."""
    best, length = None, -1
    for index, (_, members) in enumerate(LAYERS):
        for member in members:
            inside = module == member or module.startswith(member + ".")
            if inside and len(member) > length and (member != "fraudctl" or module == member):
                best, length = index, len(member)
    if best is None:
        raise AssertionError(f"{module}: not in any layer of tests/unit/test_layout.py LAYERS")
    return best


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere: function bodies and
    ``if TYPE_CHECKING:`` blocks included (a typing-only import is still a dependency)."""
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
        found: set[str | None] = set()
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
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
    return sorted(
        f"{module} ({LAYERS[layer_of(module)][0]}) -> {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in graph.items()
        for target in targets
        if layer_of(target) > layer_of(module)
    )


def test_the_package_has_no_import_cycles_and_no_upward_imports():
    graph = import_graph(REPO_ROOT / "fraudctl")
    assert not cycles(graph), cycles(graph)
    assert not upward_imports(graph), upward_imports(graph)


def test_the_layer_check_sees_a_cycle_and_an_upward_import(tmp_path):
    package = tmp_path / "fraudctl"
    for folder in ("model", "serve", "data"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "model" / "a.py").write_text("def f():\n    from fraudctl.serve import b\n")
    (package / "serve" / "b.py").write_text("from fraudctl.model.a import f\n")
    # a typing-only import counts too
    (package / "data" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from fraudctl.model import a\n"
    )
    graph = import_graph(package)
    assert cycles(graph) == [["fraudctl.model.a", "fraudctl.serve.b"]]
    assert upward_imports(graph) == [
        "fraudctl.data.c (data) -> fraudctl.model.a (model)",
        "fraudctl.model.a (model) -> fraudctl.serve.b (serve)",
    ]


def _takes_whole_params(path: Path) -> list[str]:
    """Functions in ``path`` with a parameter annotated ``Params`` (the whole object)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            for argument in arguments:
                if (
                    argument.annotation is not None
                    and ast.unparse(argument.annotation).strip("'\"") == "Params"
                ):
                    found.append(f"{path.relative_to(REPO_ROOT)}:{node.name}({argument.arg})")
    return found


def test_no_library_function_takes_the_whole_params():
    """A library gets the sections it reads, so dvc.yaml can list exactly those."""
    offenders = [
        hit
        for library in LIBRARIES
        for path in sorted((REPO_ROOT / "fraudctl" / library).rglob("*.py"))
        for hit in _takes_whole_params(path)
    ]
    assert not offenders, offenders


def test_the_params_module_imports_no_library():
    """Utilities and the rules' parser (which imports nothing else) only."""
    graph = import_graph(REPO_ROOT / "fraudctl")
    config = layer_of("fraudctl.config")
    assert all(layer_of(t) < config for t in graph["fraudctl.config"]), graph["fraudctl.config"]


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
