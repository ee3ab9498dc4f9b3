"""TEST STAND-IN for ``safe-synthesizer run``: answers like the runner, in well under a second.

Used only where the real pipeline would make a test measure the runner instead of the operator
(50 jobs at once, ``make bench-operator``): the operator is started with
``SSO_RUNNER_COMMAND='["python", ".../stand_in_runner.py"]'``. It reads the job document the
operator mounted (``--config``), and writes the runner's termination message to
``$SAFE_SYNTH_TERMINATION_LOG``, built with the runner's own contract model
(:class:`safe_synthesizer.contract.TerminationMessage`), so it cannot drift from the real one:

* ``dataSource`` containing ``missing`` -> exit 1 with ``{"status": "failed", "reason":
  "InvalidInput", "exitCode": 1, ...}`` (what the real runner does for a missing S3 object);
* ``dataSource`` containing ``novalid`` -> exit 4 with ``{"status": "failed", "reason":
  "NoValidRecords", "exitCode": 4, ...}`` and links to the published summary and logs (what the
  real runner does when its adapter makes no valid record: ``tests/test_failed_run.py``);
* ``dataSource`` containing ``slow`` -> the same success after 4 s (a job that holds its GPU for a
  while: the queue admission test);
* otherwise -> exit 0 with ``{"status": "succeeded", "results": [...], "scores": {...}}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import yaml

from safe_synthesizer.contract import (
    DEFAULT_TERMINATION_LOG,
    ENV_TERMINATION_LOG,
    ResultRef,
    Scores,
    TerminationMessage,
)


def main(argv: list[str] | None = None) -> int:
    """Read the job document, write the termination message, exit like the runner."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    document = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
    spec = document["spec"]
    output = spec["output"].rstrip("/") + "/"
    target = Path(os.environ.get(ENV_TERMINATION_LOG, DEFAULT_TERMINATION_LOG))
    if "missing" in spec["dataSource"]:
        failed = TerminationMessage(
            status="failed",
            reason="InvalidInput",
            exitCode=1,
            retryable=False,
            message=f"{spec['dataSource']} does not exist",
        )
        target.write_text(failed.to_text(), encoding="utf-8")
        print(f"error: {failed.message}", file=sys.stderr)
        return 1
    if "novalid" in spec["dataSource"]:
        failed = TerminationMessage(
            status="failed",
            reason="NoValidRecords",
            exitCode=4,
            retryable=False,
            message="generation made no valid record (stand-in)",
            results=[
                ResultRef(id="summary", format="json", canonical=False, url=output + "summary.json"),
                ResultRef(id="logs", format="jsonl", canonical=False, url=output + "logs.jsonl"),
            ],
        )
        target.write_text(failed.to_text(), encoding="utf-8")
        print(f"error: {failed.message}", file=sys.stderr)
        return 4
    if "slow" in spec["dataSource"]:
        time.sleep(4)
    succeeded = TerminationMessage(
        status="succeeded",
        results=[
            ResultRef(
                id="synthetic_data",
                format="csv",
                canonical=True,
                url=output + "synthetic_data.csv",
                sizeBytes=1,
            ),
            ResultRef(id="adapter", format="directory", canonical=False, url=output + "adapter/"),
        ],
        scores=Scores(sqs=7.0, dps=8.0),
        epsilonSpent=None,
        message="stand-in: 0 records",
    )
    target.write_text(succeeded.to_text(), encoding="utf-8")
    print("stand-in runner: succeeded")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
