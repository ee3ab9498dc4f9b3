"""50 SafeSynthesizerJobs applied at once: every one reaches a terminal phase, none gets two Jobs.

The runner is the TEST STAND-IN ``stand_in_runner.py`` (``SSO_RUNNER_COMMAND``): this measures the
operator, the Job controller and the node agent, not the pipeline. Every fifth job has "missing"
data, so the stand-in fails it with exit code 1 (podFailurePolicy FailJob) like the real runner.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from e2e_support import STAND_IN_RUNNER, OperatorProcess, Release, run_burst

pytestmark = pytest.mark.cluster
COUNT = 50


@pytest.fixture(scope="module")
def stand_in_operator(release: Release) -> Iterator[OperatorProcess]:
    """The operator with the stand-in runner command (this module only)."""
    command = json.dumps(["python", str(STAND_IN_RUNNER)])
    process = release.operator(SSO_RUNNER_COMMAND=command, SSO_RESYNC_SECONDS="5").start()
    yield process
    process.stop()


def test_fifty_jobs_at_once_all_finish_with_exactly_one_job_each(
    release: Release, stand_in_operator: OperatorProcess, record_property
) -> None:
    result = run_burst(
        release.cluster, release.namespace, COUNT, failing_every=5, prefix="burst", timeout=240
    )
    assert len(result.phases) == COUNT
    failed = sorted(n for n, p in result.phases.items() if p == "Failed")
    succeeded = sorted(n for n, p in result.phases.items() if p == "Succeeded")
    assert len(failed) == COUNT // 5 and len(succeeded) == COUNT - COUNT // 5, result.phases
    assert all(int(n.rsplit("-", 1)[1]) % 5 == 4 for n in failed)
    duplicates = {n: c for n, c in result.jobs_per_cr.items() if c != 1}
    assert not duplicates, f"CRs without exactly one Job: {duplicates}"
    assert len(result.latencies) == COUNT
    rss = stand_in_operator.rss_kib()
    record_property("burst", result.summary())
    record_property("operator_rss_kib", rss)
    print(
        f"\n{result.summary()}; operator RSS {rss.get('VmRSS', 0) / 1024:.0f} MiB (peak {rss.get('VmHWM', 0) / 1024:.0f} MiB)"
    )
    metrics = stand_in_operator.metrics()
    assert "safesynth_jobs_created_total 50.0" in metrics, metrics
    assert stand_in_operator.healthy()
    release.cluster.kubectl(
        "delete", "ssj", "-n", release.namespace, "-l", "safesynthesizer.io/test-burst=burst", "--wait=false"
    )
