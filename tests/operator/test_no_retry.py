"""A deterministic runner failure (exit code 4) fails the Job at once on the real Job controller.

The runner is the TEST STAND-IN ``stand_in_runner.py`` (``SSO_RUNNER_COMMAND``): a data source
containing ``novalid`` makes it exit 4 with the real runner's ``NoValidRecords`` termination message
(built with the runner's contract model; ``tests/test_failed_run.py`` runs the real runner with an
adapter that makes no valid record and checks the same message). What this module checks is what
only a real control plane shows: the Job's ``podFailurePolicy`` ends it after one pod (no retry
spent although ``backoffLimit`` allows more), and the CR carries the reason and the links.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from e2e_support import STAND_IN_RUNNER, OperatorProcess, Release, ssj_manifest, wait_for

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def stand_in_operator(release: Release) -> Iterator[OperatorProcess]:
    command = json.dumps(["python", str(STAND_IN_RUNNER)])
    process = release.operator(SSO_RUNNER_COMMAND=command, SSO_RESYNC_SECONDS="2").start()
    yield process
    process.stop()


def cr(release: Release, name: str) -> dict[str, Any]:
    return release.cluster.kubectl_json("get", "ssj", name, "-n", release.namespace)


@pytest.mark.parametrize(
    ("source", "reason", "code"), [("novalid", "NoValidRecords", 4), ("missing", "InvalidInput", 1)]
)
def test_a_deterministic_failure_is_not_retried(
    release: Release, stand_in_operator: OperatorProcess, source: str, reason: str, code: int
) -> None:
    name = f"no-retry-{code}"
    output = f"s3://safe-synth-demo/output/{name}/"
    spec = {"dataSource": f"s3://safe-synth-demo/input/{source}.csv", "output": output}
    release.cluster.kubectl(
        "apply", "-f", "-", stdin=yaml.safe_dump(ssj_manifest(name, release.namespace, spec))
    )
    body = wait_for(
        lambda: (b := cr(release, name)) and (b.get("status") or {}).get("phase") == "Failed" and b,
        90,
        f"{name} to fail",
    )
    failed = next(c for c in body["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == reason, failed
    assert f"exit code {code}" in body["status"]["message"], body["status"]
    (job,) = release.cluster.kubectl_json(
        "get", "jobs", "-n", release.namespace, "-l", f"safesynthesizer.io/job={name}"
    )["items"]
    assert job["spec"]["backoffLimit"] > 0  # a retry was allowed, and the policy did not spend it
    assert job["status"]["failed"] == 1 and not job["status"].get("active"), job["status"]
    assert any(
        c["type"] == "Failed" and c["reason"] == "PodFailurePolicy" for c in job["status"]["conditions"]
    )
    pods = release.cluster.kubectl_json(
        "get", "pods", "-n", release.namespace, "-l", f"safesynthesizer.io/job={name}"
    )["items"]
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    if code == 4:
        links = {r["id"]: r["url"] for r in body["status"].get("results") or []}
        assert links == {"summary": output + "summary.json", "logs": output + "logs.jsonl"}, body["status"]
    release.cluster.kubectl("delete", "ssj", name, "-n", release.namespace, "--wait=true", timeout=60)
