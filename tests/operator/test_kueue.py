"""Queues on the test cluster: the suspend/admit protocol of Kueue, created-suspended jobs, managedBy.

The admission controller is the TEST STAND-IN ``kueue_admission_stand_in.py`` (not Kueue; the real
Kueue controller is in ``test_kueue_real.py``, see docs/test-cluster.md, "Kueue"), one ClusterQueue
of 1 GPU; the runner is the TEST STAND-IN
``stand_in_runner.py`` (``slow`` data sources hold the GPU for 4 s). The operator runs with the
chart's settings (its default ``SSO_PROPAGATE_LABELS`` copies the queue-name label).
"""

from __future__ import annotations

import calendar
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from e2e_support import STAND_IN_RUNNER, OperatorProcess, Release, ssj_manifest, wait_for
from kueue_admission_stand_in import QUEUE_LABEL, AdmissionStandIn

pytestmark = pytest.mark.cluster
QUEUE = "gpu-queue"


@pytest.fixture(scope="module")
def operator(release: Release) -> Iterator[OperatorProcess]:
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


def cr(release: Release, name: str) -> dict[str, Any]:
    return release.cluster.kubectl_json("get", "ssj", name, "-n", release.namespace)


def phase(release: Release, name: str) -> str | None:
    return (cr(release, name).get("status") or {}).get("phase")


def condition(body: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next((c for c in (body.get("status") or {}).get("conditions") or [] if c["type"] == ctype), {})


def jobs_of(release: Release, name: str) -> list[dict[str, Any]]:
    selector = f"safesynthesizer.io/job={name}"
    return release.cluster.kubectl_json("get", "jobs", "-n", release.namespace, "-l", selector)["items"]


def pods_of(release: Release, name: str) -> list[dict[str, Any]]:
    selector = f"safesynthesizer.io/job={name}"
    return release.cluster.kubectl_json("get", "pods", "-n", release.namespace, "-l", selector)["items"]


def create(release: Release, name: str, labels: dict[str, str] | None = None, **spec: Any) -> None:
    body = {
        "dataSource": f"s3://safe-synth-demo/input/{spec.pop('data', 'demo')}.csv",
        "output": f"s3://safe-synth-demo/output/{name}/",
        **spec,
    }
    manifest = ssj_manifest(name, release.namespace, body, labels=labels)
    release.cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest))


def delete(release: Release, *names: str) -> None:
    release.cluster.kubectl("delete", "ssj", *names, "-n", release.namespace, "--wait=true", timeout=60)


def test_queue_admits_one_gpu_job_at_a_time_in_order(release: Release, operator: OperatorProcess) -> None:
    queue = {QUEUE_LABEL: QUEUE}
    with AdmissionStandIn(release.cluster.kubeconfig, release.namespace, QUEUE, gpus=1) as admission:
        create(release, "q-first", labels=queue, data="slow")
        time.sleep(1.1)  # creationTimestamp has second resolution: a clear queue order
        create(release, "q-second", labels=queue, data="slow")
        wait_for(lambda: phase(release, "q-first") == "Running", 60, "the first job to run")
        # the second waits in the queue: its Job exists, suspended, without pods; the CR says so
        second = wait_for(
            lambda: (
                (body := cr(release, "q-second"))
                and condition(body, "Suspended").get("reason") == "Queued"
                and body
            ),
            30,
            "the second job to be queued",
        )
        assert second["status"]["phase"] == "Pending" and QUEUE in second["status"]["message"]
        (job,) = jobs_of(release, "q-second")
        assert job["spec"]["suspend"] is True and job["metadata"]["labels"][QUEUE_LABEL] == QUEUE
        assert not pods_of(release, "q-second")

        wait_for(lambda: phase(release, "q-first") == "Succeeded", 60, "the first job to succeed")
        wait_for(lambda: phase(release, "q-second") == "Succeeded", 60, "the second job to succeed")
        assert not admission.errors, admission.errors
        names = [name for name, _ in admission.admitted]
        first_job, second_job = jobs_of(release, "q-first")[0], jobs_of(release, "q-second")[0]
        # both Jobs were created suspended (the stand-in only admits suspended Jobs), in order
        assert names == [first_job["metadata"]["name"], second_job["metadata"]["name"]]
        first_done = first_job["status"]["completionTime"]
        second_admitted = admission.admitted[1][1]
        # admitted only once the first had finished (completionTime has second resolution)
        assert second_admitted >= calendar.timegm(time.strptime(first_done, "%Y-%m-%dT%H:%M:%SZ")) - 1
        admitted = condition(cr(release, "q-second"), "Suspended")
        assert admitted["status"] == "False" and admitted["reason"] == "Admitted"
    delete(release, "q-first", "q-second")


def test_created_suspended_waits_and_runs_when_resumed(release: Release, operator: OperatorProcess) -> None:
    create(release, "born-suspended", suspend=True)
    wait_for(lambda: phase(release, "born-suspended") == "Suspended", 30, "phase Suspended")
    time.sleep(5)  # two resyncs later: still waiting, never Cancelled, no Job
    body = cr(release, "born-suspended")
    assert body["status"]["phase"] == "Suspended" and not jobs_of(release, "born-suspended")
    assert condition(body, "Suspended")["status"] == "True"
    release.cluster.kubectl(
        "patch",
        "ssj",
        "born-suspended",
        "-n",
        release.namespace,
        "--type=merge",
        "-p",
        '{"spec":{"suspend":false}}',
    )
    wait_for(lambda: phase(release, "born-suspended") == "Succeeded", 60, "the resumed job to succeed")
    assert condition(cr(release, "born-suspended"), "Suspended")["reason"] == "Resumed"
    delete(release, "born-suspended")


def test_suspending_a_queued_job_keeps_it_waiting(release: Release, operator: OperatorProcess) -> None:
    """Nobody admits ``no-admission``: the Job stays suspended; spec.suspend then makes it Suspended."""
    create(release, "never-admitted", labels={QUEUE_LABEL: "no-admission"})
    wait_for(
        lambda: condition(cr(release, "never-admitted"), "Suspended").get("reason") == "Queued",
        30,
        "the job to be queued",
    )
    release.cluster.kubectl(
        "patch",
        "ssj",
        "never-admitted",
        "-n",
        release.namespace,
        "--type=merge",
        "-p",
        '{"spec":{"suspend":true}}',
    )
    wait_for(lambda: phase(release, "never-admitted") == "Suspended", 30, "phase Suspended (not Cancelled)")
    wait_for(lambda: not jobs_of(release, "never-admitted"), 30, "the queued Job to be deleted")
    delete(release, "never-admitted")


def test_managed_by_goes_to_the_job_and_the_job_controller_leaves_it_alone(
    release: Release, operator: OperatorProcess
) -> None:
    create(release, "external", managedBy="example.com/external-controller")
    (job,) = wait_for(lambda: jobs_of(release, "external"), 30, "the Job")
    assert job["spec"]["managedBy"] == "example.com/external-controller"
    time.sleep(3)
    assert not pods_of(release, "external")  # the built-in Job controller does not run it
    assert phase(release, "external") == "Pending"
    delete(release, "external")
