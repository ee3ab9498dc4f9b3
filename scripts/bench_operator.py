"""``make bench-operator``: how fast the operator turns SafeSynthesizerJobs into Jobs, and its memory.

Starts a real control plane with the test node agent (``make cluster-bins``; see
docs/test-cluster.md), installs the CRD, runs the operator as a process (admin kubeconfig) whose
runner command is the TEST STAND-IN ``tests/operator/stand_in_runner.py`` (answers like the runner
in well under a second, so the figures are the operator's, the Job controller's and the node
agent's, not the pipeline's), applies ``--count`` CRs in one ``kubectl apply`` (every fifth with
missing data: Failed) and prints:

* create→Job latency p50/p95/max (the CR's and the Job's ADDED events on watches, local clock),
* the time until every CR is Succeeded or Failed, and that each has exactly one Job,
* the operator's resident memory (VmRSS now, VmHWM peak) after the burst, and idle before it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "operator"))

from e2e_support import STAND_IN_RUNNER, Cluster, OperatorProcess, percentile, run_burst  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 1 when a CR did not get exactly one Job."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="CRs applied at once (default 50)")
    parser.add_argument("--rounds", type=int, default=1, help="bursts, one after the other (default 1)")
    args = parser.parse_args(argv)

    from harness import missing_binaries

    missing = missing_binaries()
    if missing:
        print(f"missing cluster binaries {missing}: run `make cluster-bins`", file=sys.stderr)
        return 2
    started = time.monotonic()
    cluster = Cluster.start(gpus=1)
    operator: OperatorProcess | None = None
    ok = True
    try:
        print(f"control plane up in {time.monotonic() - started:.1f}s ({cluster.plane.server})")
        cluster.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
        # poll: `kubectl wait` fails (not waits) while the new CRD's status.conditions is still null
        for _ in range(300):
            established = cluster.kubectl(
                "get",
                "crd/safesynthesizerjobs.safesynthesizer.io",
                "-o",
                'jsonpath={.status.conditions[?(@.type=="Established")].status}',
                check=False,
            )
            if established.strip() == "True":
                break
            time.sleep(0.2)
        cluster.kubectl("create", "namespace", "bench")
        operator = OperatorProcess(
            cluster.kubeconfig,
            {
                "SSO_RUNNER_COMMAND": json.dumps(["python", str(STAND_IN_RUNNER)]),
                "SSO_PROGRESS_REPORTING": "false",
            },
            cluster.plane.logs_dir / "operator.log",
            namespaces=["bench"],
        ).start()
        time.sleep(2)
        idle = operator.rss_kib()
        print(f"operator idle: VmRSS {idle['VmRSS'] / 1024:.0f} MiB")
        latencies: list[float] = []
        for round_no in range(args.rounds):
            result = run_burst(cluster, "bench", args.count, prefix=f"r{round_no}", timeout=600)
            latencies += list(result.latencies.values())
            wrong = {n: c for n, c in result.jobs_per_cr.items() if c != 1}
            ok = ok and not wrong
            phases = sorted(set(result.phases.values()), key=str)
            print(
                f"round {round_no + 1}: {result.summary()}; phases {phases}; CRs without exactly one Job: {wrong or 'none'}"
            )
        rss = operator.rss_kib()
        print(
            f"create->Job latency over {len(latencies)} CRs: p50 {percentile(latencies, 0.5):.2f}s, "
            f"p95 {percentile(latencies, 0.95):.2f}s, max {max(latencies):.2f}s"
        )
        print(
            f"operator memory after the burst: VmRSS {rss['VmRSS'] / 1024:.0f} MiB, peak VmHWM {rss['VmHWM'] / 1024:.0f} MiB"
        )
    finally:
        if operator is not None:
            operator.stop()
        cluster.stop(keep_logs=not ok)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
