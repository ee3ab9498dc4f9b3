"""The chart's namespaced mode (``watchNamespaces``): Roles instead of a ClusterRole, and the
operator, holding only that release's ServiceAccount token, serves exactly its namespace.

A second release (``fullnameOverride=ssj-scoped``) next to the cluster-wide one of ``conftest``;
the runner is the TEST STAND-IN (``stand_in_runner.py``): this checks RBAC, not the pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml
from e2e_support import CHART, STAND_IN_RUNNER, OperatorProcess, Release, ssj_manifest, wait_for

pytestmark = pytest.mark.cluster
SCOPED = "ssj-scoped"
OTHER = "ssj-other"


@pytest.fixture(scope="module")
def scoped_operator(release: Release) -> Iterator[OperatorProcess]:
    cluster = release.cluster
    for namespace in (SCOPED, OTHER):
        cluster.kubectl("create", "namespace", namespace)
    result = cluster.helm(
        "install",
        "scoped",
        str(CHART),
        "--namespace",
        SCOPED,
        "--set",
        f"fullnameOverride={SCOPED}",
        "--set",
        f"watchNamespaces={{{SCOPED}}}",
        "--set",
        "rbac.userRoles=false",
        "--set",
        f"jobs.s3.endpoint={release.s3_endpoint}",
    )
    assert result.returncode == 0, result.stderr
    kubeconfig = cluster.token_kubeconfig(
        SCOPED, f"{SCOPED}-operator", cluster.plane.state_dir / "scoped.kubeconfig"
    )
    env = deployment_env_for(release)
    env["SSO_RUNNER_COMMAND"] = json.dumps(["python", str(STAND_IN_RUNNER)])
    assert env["SSO_NAMESPACES"] == SCOPED
    process = OperatorProcess(
        kubeconfig, env, cluster.plane.logs_dir / "operator-scoped.log"
    )  # -n from SSO_NAMESPACES
    process.start()
    yield process
    process.stop()


def deployment_env_for(release: Release) -> dict[str, str]:
    deployment = release.cluster.kubectl_json("get", "deployment", f"{SCOPED}-operator", "-n", SCOPED)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in container["env"] if "value" in e}


def test_namespaced_release_uses_roles_and_serves_only_its_namespace(
    release: Release, scoped_operator: OperatorProcess
) -> None:
    cluster = release.cluster
    cluster.kubectl("get", "role", f"{SCOPED}-operator", "-n", SCOPED)
    assert "NotFound" in cluster.kubectl("get", "clusterrole", f"{SCOPED}-operator", check=False)
    assert deployment_env_for(release)["SSO_NAMESPACES"] == SCOPED

    spec = {
        "dataSource": "s3://bench/input/data.csv",
        "output": "s3://bench/output/scoped/",
        "resources": {"gpu": 0},
    }
    manifests = [ssj_manifest("inside", SCOPED, spec), ssj_manifest("outside", OTHER, spec)]
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(manifests))

    def phase(namespace: str, name: str) -> str | None:
        return (cluster.kubectl_json("get", "ssj", name, "-n", namespace).get("status") or {}).get("phase")

    wait_for(lambda: phase(SCOPED, "inside") == "Succeeded", 90, "the job in the watched namespace")
    assert phase(OTHER, "outside") is None  # not this operator's namespace: untouched
    assert cluster.kubectl_json("get", "jobs", "-n", OTHER)["items"] == []
    assert "forbidden" not in scoped_operator.log_text().lower()
    cluster.kubectl("delete", "ssj", "--all", "-n", OTHER, "--wait=false")
