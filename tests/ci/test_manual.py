"""The manual can be trusted: every measured number comes from a file a command wrote, every
reference resolves, the README's links work on the repository host, and the site is
published. Each check is also shown failing on a page broken on purpose."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from docgen import blocks, numbers, references
from docgen.__main__ import regenerate
from tests.conftest import REPO_ROOT

PAGES = blocks.pages(REPO_ROOT)
SITE = re.compile(r"https://(?P<owner>[A-Za-z0-9-]+)\.github\.io/(?P<repo>[\w.-]+)/")
# references known to be broken and waiting on a fix elsewhere: each must still be broken,
# so an entry goes once its file is fixed (none today)
PENDING: set[tuple[str, str]] = set()


def _page(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


# -- numbers ---------------------------------------------------------------------------


def test_every_generated_block_is_current():
    stale = regenerate(REPO_ROOT, write=False)
    assert not stale, f"stale generated blocks in {[_page(p) for p in stale]}: make docs-numbers"


@pytest.mark.parametrize("page", PAGES, ids=_page)
def test_no_measured_number_is_written_by_hand(page):
    found = numbers.findings(page.read_text(encoding="utf-8"))
    shown = [f"{_page(page)}:{f.line}: {f.text!r} in {f.context!r}" for f in found]
    assert not found, "\n".join(shown)


def test_the_number_check_fails_on_a_number_written_by_hand():
    assert numbers.findings("wrk at 16 connections gives 8,261 req/s with p99 3.01 ms.")
    assert numbers.findings("The poisoning grid takes about 70 s.")
    assert numbers.findings("46.3× mlflow's throughput")
    assert numbers.findings("the default reaches test PR-AUC 0.824 on ULB")
    assert numbers.findings("peak 1,424 MiB")
    # not measurements: settings, targets, code, generated blocks
    assert not numbers.findings("target ≥ 1,500 req/s; a timeout of 5 s; every 30 s")
    assert not numbers.findings("run `wrk -d 60s` and `sleep 0.5`")
    assert not numbers.findings("```text\ntook 3.2 s\n```")
    assert not numbers.findings("<!-- generated:x -->\n8,261 req/s\n<!-- /generated -->")


def test_a_stale_block_fails_and_make_docs_numbers_refreshes_it(tmp_path):
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    document = {
        "benchmark": "continuous",
        "command": "python -m benchmarks.continuous",
        "measured_at": "2026-01-01 00:00 UTC",
        "machine": {"cores": 2, "cpu": "test"},
        "targets": "",
        "rows": [
            {"policy": p, "money_share_after": s, "card_precision_after": 0.3, "retrains": r}
            | {"money_caught_after": 1.0, "money_fraud_after": 2.0}
            for p, s, r in (("frozen", 0.4, 1), ("schedule", 0.7, 6), ("triggered", 0.6, 5))
        ],
    }
    (results / "continuous.json").write_text(json.dumps(document))
    page = tmp_path / "README.md"
    page.write_text(
        "# x\n\n<!-- generated:continuous.summary -->\n| hand | 99 % |\n<!-- /generated -->\n"
    )
    assert regenerate(tmp_path, write=False) == [page]
    assert regenerate(tmp_path, write=True) == [page]
    assert "70 %" in page.read_text() and "99 %" not in page.read_text()
    assert regenerate(tmp_path, write=False) == []
    (results / "continuous.json").unlink()  # a missing file says which command writes it
    regenerate(tmp_path, write=True)
    assert "python -m benchmarks.continuous" in page.read_text()


# -- references ------------------------------------------------------------------------


def test_every_reference_resolves():
    broken = references.check(REPO_ROOT)
    pending = {(b.file, b.reference) for b in broken} & PENDING
    assert pending == PENDING, f"fixed: remove {PENDING - pending} from PENDING"
    left = [str(b) for b in broken if (b.file, b.reference) not in PENDING]
    assert not left, "\n".join(left)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# fraudctl\n\n## Install\n")
    (tmp_path / "docs" / "dask.md").write_text("# When it no longer fits: Dask\n\n## Measured\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    return tmp_path


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("fraudctl/capacity.py", '"set compute.engine: dask (README: When it no longer fits)"'),
        ("params.yaml", "# partition by partition (docs: Scaling out)\n"),
        ("Makefile", "# see docs/dask.md#measurements\n"),
        ("monitoring/alerts.yml", "# (docs/release.md)\n"),
        ("docs/page.md", "# Page\n\nThe numbers are in the table below.\n"),
        ("docs/page.md", "# Page\n\nAs said above, it is fast.\n"),
        ("docs/page.md", "# Page\n\n## Two\n\nsee *Three* below\n"),
        ("docs/page.md", "# Page\n\nsee *Two* below\n\n## One\n"),
    ],
)
def test_the_reference_check_fails_on_a_reference_that_leads_nowhere(project, where, text):
    path = project / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    assert references.check(project), text


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("fraudctl/capacity.py", '"set compute.engine: dask (docs/dask.md#measured)"'),
        ("Makefile", "# (README: Install), (docs: When it no longer fits: Dask)\n"),
        ("docs/page.md", "# Page\n\nsee *Two* below; amounts above 1e9; below `k`\n\n## Two\n"),
        ("docs/page.md", "# Page\n\nthe table below:\n\n| a |\n| --- |\n"),
    ],
)
def test_the_reference_check_accepts_references_that_resolve(project, where, text):
    path = project / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    assert references.check(project) == []


# -- the repository host and the published site ----------------------------------------


def _readme_links() -> list[str]:
    text = numbers._blank(numbers.CODE_FENCE, (REPO_ROOT / "README.md").read_text())
    return re.findall(r"\]\(([^)\s]+)\)", text)


def _committed() -> set[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return set(listed)


def test_every_relative_link_in_the_readme_resolves_to_a_committed_file():
    committed = _committed()
    for link in _readme_links():
        if re.match(r"^[a-z]+:", link) or link.startswith("#"):
            continue
        path, _, anchor = link.partition("#")
        assert path in committed, f"README links {link}: not a committed file"
        if anchor and path.endswith(".md"):
            text = (REPO_ROOT / path).read_text()
            anchors = {references.slug(h) for _, h in references.headings(text)}
            assert anchor in anchors, f"README links {link}: no such heading"


def test_the_readme_never_sends_the_repository_host_to_a_page_it_cannot_render():
    """Pages that mkdocs generates from ::: directives read as raw directives on the
    repository host: the README links to the published site for them, and each such page
    names the site at its top."""
    directive_pages = [
        p for p in (REPO_ROOT / "docs").rglob("*.md") if re.search(r"^:::", p.read_text(), re.M)
    ]
    assert directive_pages
    links = _readme_links()
    for page in directive_pages:
        relative = _page(page)
        assert not any(link.split("#")[0] == relative for link in links), relative
        head = page.read_text().split(":::", 1)[0]
        assert SITE.search(head), f"{relative} does not point to the published site"


def test_the_readme_links_the_site_the_docs_workflow_publishes():
    readme = (REPO_ROOT / "README.md").read_text()
    sites = {m.group(0) for m in SITE.finditer(readme)}
    roots = {f"https://{m['owner']}.github.io/{m['repo']}/" for m in SITE.finditer(readme)}
    assert sites and len(roots) == 1, roots
    workflow = yaml.safe_load((REPO_ROOT / ".github/workflows/docs.yml").read_text())
    uses = [s.get("uses", "") for job in workflow["jobs"].values() for s in job["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)


# -- the troubleshooting page quotes the program ---------------------------------------


def _source() -> str:
    text = "\n".join(p.read_text() for p in (REPO_ROOT / "fraudctl").rglob("*.py"))
    return re.sub(r"\"\s*\n\s*f?\"", "", text)  # implicit string concatenation, joined


def test_every_error_the_troubleshooting_page_quotes_is_in_the_code():
    page = (REPO_ROOT / "docs" / "troubleshooting.md").read_text()
    quoted = [
        line.removeprefix("error: ")
        for block in re.findall(r"```text\n(.*?)```", page, re.S)
        for line in block.splitlines()
        if line.startswith("error: ")
    ]
    assert len(quoted) > 20
    source = _source()
    for message in quoted:
        # what the program fills in (<…>) splits a message, and so may a part it looks up
        # (a reason after ": " or "; ")
        for fragment in re.split(r"<[^>]*>|…|[;:] ", message):
            fragment = fragment.strip(" ;:,.()'")
            listed = re.fullmatch(r"\w+(, \w+)+", fragment)  # names the program lists
            if len(fragment) >= 12 and not listed and not re.search(r"\d|'", fragment):
                assert fragment in source, f"not in fraudctl/: {fragment!r} ({message!r})"
