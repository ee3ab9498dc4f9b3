"""Queues on the test cluster with the REAL Kueue controller (``sigs.k8s.io/kueue/cmd/kueue``).

Kueue is built from its Go module by ``make kueue-bin`` (not by ``make cluster-bins``: see
docs/test-cluster.md, "Kueue"); without it this module skips with the reason, and the
suspend/admit protocol is still covered by ``test_kueue.py`` against the admission stand-in.
Kueue runs as a local process with its CRDs and its Job/Kueue webhooks registered by URL
(``kueue_controller.py``). One ResourceFlavor, a ClusterQueue of 1 ``nvidia.com/gpu`` (StrictFIFO)
and a LocalQueue in the release namespace; two SafeSynthesizerJobs of 1 GPU each (the default) in
that queue: the first runs, the second waits (Job suspended, Workload without quota) and runs once
the first has finished. Also: Kueue's Job webhook is live; a job held in the queue (ClusterQueue
``stopPolicy: Hold``) that is suspended and resumed waits again and runs once admitted. The runner
is the TEST STAND-IN ``stand_in_runner.py`` (``slow`` data sources hold the GPU for 4 s).
"""

from __future__ import annotations

import calendar
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_support import STAND_IN_RUNNER, OperatorProcess, Release, wait_for
from kueue_controller import KueueController, kueue_missing
from test_kueue import QUEUE_LABEL, condition, cr, create, delete, jobs_of, phase, pods_of

pytestmark = pytest.mark.cluster
FLAVOR, CLUSTER_QUEUE, LOCAL_QUEUE = "default-flavor", "gpu-cluster-queue", "gpu-local-queue"


def queue_objects(namespace: str) -> list[dict[str, Any]]:
    """ResourceFlavor, ClusterQueue (1 GPU; cpu and memory plenty) and LocalQueue."""
    api = "kueue.x-k8s.io/v1beta2"
    quota = {"cpu": "64", "memory": "256Gi", "nvidia.com/gpu": "1"}
    return [
        {"apiVersion": api, "kind": "ResourceFlavor", "metadata": {"name": FLAVOR}},
        {
            "apiVersion": api,
            "kind": "ClusterQueue",
            "metadata": {"name": CLUSTER_QUEUE},
            "spec": {
                "namespaceSelector": {},
                "queueingStrategy": "StrictFIFO",
                "resourceGroups": [
                    {
                        "coveredResources": list(quota),
                        "flavors": [
                            {
                                "name": FLAVOR,
                                "resources": [{"name": k, "nominalQuota": v} for k, v in quota.items()],
                            }
                        ],
                    }
                ],
            },
        },
        {
            "apiVersion": api,
            "kind": "LocalQueue",
            "metadata": {"name": LOCAL_QUEUE, "namespace": namespace},
            "spec": {"clusterQueue": CLUSTER_QUEUE},
        },
    ]


def cluster_queue_active(release: Release) -> bool:
    """Whether Kueue reports the ClusterQueue Active (flavour found, quota set up)."""
    body = release.cluster.kubectl_json("get", "clusterqueue", CLUSTER_QUEUE)
    return condition(body, "Active").get("status") == "True"


@pytest.fixture(scope="module")
def kueue(release: Release, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KueueController]:
    reason = kueue_missing()
    if reason:
        pytest.skip(f"real Kueue not run: {reason} (test_kueue.py covers the protocol with the stand-in)")
    controller = KueueController(release.cluster, Path(tmp_path_factory.mktemp("kueue")))
    try:
        controller.start()
        objects = "---\n".join(yaml.safe_dump(o) for o in queue_objects(release.namespace))
        release.cluster.kubectl("apply", "-f", "-", stdin=objects)
        wait_for(lambda: cluster_queue_active(release), 30, "the ClusterQueue to be Active")
        yield controller
        for kind, name in (("localqueue", LOCAL_QUEUE), ("clusterqueue", CLUSTER_QUEUE)):
            release.cluster.kubectl(
                "delete", kind, name, "-n", release.namespace, "--timeout=30s", check=False
            )
        release.cluster.kubectl("delete", "resourceflavor", FLAVOR, "--timeout=30s", check=False)
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def operator(release: Release, kueue: KueueController) -> Iterator[OperatorProcess]:
    process = release.operator(
        clusterwide=True,
        SSO_RUNNER_COMMAND=json.dumps(["python", str(STAND_IN_RUNNER)]),
        SSO_RESYNC_SECONDS="2",
        SSO_WAIT_SECONDS="1",
    )
    assert process.env["SSO_PROPAGATE_LABELS"].split(",")[0] == QUEUE_LABEL  # the chart's default
    process.start()
    yield process
    process.stop()


def workload_of(release: Release, job_name: str) -> dict[str, Any] | None:
    """The Kueue Workload owned by the Job ``job_name`` (Kueue's batch/Job integration creates it)."""
    items = release.cluster.kubectl_json("get", "workloads.kueue.x-k8s.io", "-n", release.namespace)["items"]
    for item in items:
        if any(ref.get("name") == job_name for ref in item["metadata"].get("ownerReferences") or []):
            return item
    return None


def epoch(timestamp: str) -> int:
    """A Kubernetes timestamp (second resolution) as seconds since the epoch."""
    return calendar.timegm(time.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ"))


def test_kueue_webhooks_are_live(release: Release, kueue: KueueController) -> None:
    """Kueue's mutating Job webhook (registered by URL) suspends a queued Job: a server-side dry run."""
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "webhook-probe",
            "namespace": release.namespace,
            "labels": {QUEUE_LABEL: LOCAL_QUEUE},
        },
        "spec": {
            "suspend": False,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
                }
            },
        },
    }
    out = release.cluster.kubectl(
        "create", "--dry-run=server", "-o", "json", "-f", "-", stdin=json.dumps(job)
    )
    assert json.loads(out)["spec"]["suspend"] is True
    assert "/mutate-batch-v1-job" in kueue.webhook_paths and "/validate-batch-v1-job" in kueue.webhook_paths


def test_real_kueue_admits_one_gpu_job_at_a_time_in_order(
    release: Release, kueue: KueueController, operator: OperatorProcess
) -> None:
    queue = {QUEUE_LABEL: LOCAL_QUEUE}
    create(release, "rq-first", labels=queue, data="slow")
    time.sleep(1.1)  # creationTimestamp has second resolution: a clear queue order
    create(release, "rq-second", labels=queue, data="slow")
    wait_for(lambda: phase(release, "rq-first") == "Running", 90, "the first job to run (admitted by Kueue)")
    first_job = jobs_of(release, "rq-first")[0]
    first_workload = wait_for(lambda: workload_of(release, first_job["metadata"]["name"]), 30, "its Workload")
    assert condition(first_workload, "Admitted").get("status") == "True", first_workload.get("status")
    admission = first_workload["status"]["admission"]
    assert admission["clusterQueue"] == CLUSTER_QUEUE
    # Kueue counted the Job's GPU (a limit only: Kueue takes limits as the missing requests)
    assert admission["podSetAssignments"][0]["resourceUsage"]["nvidia.com/gpu"] == "1", admission

    # the second waits in the queue: its Job exists, suspended, without pods; its Workload holds no quota
    second = wait_for(
        lambda: (
            (body := cr(release, "rq-second"))
            and condition(body, "Suspended").get("reason") == "Queued"
            and body
        ),
        30,
        "the second job to be queued",
    )
    assert second["status"]["phase"] == "Pending" and LOCAL_QUEUE in second["status"]["message"]
    (job,) = jobs_of(release, "rq-second")
    assert job["spec"]["suspend"] is True and job["metadata"]["labels"][QUEUE_LABEL] == LOCAL_QUEUE
    assert not pods_of(release, "rq-second")
    waiting = wait_for(lambda: workload_of(release, job["metadata"]["name"]), 30, "the second Workload")
    assert not (waiting.get("status") or {}).get("admission"), waiting["status"]
    assert condition(waiting, "QuotaReserved").get("status") != "True", waiting["status"]

    wait_for(lambda: phase(release, "rq-first") == "Succeeded", 90, "the first job to succeed")
    wait_for(lambda: phase(release, "rq-second") == "Succeeded", 90, "the second job to succeed")
    first_done = epoch(jobs_of(release, "rq-first")[0]["status"]["completionTime"])
    admitted = workload_of(release, job["metadata"]["name"])
    assert admitted is not None
    admitted_at = epoch(condition(admitted, "Admitted")["lastTransitionTime"])
    assert admitted_at >= first_done, (admitted_at, first_done)  # only once the first had finished
    assert (
        condition(workload_of(release, first_job["metadata"]["name"]) or {}, "Finished")["status"] == "True"
    )
    resumed = condition(cr(release, "rq-second"), "Suspended")
    assert resumed["status"] == "False" and resumed["reason"] == "Admitted"
    assert kueue.component is not None and kueue.component.alive(), kueue.log_tail()
    delete(release, "rq-first", "rq-second")


def set_stop_policy(release: Release, policy: str) -> None:
    """``Hold`` stops the ClusterQueue admitting (admitted workloads keep running); ``None`` resumes."""
    patch = json.dumps({"spec": {"stopPolicy": policy}})
    release.cluster.kubectl("patch", "clusterqueue", CLUSTER_QUEUE, "--type=merge", "-p", patch)


def test_real_kueue_queued_job_suspended_then_resumed(
    release: Release, kueue: KueueController, operator: OperatorProcess
) -> None:
    """A job held in Kueue's queue, suspended (its Job and Workload go), resumed, then admitted."""
    set_stop_policy(release, "Hold")
    try:
        create(release, "rq-held", labels={QUEUE_LABEL: LOCAL_QUEUE})
        wait_for(
            lambda: condition(cr(release, "rq-held"), "Suspended").get("reason") == "Queued", 30, "queued"
        )
        (job,) = jobs_of(release, "rq-held")
        held = wait_for(lambda: workload_of(release, job["metadata"]["name"]), 30, "its Workload")
        assert not (held.get("status") or {}).get("admission"), held["status"]
        suspend = '{"spec":{"suspend":true}}'
        release.cluster.kubectl(
            "patch", "ssj", "rq-held", "-n", release.namespace, "--type=merge", "-p", suspend
        )
        wait_for(lambda: phase(release, "rq-held") == "Suspended", 30, "phase Suspended (not Cancelled)")
        wait_for(lambda: not jobs_of(release, "rq-held"), 30, "the queued Job to be deleted")
        wait_for(lambda: workload_of(release, job["metadata"]["name"]) is None, 30, "its Workload to go")
        resume = '{"spec":{"suspend":false}}'
        release.cluster.kubectl(
            "patch", "ssj", "rq-held", "-n", release.namespace, "--type=merge", "-p", resume
        )
        (again,) = wait_for(lambda: jobs_of(release, "rq-held"), 30, "a new queued Job")
        assert again["spec"]["suspend"] is True and again["metadata"]["name"] != job["metadata"]["name"]
        time.sleep(3)  # the ClusterQueue holds: still queued
        assert phase(release, "rq-held") == "Pending" and not pods_of(release, "rq-held")
    finally:
        set_stop_policy(release, "None")
    wait_for(lambda: phase(release, "rq-held") == "Succeeded", 90, "the resumed job to run once admitted")
    assert condition(cr(release, "rq-held"), "Suspended")["reason"] == "Admitted"
    delete(release, "rq-held")
