"""Blue-green releases: the manifests stay in step with the rolling-update ones, and
`fraudctl release` switches only to a colour that serves the expected model, and back.

No cluster exists here: ``kubectl`` is a small stand-in that keeps the live Service's
selector in a file and reports each Deployment's rollout from it. The colours are real
`fraudctl serve` processes on 127.0.0.1, checked over HTTP as in a cluster.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.serve.test_server_process import cli_env, serving

BLUE_GREEN = REPO_ROOT / "k8s" / "blue-green"
KUBERNETES_VERSION = "1.33.0"
LABEL = "fraudctl.io/colour"

KUBECTL = r'''#!{python}
"""kubectl -n NS get service S -o json | patch service S --type merge -p P | rollout status D"""
import json, sys
from pathlib import Path
state_path = Path({state!r})
state = json.loads(state_path.read_text())
args = sys.argv[3:]  # after -n NAMESPACE
with open(state_path.with_suffix(".calls"), "a") as calls:
    calls.write(" ".join(args) + "\n")
if args[:2] == ["get", "service"]:
    print(json.dumps({{"spec": {{"selector": state["selector"]}}}}))
elif args[:2] == ["patch", "service"]:
    state["selector"].update(json.loads(args[args.index("-p") + 1])["spec"]["selector"])
    state_path.write_text(json.dumps(state))
elif args[:2] == ["rollout", "status"]:
    colour = args[2].rsplit("-", 1)[1]
    if colour not in state["rolled_out"]:
        sys.exit('error: deployment "fraudctl-api-' + colour + '" exceeded its progress deadline')
    print("successfully rolled out")
else:
    sys.exit("unexpected kubectl call: " + " ".join(args))
'''


def test_the_colours_are_the_rolling_update_manifests_with_a_colour():
    sys.path.insert(0, str(BLUE_GREEN))
    try:
        import generate
    finally:
        sys.path.remove(str(BLUE_GREEN))
    for name, (source, documents) in generate.documents().items():
        assert (BLUE_GREEN / name).read_text() == generate.render(source, documents), (
            f"k8s/blue-green/{name} is out of date: run python k8s/blue-green/generate.py"
        )


def test_the_blue_green_manifests_validate_and_select_one_colour_each():
    import kubernetes_validate

    documents = [
        d
        for path in sorted(BLUE_GREEN.glob("*.yaml"))
        for d in yaml.safe_load_all(path.read_text())
    ]
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    assert set(deployments) == {"fraudctl-api-blue", "fraudctl-api-green"}
    for name, deployment in deployments.items():
        colour = name.rsplit("-", 1)[1]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["fraudctl.io/colour"] == colour
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    services = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Service"}
    assert services["fraudctl-api"]["spec"]["selector"]["fraudctl.io/colour"] in {"blue", "green"}
    scaled = {
        d["spec"]["scaleTargetRef"]["name"]
        for d in documents
        if d["kind"] == "HorizontalPodAutoscaler"
    }
    assert scaled == set(deployments)
    budgets = [d for d in documents if d["kind"] == "PodDisruptionBudget"]
    assert {b["spec"]["selector"]["matchLabels"]["fraudctl.io/colour"] for b in budgets} == {
        "blue",
        "green",
    }


@pytest.fixture
def cluster(tmp_path: Path):
    state = tmp_path / "cluster.json"
    state.write_text(
        json.dumps({"selector": {"fraudctl.io/colour": "blue"}, "rolled_out": ["blue", "green"]})
    )
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(KUBECTL.format(python=sys.executable, state=str(state)))
    kubectl.chmod(kubectl.stat().st_mode | stat.S_IXUSR)
    return kubectl, state


def _release(kubectl: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["fraudctl", "release", *args, "--kubectl", str(kubectl)]
        + (["--timeout", "3"] if args[0] != "status" else []),
        capture_output=True,
        text=True,
        env={**cli_env(), "COLUMNS": "200"},
        timeout=120,
    )


def _set_live(state: Path, colour: str) -> None:
    state.write_text(json.dumps({**json.loads(state.read_text()), "selector": {LABEL: colour}}))


def _live(state: Path) -> str:
    return json.loads(state.read_text())["selector"]["fraudctl.io/colour"]


@pytest.mark.slow
def test_a_release_switches_to_a_checked_colour_and_refuses_a_wrong_one(cluster, model_dir):
    kubectl, state = cluster
    with serving(model_dir) as green:
        version = json.loads(__import__("urllib.request").request.urlopen(f"{green}/model").read())[
            "version"
        ]
        wrong = _release(
            kubectl, "switch", "green", "--preview-url", green, "--expect-version", "no-such"
        )
        assert wrong.returncode == 2 and _live(state) == "blue"
        assert f"serves model version {version}, not no-such" in wrong.stderr + wrong.stdout
        assert "blue stays live" in wrong.stderr + wrong.stdout

        done = _release(
            kubectl,
            "switch",
            "green",
            "--preview-url",
            green,
            "--live-url",
            green,
            "--expect-version",
            str(version),
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert _live(state) == "green" and "green is live" in done.stdout
        status = _release(kubectl, "status")
        assert "live colour: green" in status.stdout

        # The live Service stops answering after a switch: the release puts blue back.
        state.write_text(
            json.dumps(
                {**json.loads(state.read_text()), "selector": {"fraudctl.io/colour": "blue"}}
            )
        )
        dead = "http://127.0.0.1:9"  # nothing listens on the discard port
        back = _release(kubectl, "switch", "green", "--preview-url", green, "--live-url", dead)
        assert back.returncode == 2 and _live(state) == "blue"
        assert "switched back, blue is live" in back.stdout + back.stderr


def test_a_colour_that_has_not_rolled_out_is_never_made_live(cluster):
    kubectl, state = cluster
    state.write_text(
        json.dumps({"selector": {"fraudctl.io/colour": "blue"}, "rolled_out": ["blue"]})
    )
    result = _release(kubectl, "switch", "green", "--preview-url", "http://127.0.0.1:9")
    assert result.returncode == 2 and _live(state) == "blue"
    assert "exceeded its progress deadline" in result.stdout + result.stderr
    calls = state.with_suffix(".calls").read_text()
    assert "patch" not in calls


def test_a_missing_kubectl_is_named(tmp_path):
    result = _release(tmp_path / "no-kubectl", "status")
    assert result.returncode == 2
    assert "not found; install kubectl" in result.stdout + result.stderr
