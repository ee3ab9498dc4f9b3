"""The chart's own operator Deployment, run in the test cluster (not a local operator process).

A control plane of its own with the deployment and replicaset controllers, so the chart's
Deployment makes a ReplicaSet and a pod, and the test node agent runs that pod's command
(``python -m safe_synthesizer_operator``, the image playing no part: see docs/test-cluster.md)
with the chart's operator ServiceAccount token. That operator then runs a job through the chart's
job ServiceAccount with the real runner against the loopback S3 server. What this covers beyond
``test_e2e``: the Deployment's command, arguments and environment as rendered, its liveness
endpoint, and the chart's RBAC used from inside a pod.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from e2e_support import CHART, SMALL_CONFIG, Cluster, demo_slice, free_port, ssj_manifest, wait_for

pytestmark = pytest.mark.cluster

NAMESPACE = "ssj-chart"
FULLNAME = "ssj-chart"
BUCKET = "chart-deployment"


@pytest.fixture(scope="module")
def deployed(s3_server) -> Iterator[dict[str, Any]]:
    """A fresh control plane, the chart installed with its operator Deployment running as a pod."""
    import boto3
    from harness import default_bin_dir, missing_binaries
    from s3_server import REGION, TEST_ACCESS_KEY, TEST_SECRET_KEY

    missing = missing_binaries() + [b for b in ("helm",) if not (default_bin_dir() / b).is_file()]
    if missing:
        pytest.fail(f"Kubernetes test binaries missing: {', '.join(missing)}; run `make cluster-bins`")
    cluster = Cluster.start(gpus=0, extra_controllers=("deployment-controller", "replicaset-controller"))
    failed = True
    try:
        health_port = free_port()
        cluster.kubectl("create", "namespace", NAMESPACE)
        cluster.kubectl(
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
        try:
            s3.create_bucket(Bucket=BUCKET)
        except Exception as exc:  # noqa: BLE001 - already there is fine
            if "BucketAlready" not in type(exc).__name__ and "BucketAlready" not in str(exc):
                raise
        s3.put_object(Bucket=BUCKET, Key="input/demo.csv", Body=demo_slice())
        result = cluster.helm(
            "upgrade",
            "--install",
            "ssj",
            str(CHART),
            "--namespace",
            NAMESPACE,
            "--set",
            f"fullnameOverride={FULLNAME}",
            "--set",
            f"jobs.s3.endpoint={s3_server.endpoint_url}",
            # host network: a free port instead of 8080, and no metrics listener
            "--set",
            f"operator.healthPort={health_port}",
            "--set",
            "metrics.enabled=false",
            "--set",
            "operator.resyncSeconds=3",
            "--set",
            "operator.logFormat=full",
        )
        assert result.returncode == 0, f"helm install failed: {result.stderr}"
        yield {"cluster": cluster, "s3": s3, "health_port": health_port}
        failed = False
    finally:
        cluster.stop(keep_logs=failed)


def operator_pods(cluster: Cluster) -> list[dict[str, Any]]:
    return cluster.kubectl_json("get", "pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=operator")[
        "items"
    ]


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_the_chart_deployment_runs_the_operator_and_a_job_end_to_end(deployed) -> None:
    cluster: Cluster = deployed["cluster"]
    # the Deployment -> ReplicaSet -> pod chain, and the pod's command actually running
    pod = wait_for(
        lambda: next(
            (p for p in operator_pods(cluster) if (p.get("status") or {}).get("phase") == "Running"), None
        ),
        120,
        "the operator pod to run",
    )
    assert pod["spec"]["serviceAccountName"] == f"{FULLNAME}-operator"
    assert pod["spec"]["containers"][0]["command"] == ["python", "-m", "safe_synthesizer_operator"]
    wait_for(lambda: healthy(deployed["health_port"]), 90, "the operator pod's /healthz")

    manifest = ssj_manifest(
        "through-the-chart",
        NAMESPACE,
        {
            "dataSource": f"s3://{BUCKET}/input/demo.csv",
            "output": f"s3://{BUCKET}/output/through-the-chart/",
            "s3": {"credentialsSecret": "s3-credentials"},
            "resources": {"gpu": 0},
            "config": SMALL_CONFIG,
        },
    )
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest))

    def finished() -> dict[str, Any] | None:
        cr = cluster.kubectl_json("get", "ssj", "through-the-chart", "-n", NAMESPACE)
        return cr if (cr.get("status") or {}).get("phase") in ("Succeeded", "Failed") else None

    cr = wait_for(finished, 300, "the job to finish through the chart's operator", interval=2)
    status = cr["status"]
    assert status["phase"] == "Succeeded", status
    results = {r["id"]: r for r in status["results"]}
    body = deployed["s3"].get_object(Bucket=BUCKET, Key="output/through-the-chart/synthetic_data.csv")
    assert results["synthetic_data"]["canonical"] is True
    assert len(body["Body"].read().decode().strip().splitlines()) == 11  # header + 10 records
    # the runner pod ran with the chart's job ServiceAccount (its progress patches need its RBAC)
    (job,) = cluster.kubectl_json(
        "get", "jobs", "-n", NAMESPACE, "-l", f"safesynthesizer.io/job-uid={cr['metadata']['uid']}"
    )["items"]
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == f"{FULLNAME}-job"
    assert status["progress"]["stage"] == "done"
    # the operator pod's own log: no RBAC refusal anywhere
    log = cluster.kubectl("logs", "-n", NAMESPACE, pod["metadata"]["name"])
    assert "Forbidden" not in log and " 403" not in log, log[-2000:]
