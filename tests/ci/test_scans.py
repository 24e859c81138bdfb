"""Supply-chain and code scans: bandit on the package, checkov on the Terraform, manifests,
Dockerfiles and workflows, and the serving image's SBOM. Each also runs on a broken copy,
so a scan that stopped looking would fail here."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
SBOM = REPO_ROOT / "build" / "sbom" / "serve.cdx.json"
TERRAFORM = REPO_ROOT / "deploy" / "terraform"

needs_checkov = pytest.mark.skipif(
    not CHECKOV.exists(), reason="checkov's virtualenv is missing: make .venv-checkov/.installed"
)


def _checkov(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHECKOV), "--compact", "--skip-download", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=600,
    )


def test_bandit_finds_nothing_of_medium_or_high_severity():
    bandit = Path(sys.executable).with_name("bandit")
    result = subprocess.run(
        [str(bandit), "--quiet", "--recursive", "fraudctl", "--severity-level", "medium"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@needs_checkov
def test_checkov_passes_the_infrastructure_with_only_justified_skips():
    result = _checkov("--config-file", "deploy/checkov.yaml")
    assert result.returncode == 0, result.stdout[-4000:]
    for framework in ("terraform", "kubernetes", "github_actions", "dockerfile"):
        assert f"{framework} scan results" in result.stdout
    assert "Failed checks: 0" in result.stdout
    dockerfile = _checkov("--framework", "dockerfile", "--file", "Dockerfile")
    assert dockerfile.returncode == 0 and "Passed checks" in dockerfile.stdout, dockerfile.stdout
    # every skip in the config carries a reason on the lines above it
    config = (REPO_ROOT / "deploy" / "checkov.yaml").read_text().split("skip-check:", 1)[1]
    lines = config.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\s+- CKV", line):
            above = [previous for previous in lines[:i] if previous.strip()]
            assert above and (above[-1].strip().startswith("#") or re.match(r"\s+- CKV", above[-1]))


@pytest.mark.slow
@needs_checkov
def test_checkov_fails_a_terraform_module_that_opens_the_bucket(tmp_path):
    broken = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, broken)
    main = broken / "main.tf"
    text = main.read_text()
    assert 'public_access_prevention    = "enforced"' in text
    main.write_text(
        text.replace(
            'public_access_prevention    = "enforced"', 'public_access_prevention = "inherited"'
        ).replace("uniform_bucket_level_access = true", "uniform_bucket_level_access = false")
    )
    result = _checkov("--framework", "terraform", "--directory", str(broken))
    assert result.returncode == 1
    assert "google_storage_bucket.dvc" in result.stdout


def test_terraform_creates_the_accounts_and_names_the_manifests_use():
    import hcl2
    import yaml

    module = "".join(path.read_text() for path in TERRAFORM.glob("*.tf"))
    main = hcl2.loads((TERRAFORM / "main.tf").read_text())
    declared = hcl2.loads((TERRAFORM / "variables.tf").read_text())["variable"]
    variables = {name.strip('"') for block in declared for name in block}
    used = set(re.findall(r"var\.([a-z_]+)", module))
    assert used <= variables, f"undeclared variables: {used - variables}"
    documents = [
        d
        for path in (REPO_ROOT / "k8s").rglob("*.yaml")
        for d in yaml.safe_load_all(path.read_text())
    ]
    accounts = {d["metadata"]["name"] for d in documents if d and d["kind"] == "ServiceAccount"}
    assert accounts == {name.strip('"') for name in main["locals"][0]["workloads"]}
    [cluster] = [
        r['"google_container_cluster"']['"main"']
        for r in main["resource"]
        if '"google_container_cluster"' in r
    ]
    assert "svc.id.goog" in cluster["workload_identity_config"][0]["workload_pool"]
    assert cluster["addons_config"][0]["gcp_filestore_csi_driver_config"][0]["enabled"] is True
    # the Dask recipe's ReadWriteMany volume uses the storage class that driver provides
    volume = (REPO_ROOT / "k8s" / "dask" / "00-project-volume.yaml").read_text()
    assert "storageClassName: standard-rwx" in volume


@pytest.mark.skipif(not SBOM.exists(), reason="no SBOM yet: make sbom (make test builds it)")
def test_the_sbom_lists_every_package_the_serving_image_installs_at_its_locked_version():
    document = json.loads(SBOM.read_text())
    assert document["bomFormat"] == "CycloneDX"
    listed = {c["name"].lower().replace("_", "-"): c["version"] for c in document["components"]}
    locked = dict(
        line.lower().replace("_", "-").split("==")
        for line in (REPO_ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line
    )
    wanted = [
        re.split(r"[<>=\[;]", line.strip())[0].lower().replace("_", "-")
        for line in (REPO_ROOT / "docker" / "requirements-serve.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert set(wanted) <= set(listed), set(wanted) - set(listed)
    for name in wanted:
        if name in locked:
            assert listed[name] == locked[name], (name, listed[name], locked[name])
