"""The Helm chart: `helm lint` is clean and the rendered manifests validate against the Kubernetes
schemas, in both RBAC modes (every namespace / a list). Needs the helm binary of `make
cluster-bins`; skipped without it (the cluster tests also install the chart for real)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "safe-synthesizer"


def _helm() -> str:
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "cluster"))
    from harness import default_bin_dir

    helm = default_bin_dir() / "helm"
    if not helm.is_file():
        pytest.skip(f"{helm} missing: run `make cluster-bins`")
    return str(helm)


def render(*sets: str) -> list[dict]:
    args = [_helm(), "template", "ssj", str(CHART), "--namespace", "safe-synthesizer"]
    for value in sets:
        args += ["--set", value]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.mark.parametrize(
    "sets",
    [
        (),
        ("watchNamespaces={team-a,team-b}", "metrics.serviceMonitor.enabled=true"),
        ("console.enabled=true", "console.ingress.enabled=true", "console.urlPrefix=/synth"),
    ],
)
def test_helm_lint_is_clean(sets: tuple[str, ...]) -> None:
    args = [_helm(), "lint", "--strict", str(CHART)]
    for value in sets:
        args += ["--set", value]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[ERROR]" not in result.stdout and "[WARNING]" not in result.stdout


@pytest.mark.parametrize(
    "sets",
    [
        (),
        ("watchNamespaces={team-a,team-b}",),
        ("jobs.progressReporting=false", "rbac.userRoles=false", "metrics.enabled=false"),
    ],
)
def test_rendered_manifests_validate_against_kubernetes_schemas(sets: tuple[str, ...]) -> None:
    docs = render(*sets)
    for doc in docs:
        kubernetes_validate.validate(doc, "1.33", strict=True)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "ServiceAccount"} <= kinds
    assert {"ClusterRoleBinding"} <= kinds or {"Role", "RoleBinding"} <= kinds


def test_cluster_wide_and_namespaced_rbac() -> None:
    wide = render()
    assert any(
        d["kind"] == "ClusterRole" and d["metadata"]["name"] == "ssj-safe-synthesizer-operator" for d in wide
    )
    assert not any(d["kind"] == "Role" and d["metadata"]["name"].endswith("-operator") for d in wide)
    scoped = render("watchNamespaces={team-a,team-b}")
    roles = [
        d for d in scoped if d["kind"] == "Role" and d["metadata"]["name"] == "ssj-safe-synthesizer-operator"
    ]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    assert not any(
        d["kind"] == "ClusterRole" and d["metadata"]["name"] == "ssj-safe-synthesizer-operator"
        for d in scoped
    )
    # a fixed namespace list: kopf's cluster-wide observation is off, so nothing cluster-scoped
    assert not [d for d in scoped if d["kind"].startswith("Cluster") and "-operator" in d["metadata"]["name"]]
    deployment = next(d for d in scoped if d["kind"] == "Deployment")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SSO_NAMESPACES"] == "team-a,team-b"
    job_accounts = [
        d for d in scoped if d["kind"] == "ServiceAccount" and d["metadata"]["name"].endswith("-job")
    ]
    assert sorted(a["metadata"]["namespace"] for a in job_accounts) == ["team-a", "team-b"]


def test_operator_rules_grant_no_secrets_and_no_pod_writes() -> None:
    for doc in render():
        for rule in doc.get("rules") or []:
            assert "secrets" not in rule["resources"], doc["metadata"]["name"]
            if "pods" in rule["resources"]:
                assert set(rule["verbs"]) <= {"get", "list", "watch"}
    job_role = next(
        d for d in render() if d["kind"] == "Role" and d["metadata"]["name"].endswith("-job-progress")
    )
    assert job_role["rules"] == [
        {
            "apiGroups": ["safesynthesizer.io"],
            "resources": ["safesynthesizerjobs/status"],
            "verbs": ["get", "patch"],
        }
    ]
    assert not any(
        d["kind"] == "Role" and d["metadata"]["name"].endswith("-job-progress")
        for d in render("jobs.progressReporting=false")
    )


def test_deployment_is_one_recreated_replica_with_kopf_probes() -> None:
    deployment = next(d for d in render() if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["python", "-m", "safe_synthesizer_operator"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["args"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SSO_RUNNER_IMAGE"] == "ghcr.io/nvidia/safe-synthesizer-runner:0.1.0"
    assert env["SSO_JOB_SERVICE_ACCOUNT"] == "ssj-safe-synthesizer-job"
    assert env["SSO_PROPAGATE_LABELS"] == "kueue.x-k8s.io/queue-name,kueue.x-k8s.io/priority-class"
    assert env["SSO_PROPAGATE_ANNOTATIONS"] == ""


def test_chart_crd_is_the_generated_one() -> None:
    assert (CHART / "crds" / "safesynthesizer.io_safesynthesizerjobs.yaml").read_text() == (
        ROOT / "crds" / "safesynthesizer.io_safesynthesizerjobs.yaml"
    ).read_text()


def _template(*sets: str) -> subprocess.CompletedProcess[str]:
    args = [_helm(), "template", "ssj", str(CHART), "--namespace", "safe-synthesizer"]
    for value in sets:
        args += ["--set", value]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def test_values_schema_accepts_the_defaults_and_every_documented_key() -> None:
    """values.yaml (every key set) validates; so do typical overrides of each type."""
    assert json.loads((CHART / "values.schema.json").read_text())["additionalProperties"] is False
    result = _template(
        "jobs.resources.cpu=8",
        "jobs.resources.memory=32Gi",
        "jobs.resources.gpuMemory=40Gi",
        "jobs.serviceAccount.namespaces={data-team}",
        "operator.logFormat=plain",
        "metrics.enabled=false",
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("sets", "complaint"),
    [
        (("jobs.s3.endpont=http://minio:9000",), "'endpont' not allowed"),
        (("operator.resyncSecond=5",), "'resyncSecond' not allowed"),
        (("watchNamespace={team-a}",), "'watchNamespace' not allowed"),
        (("jobs.progressReporting=maybe",), "want boolean"),
        (("operator.logFormat=xml",), "logFormat"),
        (("jobs.resources.gpuMemory=40GB",), "gpuMemory"),
    ],
)
def test_values_schema_refuses_misspelt_keys_and_wrong_types(sets: tuple[str, ...], complaint: str) -> None:
    result = _template(*sets)
    assert result.returncode != 0, f"{sets} rendered without error"
    assert complaint in result.stderr, result.stderr
    lint = subprocess.run(
        [_helm(), "lint", str(CHART), *[a for s in sets for a in ("--set", s)]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert lint.returncode != 0 and complaint in lint.stdout + lint.stderr


def test_console_is_off_by_default() -> None:
    assert not any(d["metadata"]["name"].endswith("-console") for d in render())


def test_console_objects_validate_and_have_no_privileges() -> None:
    docs = render(
        "console.enabled=true",
        "console.ingress.enabled=true",
        "console.ingress.host=synth.example.com",
        "console.urlPrefix=/synth",
        "console.uploadPrefix=s3://bucket/uploads/",
        "console.s3.credentialsSecret=console-s3",
        "console.jobDefaults.resources.gpu=1",
        "watchNamespaces={team-a,team-b}",
    )
    for doc in docs:
        kubernetes_validate.validate(doc, "1.33", strict=True)
    console = {d["kind"]: d for d in docs if d["metadata"]["name"] == "ssj-safe-synthesizer-console"}
    assert {"ServiceAccount", "Secret", "Deployment", "Service", "Ingress"} <= set(console)
    # least privilege: no token in the pod, and no Role or ClusterRole bound to its ServiceAccount
    assert console["ServiceAccount"]["automountServiceAccountToken"] is False
    pod = console["Deployment"]["spec"]["template"]["spec"]
    assert (
        pod["automountServiceAccountToken"] is False
        and pod["serviceAccountName"] == "ssj-safe-synthesizer-console"
    )
    for binding in (d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        assert all(s.get("name") != "ssj-safe-synthesizer-console" for s in binding.get("subjects") or [])
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SSC_AUTH"] == "token" and env["SSC_URL_PREFIX"] == "/synth"
    assert json.loads(env["SSC_JOB_DEFAULTS"]) == {"resources": {"gpu": 1}}
    assert env["SSC_UPLOAD_PREFIX"] == "s3://bucket/uploads/" and "AWS_ACCESS_KEY_ID" in env
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"name": "kube-ca", "configMap": {"name": "kube-root-ca.crt"}} in pod["volumes"]
    assert (
        container["command"] == ["gunicorn"]
        and container["args"][-1] == "safe_synthesizer.console:create_app()"
    )
    path = console["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]
    assert path["path"] == "/synth" and path["backend"]["service"]["name"] == "ssj-safe-synthesizer-console"
    assert console["Service"]["spec"]["selector"]["app.kubernetes.io/component"] == "console"


@pytest.mark.parametrize(
    ("sets", "complaint"),
    [
        (("console.enable=true",), "'enable' not allowed"),
        (("console.urlPrefix=synth/",), "urlPrefix"),
        (("console.s3.addressingStyle=sideways",), "addressingStyle"),
        (("console.uploadPrefix=/data/uploads",), "uploadPrefix"),
    ],
)
def test_console_values_are_checked(sets: tuple[str, ...], complaint: str) -> None:
    result = _template("console.enabled=true", *sets)
    assert result.returncode != 0 and complaint in result.stderr, result.stderr
