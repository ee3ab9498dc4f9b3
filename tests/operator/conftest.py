"""Fixtures of the operator tests.

Unit tests (pure functions) need nothing. The ``cluster`` tests share one session-scoped setup:

* ``op_cluster``: a dedicated real control plane + the test node agent (see ``e2e_support``);
* ``release``: the Helm chart installed into namespace ``ssj-e2e`` (CRD from the chart's ``crds/``,
  RBAC, both ServiceAccounts, the Deployment object, which cannot run here: no images), with the
  loopback moto S3 endpoint as the chart's default S3 endpoint, the Secret ``s3-credentials`` and
  the bucket ``safe-synth-demo`` holding ``input/demo.csv`` (240 rows of the bundled demo table);
* the operator itself runs as a local process (``python -m safe_synthesizer_operator``) with the
  Deployment's ``SSO_*`` environment and a kubeconfig holding the **chart's operator
  ServiceAccount token**, so the chart's RBAC is what the tests exercise.

Missing cluster binaries fail the cluster tests (``make cluster-bins``); ``SAFE_SYNTH_SKIP_CLUSTER=1``
skips them instead. On a failure the component, pod and operator logs are kept and their folder is
printed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import CHART, FULLNAME, OPERATOR_SA, RELEASE, Cluster, Release, demo_slice

NAMESPACE = "ssj-e2e"
BUCKET = "safe-synth-demo"
_STATE: dict[str, object] = {"failed": False, "logs": None}


@pytest.fixture(scope="session")
def op_cluster() -> Iterator[Cluster]:
    """A real control plane for the operator tests (state outside /tmp, see e2e_support)."""
    from harness import ClusterError, default_bin_dir, missing_binaries

    missing = missing_binaries() + [b for b in ("helm",) if not (default_bin_dir() / b).is_file()]
    if missing:
        message = (
            f"Kubernetes test binaries missing in {default_bin_dir()}: {', '.join(missing)}. "
            "Run `make cluster-bins`; set SAFE_SYNTH_SKIP_CLUSTER=1 to skip the cluster tests instead."
        )
        if os.environ.get("SAFE_SYNTH_SKIP_CLUSTER") == "1":
            pytest.skip(message)
        pytest.fail(message, pytrace=False)
    try:
        cluster = Cluster.start(gpus=1)
    except ClusterError as err:
        pytest.fail(f"control plane did not start: {err}", pytrace=False)
    _STATE["logs"] = cluster.plane.logs_dir
    try:
        yield cluster
    finally:
        keep = bool(_STATE["failed"]) or os.environ.get("SAFE_SYNTH_KEEP_CLUSTER_LOGS") == "1"
        cluster.stop(keep_logs=keep)


@pytest.fixture(scope="session")
def release(op_cluster: Cluster, s3_server) -> Release:
    """The chart installed into ``ssj-e2e`` with the moto endpoint as the default S3 endpoint."""
    import boto3
    from s3_server import REGION, TEST_ACCESS_KEY, TEST_SECRET_KEY

    op_cluster.kubectl("create", "namespace", NAMESPACE)
    result = op_cluster.helm(
        "install",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--set",
        f"fullnameOverride={FULLNAME}",
        "--set",
        f"jobs.s3.endpoint={s3_server.endpoint_url}",
    )
    assert result.returncode == 0, f"helm install failed: {result.stderr}"
    op_cluster.kubectl(
        "create",
        "secret",
        "generic",
        "s3-credentials",
        "-n",
        NAMESPACE,
        f"--from-literal=AWS_ACCESS_KEY_ID={TEST_ACCESS_KEY}",
        f"--from-literal=AWS_SECRET_ACCESS_KEY={TEST_SECRET_KEY}",
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name=REGION,
        aws_access_key_id=TEST_ACCESS_KEY,
        aws_secret_access_key=TEST_SECRET_KEY,
    )
    kubeconfig = op_cluster.token_kubeconfig(
        NAMESPACE, OPERATOR_SA, op_cluster.plane.state_dir / "operator.kubeconfig"
    )
    return Release(op_cluster, NAMESPACE, s3_server.endpoint_url, s3, kubeconfig, result.stdout)


@pytest.fixture(scope="module")
def demo_data(release: Release) -> str:
    """``s3://safe-synth-demo/input/demo.csv`` (again per module: other suites may reset the server)."""
    s3 = release.s3
    try:
        s3.create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - already there is fine
        if "BucketAlready" not in type(exc).__name__ and "BucketAlready" not in str(exc):
            raise
    s3.put_object(Bucket=BUCKET, Key="input/demo.csv", Body=demo_slice())  # type: ignore[attr-defined]
    return f"s3://{BUCKET}/input/demo.csv"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep and point to the logs when a test that used the operator cluster fails."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and "op_cluster" in getattr(item, "fixturenames", ()):
        _STATE["failed"] = True
        if _STATE["logs"]:
            report.sections.append(
                ("operator cluster logs", f"component, pod and operator logs kept in {_STATE['logs']}")
            )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print where the logs were kept."""
    logs = _STATE["logs"]
    if logs and _STATE["failed"] and Path(str(logs)).exists():
        terminalreporter.write_sep("-", "operator cluster")
        terminalreporter.write_line(f"operator cluster component, pod and operator logs kept in: {logs}")
