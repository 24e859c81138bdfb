"""Block name -> Markdown: the one table every generated block is rendered through."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from docgen import params_reference, results, serving_tables, tables, transcripts

RENDERERS: dict[str, Callable[[Path], str]] = {
    "newcomer.summary": tables.newcomer_summary,
    "install.sizes": tables.install_sizes,
    "pipeline.quality": tables.pipeline_quality,
    "pipeline.stages": tables.pipeline_stages,
    "pipeline.findings": tables.pipeline_findings,
    "families.table": tables.families_table,
    "families.reading": tables.families_reading,
    "families.ceiling": tables.families_ceiling,
    "tune.summary": tables.tune_summary,
    "budget.search": tables.budget_search,
    "budget.reading": tables.budget_reading,
    "ui.summary": tables.ui_summary,
    "continuous.policies": tables.continuous_policies,
    "continuous.summary": tables.continuous_summary,
    "continuous.reading": tables.continuous_reading,
    "load.table": serving_tables.load_table,
    "serving.single": serving_tables.serving_single,
    "serving.batch": serving_tables.serving_batch,
    "serving.registry": serving_tables.serving_registry,
    "transactions.table": serving_tables.transactions_table,
    "transactions.kernel": serving_tables.transactions_kernel,
    "dask.table": serving_tables.dask_table,
    "feature_store.table": serving_tables.feature_store_table,
    "measured": results.measured_page,
    "walkthrough.first-run": partial(transcripts.transcript, name="first_run"),
    "walkthrough.continuous": partial(transcripts.transcript, name="continuous"),
    "walkthrough.own-data": partial(transcripts.transcript, name="own_data"),
    "params.reference": params_reference.page,
}


def result_table(root: Path, name: str) -> str:
    """``generated:table.NAME``: a result file's rows as tables, with where they came from
    (for results that need no prose around them)."""
    result = results.load(root, name)
    layout = results.LAYOUTS.get(name, results.generic_table)
    targets = f"Targets: {result.targets}" if result.targets else ""
    return "\n\n".join(filter(None, [layout(result.rows), targets, result.source]))


def render(root: Path, name: str) -> str:
    try:
        if name.startswith("table."):
            renderer = partial(result_table, name=name.removeprefix("table."))
        else:
            renderer = RENDERERS[name]
    except KeyError:
        raise KeyError(f"no renderer for generated:{name} (docgen/render.py)") from None
    try:
        return renderer(root)
    except results.Missing as missing:
        return str(missing)
