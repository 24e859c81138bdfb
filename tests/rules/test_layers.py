"""Where the rules and the queue sit: the parser imports nothing of fraudctl (the params
loader uses it), the rules library only errors, and the queue no door above it (the store
URI opener it shares with the online store is a leaf beside the errors)."""

from __future__ import annotations

from tests.conftest import REPO_ROOT
from tests.unit.test_layout import import_graph


def imports_of(graph: dict[str, set[str]], package: str) -> set[str]:
    return {t for m, targets in graph.items() if m.startswith(package) for t in targets}


def test_the_rules_and_the_queue_import_only_what_is_below_them():
    graph = import_graph(REPO_ROOT / "fraudctl")
    assert graph["fraudctl.rules.nodes"] == set()
    assert graph["fraudctl.rules.syntax"] == {"fraudctl.rules.nodes"}
    outside = {t for t in imports_of(graph, "fraudctl.rules") if not t.startswith("fraudctl.rules")}
    assert outside == {"fraudctl.errors"}
    below = (
        "fraudctl.errors",
        "fraudctl.store_uri",
        "fraudctl.rules",
        "fraudctl.features",
        "fraudctl.model",
    )
    queue = imports_of(graph, "fraudctl.alerts")
    assert all(t.startswith(("fraudctl.alerts", *below)) for t in queue), queue
    assert "fraudctl.rules.syntax" in graph["fraudctl.config"]
