"""The consumer's Deployment and Compose service, checked offline against the code they run:
every variable is a setting, probes and port are the consumer's, the Redis is reachable."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.serve.test_deploy_assets import KUBERNETES_VERSION

MANIFEST = REPO_ROOT / "k8s" / "80-stream.yaml"
DOCUMENTS = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
COMPOSE = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())


def named(kind: str, name: str = "fraudctl-stream", documents: list | None = None) -> dict:
    [found] = [
        d for d in (documents or DOCUMENTS) if d["kind"] == kind and d["metadata"]["name"] == name
    ]
    return found


def variables() -> set[str]:
    from fraudctl.stream.settings import fields, variable

    return {variable(field) for field in fields()}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d["kind"])
def test_manifest_validates_strictly(document):
    import kubernetes_validate

    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    assert document["metadata"]["namespace"] == "fraudctl"


def test_the_deployment_runs_consumers_of_one_group_with_the_consumers_own_probes():
    deployment = named("Deployment")
    pod = deployment["spec"]["template"]
    [container] = pod["spec"]["containers"]
    assert container["command"] == ["fraudctl", "stream"]
    env = {e["name"]: e for e in container["env"]}
    assert set(env) - {"OMP_NUM_THREADS"} <= variables()
    # one group, and a consumer per pod named after it
    assert env["FRAUDCTL_STREAM_GROUP"]["value"]
    assert env["FRAUDCTL_STREAM_CONSUMER"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    [port] = container["ports"]
    assert port["containerPort"] == int(env["FRAUDCTL_STREAM_METRICS_PORT"]["value"])
    assert env["FRAUDCTL_STREAM_METRICS_HOST"]["value"] == "0.0.0.0"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port["containerPort"])
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] and security["capabilities"]["drop"] == ["ALL"]
    target = named("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert target["name"] == deployment["metadata"]["name"]


def test_the_consumers_reach_the_online_store_redis():
    [container] = named("Deployment")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    store = REPO_ROOT / "k8s" / "60-online-store.yaml"
    service = named("Service", "fraudctl-online-store", list(yaml.safe_load_all(store.read_text())))
    uri = f"redis://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/0"
    assert env["FRAUDCTL_STREAM_BROKER"] == env["FRAUDCTL_ONLINE_STORE"] == uri
    policies = list(yaml.safe_load_all((REPO_ROOT / "k8s" / "70-network-policy.yaml").read_text()))
    allowed = [
        source["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for rule in named("NetworkPolicy", "fraudctl-online-store", policies)["spec"]["ingress"]
        for source in rule["from"]
    ]
    assert "fraudctl-stream" in allowed


def test_the_compose_service_consumes_the_compose_redis():
    service = COMPOSE["services"]["stream"]
    assert service["command"] == ["fraudctl", "stream"]
    env = service["environment"]
    assert set(env) - {"MLFLOW_TRACKING_URI"} <= variables()
    assert env["FRAUDCTL_STREAM_BROKER"].startswith("redis://redis:")
    assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert f":{env['FRAUDCTL_STREAM_METRICS_PORT']}/health/ready" in " ".join(
        service["healthcheck"]["test"]
    )
    assert "--appendonly" in COMPOSE["services"]["redis"]["command"]
    redis_command = COMPOSE["services"]["redis"]["command"]
    assert redis_command[redis_command.index("--appendonly") + 1] == "yes"
