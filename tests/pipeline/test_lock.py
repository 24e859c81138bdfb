"""The committed dvc.lock describes the committed code and params.

A stage's recorded dependency that differs from the file beside it makes a fresh clone's
first ``make repro`` rewrite dvc.lock (git no longer clean), even when every output comes
out byte for byte the same. Editing a stage's code therefore goes with ``dvc repro`` and
the new dvc.lock in the same commit.
"""

from __future__ import annotations

import hashlib

import yaml

from tests.conftest import REPO_ROOT


def test_every_recorded_source_file_matches_the_lock():
    lock = yaml.safe_load((REPO_ROOT / "dvc.lock").read_text(encoding="utf-8"))
    stale = []
    for stage, entry in lock["stages"].items():
        for dep in entry.get("deps", []):
            path = REPO_ROOT / dep["path"]
            if dep.get("hash") != "md5" or path.suffix != ".py" or not path.is_file():
                continue  # data and folders: DVC's own business, outputs of other stages
            if hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest() != dep["md5"]:
                stale.append(f"{stage}: {dep['path']}")
    assert not stale, (
        "dvc.lock records other code than the files (run `dvc repro` and commit dvc.lock): "
        + ", ".join(sorted(set(stale)))
    )
