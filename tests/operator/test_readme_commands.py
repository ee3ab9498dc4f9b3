"""The README's Kubernetes commands, run verbatim on the test cluster (a fresh namespace set).

The fenced block after ``<!-- readme-test: kubernetes-quickstart -->`` in README.md (the chart
README carries the same block) is run with bash, twice (the commands must be re-runnable), with the
test cluster's kubectl and helm first on PATH and its admin kubeconfig. Then the chart's NOTES
"Try a job" commands are checked (every one names the job namespace) and the ones that do not
follow (-w/-f) are run verbatim. Finally an operator with the installed Deployment's settings and
the README release's operator ServiceAccount token runs the README's job to success; the runner is
the TEST STAND-IN (``stand_in_runner.py``): this checks the install, not the pipeline.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import ROOT, STAND_IN_RUNNER, Cluster, OperatorProcess, wait_for

pytestmark = pytest.mark.cluster

MARKER = "<!-- readme-test: kubernetes-quickstart -->"
RELEASE_NS, JOB_NS, RELEASE = "safe-synthesizer", "data-team", "ssj"
FULLNAME = f"{RELEASE}-safe-synthesizer"


def quickstart_block(path: Path) -> str:
    """The bash block right after the marker."""
    text = path.read_text(encoding="utf-8")
    match = re.search(re.escape(MARKER) + r"\s*```bash\n(.*?)```", text, re.S)
    assert match, f"{path}: no ```bash block after {MARKER}"
    return match.group(1)


def run_shell(cluster: Cluster, script: str) -> subprocess.CompletedProcess[str]:
    """``bash -e -o pipefail`` in the repository root with the cluster's binaries and kubeconfig."""
    bin_dir = str(Path(cluster.binary("kubectl")).parent)
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "HELM_NAMESPACE")}
    env.update(PATH=f"{bin_dir}:{env.get('PATH', '')}", KUBECONFIG=str(cluster.kubeconfig))
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def readme_install(op_cluster: Cluster) -> Iterator[Cluster]:
    """A cluster where README's namespaces and release do not exist yet; removed afterwards."""
    for namespace in (RELEASE_NS, JOB_NS):
        absent = op_cluster.kubectl("get", "namespace", namespace, check=False)
        assert "NotFound" in absent, f"namespace {namespace} exists before the README test"
    yield op_cluster
    op_cluster.kubectl("delete", "ssj", "--all", "-n", JOB_NS, "--wait=false", check=False)
    op_cluster.helm("uninstall", RELEASE, "-n", RELEASE_NS)
    op_cluster.kubectl("delete", "namespace", JOB_NS, RELEASE_NS, "--wait=false", check=False)


def test_chart_readme_has_the_same_quickstart() -> None:
    block = quickstart_block(ROOT / "README.md")
    assert block == quickstart_block(ROOT / "charts" / "safe-synthesizer" / "README.md")
    assert "helm upgrade --install" in block and "create namespace data-team" in block


def test_misspelt_value_fails_helm_install_and_installs_nothing(readme_install: Cluster) -> None:
    cluster = readme_install
    result = cluster.helm(
        "upgrade",
        "--install",
        RELEASE,
        str(ROOT / "charts" / "safe-synthesizer"),
        "-n",
        RELEASE_NS,
        "--create-namespace",
        "--set",
        "jobs.s3.endpont=http://minio.storage:9000",
    )
    assert result.returncode != 0 and "'endpont' not allowed" in result.stderr, result.stderr
    assert cluster.helm("status", RELEASE, "-n", RELEASE_NS).returncode != 0
    assert "NotFound" in cluster.kubectl("get", "namespace", RELEASE_NS, check=False)


def test_readme_commands_work_verbatim_twice_and_the_job_runs(readme_install: Cluster) -> None:
    cluster = readme_install
    block = quickstart_block(ROOT / "README.md")
    for attempt in (1, 2):
        result = run_shell(cluster, block)
        assert result.returncode == 0, f"run {attempt} of the README block failed:\n{result.stderr}"
        assert "minimal" in result.stdout
    status = json.loads(cluster.helm("status", RELEASE, "-n", RELEASE_NS, "-o", "json").stdout)
    assert status["info"]["status"] == "deployed" and status["version"] == 2
    cluster.kubectl("get", "serviceaccount", f"{FULLNAME}-job", "-n", JOB_NS)
    cluster.kubectl("get", "secret", "s3-credentials", "-n", JOB_NS)

    notes = cluster.helm("get", "notes", RELEASE, "-n", RELEASE_NS).stdout
    commands = [line.strip() for line in notes.splitlines() if line.strip().startswith("kubectl ")]
    assert len(commands) >= 5, notes
    for command in commands:
        assert command.startswith(f"kubectl -n {JOB_NS} "), command
    for command in commands:
        if re.search(r"\s-[wf](\s|$)", command.split("#")[0]):
            continue  # follows forever
        result = run_shell(cluster, command)
        assert result.returncode == 0, f"NOTES command failed: {command}\n{result.stderr}"

    # the release the README installed serves the README's job (its operator SA, its job SA)
    deployment = cluster.kubectl_json("get", "deployment", f"{FULLNAME}-operator", "-n", RELEASE_NS)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    env.update(SSO_RUNNER_COMMAND=json.dumps(["python", str(STAND_IN_RUNNER)]), SSO_RESYNC_SECONDS="2")
    kubeconfig = cluster.token_kubeconfig(
        RELEASE_NS, f"{FULLNAME}-operator", cluster.plane.state_dir / "readme.kubeconfig"
    )
    operator = OperatorProcess(kubeconfig, env, cluster.plane.logs_dir / "operator-readme.log").start()
    try:

        def phase() -> str | None:
            cr = cluster.kubectl_json("get", "ssj", "minimal", "-n", JOB_NS)
            return (cr.get("status") or {}).get("phase") if cr else None

        wait_for(lambda: phase() == "Succeeded", 90, "the README's job to succeed")
        jobs = cluster.kubectl_json("get", "jobs", "-n", JOB_NS, "-l", "safesynthesizer.io/job=minimal")
        assert len(jobs["items"]) == 1
        pod_spec = jobs["items"][0]["spec"]["template"]["spec"]
        assert pod_spec["serviceAccountName"] == f"{FULLNAME}-job"
    finally:
        operator.stop()
