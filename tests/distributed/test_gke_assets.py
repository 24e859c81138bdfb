"""The GKE recipe for a Dask cluster (k8s/dask/), checked offline against the code it runs."""

from __future__ import annotations

import re

import pytest
import yaml

from fraudctl.distributed.settings import DaskParams
from tests.conftest import REPO_ROOT
from tests.serve.test_deploy_assets import KUBERNETES_VERSION

DASK_K8S = REPO_ROOT / "k8s" / "dask"
README = (REPO_ROOT / "docs" / "dask.md").read_text()  # the Dask page of the manual


def documents() -> list[dict]:
    found = []
    for path in sorted(DASK_K8S.glob("*.yaml")):
        found += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return found


def named(kind: str, name: str) -> dict:
    [document] = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return document


def pod_specs() -> list[dict]:
    return [
        d["spec"]["template"]["spec"] for d in documents() if d["kind"] in ("Deployment", "Job")
    ]


@pytest.mark.parametrize(
    "document", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}"
)
def test_manifest_validates_strictly(document):
    import kubernetes_validate

    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    assert document["metadata"]["namespace"] == "fraudctl"


def test_the_readme_scheduler_address_reaches_the_scheduler_service():
    [address] = set(re.findall(r"scheduler: (tcp://[\w.-]+:\d+)", README))
    DaskParams(scheduler=address)  # a valid setting
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    service = named("Service", "dask-scheduler")
    assert host == f"{service['metadata']['name']}.fraudctl.svc.cluster.local"
    assert int(port) in {p["port"] for p in service["spec"]["ports"]}
    worker = named("Deployment", "dask-worker")["spec"]["template"]["spec"]["containers"][0]
    assert address in worker["args"]
    scheduler = named("Deployment", "dask-scheduler")["spec"]["template"]
    assert service["spec"]["selector"].items() <= scheduler["metadata"]["labels"].items()


def _bytes(size: str) -> int:
    units = {"Mi": 2**20, "Gi": 2**30, "MiB": 2**20, "GiB": 2**30}
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]+)", size).groups()
    return int(number) * units[unit]


def test_a_worker_stays_inside_its_container():
    """Dask's own memory limit (it spills, then restarts a worker) is below the container's
    (the kernel's OOM killer), with room for the nanny; one thread per worker."""
    [container] = named("Deployment", "dask-worker")["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    dask_limit = _bytes(args[args.index("--memory-limit") + 1])
    assert dask_limit == _bytes(DaskParams().memory_per_worker)
    assert dask_limit < _bytes(container["resources"]["requests"]["memory"])
    assert _bytes(container["resources"]["requests"]["memory"]) <= _bytes(
        container["resources"]["limits"]["memory"]
    )
    assert args[args.index("--nthreads") + 1] == "1"


def test_every_pod_shares_the_project_volume_and_the_image():
    claim = named("PersistentVolumeClaim", "fraudctl-project")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    images = set()
    for pod in pod_specs():
        containers = pod["containers"] + pod.get("initContainers", [])
        images |= {c["image"] for c in containers}
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in containers:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
        if any(v.get("persistentVolumeClaim") for v in pod["volumes"]):
            [volume] = [v for v in pod["volumes"] if v.get("persistentVolumeClaim")]
            assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
            mounts = {m["mountPath"] for c in containers for m in c["volumeMounts"]}
            assert "/work" in mounts
    assert images == {"fraudctl-dask:latest"}  # tasks run fraudctl's own functions
    dockerfile = (REPO_ROOT / "docker" / "dask.Dockerfile").read_text()
    assert '"/src[dask,gcs]"' in dockerfile and "USER 10001" in dockerfile


def test_the_runner_job_runs_the_pipeline_in_the_shared_checkout():
    job = named("Job", "fraudctl-repro")["spec"]["template"]["spec"]
    [runner] = job["containers"]
    assert runner["workingDir"] == "/work/project"
    assert "dvc repro" in " ".join(runner["command"])
    assert "/work/project" in " ".join(job["initContainers"][0]["args"])
