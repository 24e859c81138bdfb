"""``python -m docgen --write`` renders every generated block; ``--check`` lists stale ones.

python -m docgen --write       # make docs-numbers
python -m docgen --check       # exit 1 when a committed block differs from its render
python -m docgen --missing     # params keys with no description anywhere
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from docgen import blocks, params_reference
from docgen.render import render

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = "https://OWNER.github.io/fraudctl/"


def site_url(root: Path) -> str | None:
    """https://<owner>.github.io/<repo>/ from a GitHub ``origin`` remote, if there is one."""
    remote = subprocess.run(
        ["git", "remote", "get-url", "origin"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    found = re.search(r"github\.com[:/]([^/]+)/([^/]+?)(?:\.git)?$", remote)
    return f"https://{found[1].lower()}.github.io/{found[2]}/" if found else None


def set_site_url(root: Path) -> int:
    url = site_url(root)
    if url is None:
        print("no GitHub remote named origin: the placeholder stays", file=sys.stderr)
        return 1
    for page in blocks.pages(root):
        text = page.read_text(encoding="utf-8")
        if PLACEHOLDER in text:
            page.write_text(text.replace(PLACEHOLDER, url), encoding="utf-8")
            print(f"{page.relative_to(root)}: {url}")
    return 0


def regenerate(root: Path, write: bool) -> list[Path]:
    """The pages whose blocks differ from their render (rewritten when ``write``)."""
    changed = []
    for page in blocks.pages(root):
        text = page.read_text(encoding="utf-8")
        if "<!-- generated:" not in text:
            continue
        new = blocks.fill(text, lambda name: render(root, name))
        if new != text:
            changed.append(page)
            if write:
                tmp = page.with_suffix(".md.tmp")
                tmp.write_text(new, encoding="utf-8")
                tmp.replace(page)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m docgen", description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="re-render every block in place")
    action.add_argument("--check", action="store_true", help="exit 1 if a block is stale")
    action.add_argument("--missing", action="store_true", help="params keys with no description")
    action.add_argument("--site-url", action="store_true", help="the site's address from origin")
    args = parser.parse_args(argv)
    if args.site_url:
        return set_site_url(ROOT)
    if args.missing:
        keys = params_reference.missing(ROOT)
        print("\n".join(keys))
        print(f"{len(keys)} keys have no description", file=sys.stderr)
        return 0
    changed = regenerate(ROOT, write=args.write)
    for page in changed:
        verb = "rewrote" if args.write else "stale"
        print(f"{verb}: {page.relative_to(ROOT)}")
    if args.check and changed:
        print("run `make docs-numbers` (python -m docgen --write) and commit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
