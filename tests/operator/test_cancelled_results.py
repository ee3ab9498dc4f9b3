"""The reconciler keeps a cancelled run's terminated pod (from the pod watch) and writes what the
stopped runner published into the CR's status; pods of other CRs, other runs or running CRs are
ignored. A minimal in-memory stand-in of ``KubeApi`` (no cluster)."""

from __future__ import annotations

import json
from typing import Any

from safe_synthesizer_operator import jobs
from safe_synthesizer_operator.reconciler import Reconciler
from safe_synthesizer_operator.settings import OperatorSettings

NS, NAME, UID = "team", "long", "uid-1"
MESSAGE = json.dumps(
    {
        "status": "partial",
        "results": [{"id": "summary", "format": "json", "url": "s3://b/o/summary.json"}],
        "message": "stopped during training",
    }
)


class FakeKube:
    """Only what the cancel path of a reconcile calls."""

    def __init__(self, cr: dict[str, Any]) -> None:
        self.cr = cr
        self.events: list[tuple[str, str]] = []

    def get_cr(self, namespace: str, name: str) -> dict[str, Any] | None:
        return json.loads(json.dumps(self.cr))

    def list_jobs(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        return []

    def patch_cr_status(self, namespace: str, name: str, patch: dict, resource_version: str) -> dict:
        status = dict(self.cr.get("status") or {})
        status.update(patch)
        self.cr["status"] = status
        self.cr["metadata"]["resourceVersion"] = str(int(resource_version) + 1)
        return json.loads(json.dumps(self.cr))

    def post_event(self, cr: dict, kind: str, reason: str, message: str) -> None:
        self.events.append((kind, reason))


def cancelled_cr(run: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "safesynthesizer.io/v1alpha1",
        "kind": "SafeSynthesizerJob",
        "metadata": {"name": NAME, "namespace": NS, "uid": UID, "generation": 2, "resourceVersion": "5"},
        "spec": {"dataSource": "s3://b/in.csv", "output": "s3://b/o/", "suspend": True},
        "status": {
            "phase": "Cancelled",
            "jobName": jobs.job_name(NAME, UID, run),
            "message": "spec.suspend is true: cancelled",
            "conditions": [
                {
                    "type": "Suspended",
                    "status": "True",
                    "reason": "Suspended",
                    "message": "spec.suspend is true: cancelled",
                    "lastTransitionTime": "2026-01-02T03:04:05Z",
                    "observedGeneration": 2,
                }
            ],
            "observedGeneration": 2,
        },
    }


def runner_pod(run: int = 1, uid: str = UID, message: str | None = MESSAGE) -> dict[str, Any]:
    state = {"terminated": {"exitCode": 0, "message": message}} if message else {"running": {}}
    return {
        "metadata": {
            "name": "p",
            "namespace": NS,
            "labels": {jobs.LABEL_JOB: NAME, jobs.LABEL_JOB_UID: uid, jobs.LABEL_RUN: str(run)},
        },
        "status": {"containerStatuses": [{"name": "runner", "state": state}]},
    }


def test_a_cancelled_runs_last_message_lands_in_the_status() -> None:
    kube = FakeKube(cancelled_cr())
    reconciler = Reconciler(kube, OperatorSettings(metrics_port=0))  # type: ignore[arg-type]
    assert reconciler.pod_event(runner_pod()) is None  # CR not seen yet: not ours to keep
    reconciler.observe(kube.cr)
    assert reconciler.pod_event(runner_pod(message=None)) is None  # still running
    assert reconciler.pod_event(runner_pod()) == (NS, NAME)
    reconciler.reconcile(NS, NAME, "pod")
    status = kube.cr["status"]
    assert status["phase"] == "Cancelled"
    assert [r["url"] for r in status["results"]] == ["s3://b/o/summary.json"]
    assert "stopped during training" in status["message"]
    assert any(c["type"] == "PartialResults" and c["reason"] == "Cancelled" for c in status["conditions"])


def test_pods_of_other_runs_or_other_crs_and_running_crs_are_ignored() -> None:
    kube = FakeKube(cancelled_cr(run=1))
    reconciler = Reconciler(kube, OperatorSettings(metrics_port=0))  # type: ignore[arg-type]
    reconciler.observe(kube.cr)
    assert reconciler.pod_event(runner_pod(run=0)) == (NS, NAME)  # an earlier run's pod
    reconciler.reconcile(NS, NAME, "pod")
    assert not kube.cr["status"].get("results")
    assert reconciler.pod_event(runner_pod(uid="other-uid")) == (NS, NAME)
    reconciler.reconcile(NS, NAME, "pod")
    assert not kube.cr["status"].get("results")
    running = cancelled_cr()
    running["spec"]["suspend"] = False
    reconciler.observe(running)
    assert reconciler.pod_event(runner_pod()) is None
