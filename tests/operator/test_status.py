"""Unit tests of the status logic: termination message, phase/conditions from the Job, patches."""

from __future__ import annotations

import json

from safe_synthesizer_operator import status as st

NOW = "2026-01-02T03:04:05Z"
LATER = "2026-01-02T03:09:05Z"


def job(name: str = "ssj-x-1", **status) -> dict:
    return {"metadata": {"name": name, "uid": "u"}, "status": status}


def pod(phase: str, created: str = "2026-01-02T03:04:00Z", **container_state) -> dict:
    return {
        "metadata": {"name": f"p-{created[-3:-1]}", "creationTimestamp": created},
        "status": {"phase": phase, "containerStatuses": [{"name": "runner", "state": container_state}]},
    }


def cond(status: dict, ctype: str) -> dict:
    return next(c for c in status["conditions"] if c["type"] == ctype)


SUCCESS_MESSAGE = json.dumps(
    {
        "status": "succeeded",
        "results": [
            {
                "id": "synthetic_data",
                "format": "csv",
                "canonical": True,
                "url": "s3://b/o/synthetic_data.csv",
                "sizeBytes": 9,
            },
            {"id": "adapter", "format": "directory", "url": "s3://b/o/adapter/"},
            {"id": "broken"},
        ],
        "scores": {"sqs": 6.2, "dps": 8.8},
        "epsilonSpent": 7.9,
        "message": "500 records",
    }
)


def test_parse_termination_message_keeps_valid_results_only() -> None:
    info = st.parse_termination_message(SUCCESS_MESSAGE)
    assert info is not None and info.is_json
    assert [r["id"] for r in info.results] == ["synthetic_data", "adapter"]
    assert info.results[1]["canonical"] is False and "sizeBytes" not in info.results[1]
    assert info.scores == {"sqs": 6.2, "dps": 8.8} and info.epsilon_spent == 7.9
    assert st.parse_termination_message("") is None
    tail = st.parse_termination_message("Traceback ...\nValueError: boom")
    assert tail is not None and not tail.is_json and tail.message.endswith("boom")
    assert st.parse_termination_message('{"status":"failed","scores":null}').scores is None


def test_set_condition_keeps_transition_time_while_status_is_unchanged() -> None:
    first = st.set_condition([], "Running", "True", "PodRunning", "a", 1, NOW)
    again = st.set_condition(first, "Running", "True", "PodRunning", "b", 1, LATER)
    assert again[0]["lastTransitionTime"] == NOW and again[0]["message"] == "b"
    flipped = st.set_condition(again, "Running", "False", "Completed", "c", 1, LATER)
    assert flipped[0]["lastTransitionTime"] == LATER
    assert st.clean_reason("Safe Synthesizer-Error!") == "SafeSynthesizerError"
    assert st.clean_reason("") == "Unknown"


def test_pending_then_running_then_succeeded() -> None:
    unschedulable = {
        "metadata": {"name": "p1", "creationTimestamp": NOW},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
                }
            ],
        },
    }
    pending = st.status_from_job({}, st.observe_job(job(active=1), [unschedulable]), 1, NOW)
    assert pending["phase"] == "Pending" and "Insufficient nvidia.com/gpu" in pending["message"]
    assert cond(pending, "Created")["reason"] == "JobCreated" and pending["jobName"] == "ssj-x-1"

    running = st.status_from_job(pending, st.observe_job(job(active=1, ready=1, startTime=NOW)), 1, NOW)
    assert running["phase"] == "Running" and cond(running, "Running")["status"] == "True"
    assert running["startTime"] == NOW
    running["progress"] = {"stage": "train", "percent": 40.0}  # the runner's
    assert (
        st.status_patch(
            running,
            st.status_from_job(running, st.observe_job(job(active=1, ready=1, startTime=NOW)), 1, NOW),
        )
        == {}
    )

    finished = job(
        succeeded=1, startTime=NOW, completionTime=LATER, conditions=[{"type": "Complete", "status": "True"}]
    )
    done = st.status_from_job(
        running,
        st.observe_job(finished, [pod("Succeeded", terminated={"exitCode": 0, "message": SUCCESS_MESSAGE})]),
        1,
        LATER,
    )
    assert done["phase"] == "Succeeded" and done["completionTime"] == LATER
    assert cond(done, "Complete")["status"] == "True" and cond(done, "Running")["status"] == "False"
    assert done["scores"] == {"sqs": 6.2, "dps": 8.8} and done["epsilonSpent"] == 7.9
    assert done["progress"]["stage"] == "done" and done["message"] == "500 records"
    assert [e.reason for e in st.transitions(running, done)] == ["Succeeded"]
    assert "s3://b/o/synthetic_data.csv" in st.transitions(running, done)[0].message


def test_partial_results_are_a_success_with_a_condition() -> None:
    message = json.dumps({"status": "partial", "results": [], "message": "generation stopped early"})
    finished = job(conditions=[{"type": "Complete", "status": "True"}])
    done = st.status_from_job(
        {},
        st.observe_job(finished, [pod("Succeeded", terminated={"exitCode": 0, "message": message})]),
        1,
        NOW,
    )
    assert done["phase"] == "Succeeded" and cond(done, "PartialResults")["status"] == "True"


def test_failure_takes_the_runners_reason_and_message() -> None:
    message = json.dumps(
        {"status": "failed", "reason": "InvalidInput", "message": "s3://b/in.csv does not exist"}
    )
    failed_job = job(
        failed=1,
        conditions=[{"type": "Failed", "status": "True", "reason": "PodFailurePolicy", "message": "exit 1"}],
    )
    failed = st.status_from_job(
        {},
        st.observe_job(failed_job, [pod("Failed", terminated={"exitCode": 1, "message": message})]),
        1,
        NOW,
    )
    assert failed["phase"] == "Failed"
    assert cond(failed, "Failed")["reason"] == "InvalidInput"
    assert "s3://b/in.csv does not exist" in failed["message"] and "exit code 1" in failed["message"]
    events = st.transitions({}, failed)
    assert ("Warning", "InvalidInput") in [(e.type, e.reason) for e in events]


FAILED_MESSAGE = json.dumps(
    {
        "status": "failed",
        "reason": "NoValidRecords",
        "exitCode": 4,
        "retryable": False,
        "message": "generation produced no valid record (wrong_field_count x21) (details: s3://b/o/summary.json)",
        "results": [
            {
                "id": "logs",
                "format": "jsonl",
                "canonical": False,
                "url": "s3://b/o/logs.jsonl",
                "sizeBytes": 9,
            },
            {"id": "adapter", "format": "directory", "canonical": False, "url": "s3://b/o/adapter/"},
            {
                "id": "summary",
                "format": "json",
                "canonical": False,
                "url": "s3://b/o/summary.json",
                "sizeBytes": 7,
            },
        ],
    }
)


def test_failed_run_links_what_it_published_like_a_succeeded_one() -> None:
    """A failed run's termination message carries result links: status.results gets them, as on success."""
    failed_job = job(
        failed=1,
        conditions=[{"type": "Failed", "status": "True", "reason": "PodFailurePolicy", "message": "exit 4"}],
    )
    pods = [pod("Failed", terminated={"exitCode": 4, "message": FAILED_MESSAGE})]
    failed = st.status_from_job({"results": [], "phase": "Running"}, st.observe_job(failed_job, pods), 1, NOW)
    assert failed["phase"] == "Failed" and cond(failed, "Failed")["reason"] == "NoValidRecords"
    assert "no valid record" in failed["message"] and "exit code 4" in failed["message"]
    assert "s3://b/o/summary.json" in failed["message"]
    links = {r["id"]: r["url"] for r in failed["results"]}
    assert links == {
        "logs": "s3://b/o/logs.jsonl",
        "adapter": "s3://b/o/adapter/",
        "summary": "s3://b/o/summary.json",
    }
    # the same shape as a succeeded run's results (the CRD's status.results schema)
    assert all(set(r) <= {"id", "format", "canonical", "url", "sizeBytes"} for r in failed["results"])
    events = {e.reason: e for e in st.transitions({"phase": "Running"}, failed)}
    assert events["NoValidRecords"].type == "Warning"
    assert "s3://b/o/summary.json" in events["NoValidRecords"].message
    # a later run starts without the failed run's links
    assert st.new_run_status(failed, 2, LATER, resumed=False)["results"] == []


def test_failure_without_a_json_message_uses_the_log_tail_and_the_job_reason() -> None:
    failed_job = job(
        conditions=[
            {
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
            }
        ]
    )
    tail = pod("Failed", terminated={"exitCode": 3, "message": "RuntimeError: CUDA out of memory"})
    failed = st.status_from_job({}, st.observe_job(failed_job, [tail]), 1, NOW)
    assert cond(failed, "Failed")["reason"] == "BackoffLimitExceeded"
    assert "CUDA out of memory" in failed["message"]
    deadline = job(
        conditions=[
            {
                "type": "Failed",
                "status": "True",
                "reason": "DeadlineExceeded",
                "message": "Job was active longer than specified deadline",
            }
        ]
    )
    timed_out = st.status_from_job({}, st.observe_job(deadline), 1, NOW)
    assert cond(timed_out, "Failed")["reason"] == "DeadlineExceeded" and "deadline" in timed_out["message"]


def test_newest_pod_without_message_falls_back_to_an_earlier_terminated_one() -> None:
    earlier = pod(
        "Failed",
        "2026-01-02T03:04:01Z",
        terminated={
            "exitCode": 3,
            "message": '{"status":"failed","reason":"Transient","message":"S3 timeout"}',
        },
    )
    newest = pod("Pending", "2026-01-02T03:04:09Z", waiting={"reason": "ContainerCreating"})
    observation = st.observe_job(job(active=1, failed=1), [newest, earlier])
    assert observation.pod is not None and observation.pod.waiting_reason == "ContainerCreating"
    assert "S3 timeout" in (observation.pod.termination_message or "")


def test_cancel_and_new_run_status() -> None:
    running = st.status_from_job({}, st.observe_job(job(active=1, ready=1)), 1, NOW)
    running["progress"] = {"stage": "train", "percent": 30.0}
    cancelled = st.cancelled_status(running, 2, LATER, ["ssj-x-1"])
    assert cancelled["progress"] == running["progress"]  # where it stopped stays visible
    assert cancelled["phase"] == "Cancelled" and cond(cancelled, "Suspended")["status"] == "True"
    assert cond(cancelled, "Running")["status"] == "False"
    assert "ssj-x-1" in cancelled["message"]
    rerun = st.new_run_status(cancelled, 3, LATER, resumed=True)
    assert rerun["phase"] == "Pending" and rerun["jobName"] is None and rerun["results"] == []
    assert cond(rerun, "Suspended") == {**cond(rerun, "Suspended"), "status": "False", "reason": "Resumed"}
    assert {c["type"] for c in rerun["conditions"]} == {"Suspended"}
    patch = st.status_patch(cancelled, rerun)
    assert patch["progress"] is None and patch["jobName"] is None  # cleared for the new run
    assert [e.reason for e in st.transitions(running, cancelled)] == ["Suspended"]


def test_invalid_spec_and_waiting_statuses() -> None:
    failed = st.failed_status({}, 1, NOW, "InvalidSpec", "2 error(s): a; b")
    assert failed["phase"] == "Failed" and cond(failed, "Failed")["reason"] == "InvalidSpec"
    assert failed["completionTime"] == NOW and failed["observedGeneration"] == 1
    assert "Complete" not in {c["type"] for c in failed["conditions"]}
    waiting = st.waiting_status({}, 1, NOW, "WaitingForPretrainedModelJob", "waiting for x")
    assert waiting["phase"] == "Pending" and cond(waiting, "Created")["status"] == "False"
    assert [e.reason for e in st.transitions({}, waiting)] == ["WaitingForPretrainedModelJob"]
    assert st.transitions(waiting, waiting) == []


def test_status_patch_contains_only_changes() -> None:
    current = {"phase": "Running", "progress": {"stage": "train", "percent": 10.0}, "results": []}
    assert st.status_patch(current, dict(current)) == {}
    assert st.status_patch(current, {**current, "phase": "Succeeded"}) == {"phase": "Succeeded"}
    assert st.status_patch({"scores": {"sqs": 5}}, {"scores": {"sqs": 5.0}}) == {}
    assert st.status_patch({"message": "x"}, {"message": None}) == {"message": None}


def test_one_line_and_time_helpers() -> None:
    assert st.one_line("a\n  b", 100) == "a b"
    assert len(st.one_line("x" * 2000)) == st.MAX_EVENT_MESSAGE
    assert st.parse_time(NOW).isoformat() == "2026-01-02T03:04:05+00:00"
    assert st.parse_time("nonsense") is None


CANCELLED_MESSAGE = json.dumps(
    {
        "status": "partial",
        "results": [
            {"id": "summary", "format": "json", "canonical": False, "url": "s3://b/o/summary.json"},
            {"id": "logs", "format": "jsonl", "canonical": False, "url": "s3://b/o/logs.jsonl"},
        ],
        "message": "stopped by SIGTERM during training",
    }
)


def test_cancelled_run_keeps_what_the_stopped_runner_published() -> None:
    running = st.status_from_job({}, st.observe_job(job(active=1, ready=1, startTime=NOW)), 1, NOW)
    cancelled = st.cancelled_status(running, 2, LATER, ["ssj-x-1"])
    stopped = st.observe_pod(pod("Failed", terminated={"exitCode": 0, "message": CANCELLED_MESSAGE}))
    kept = st.cancelled_run_results(cancelled, stopped, 2, LATER)
    assert kept is not None and kept["phase"] == "Cancelled"
    assert [r["url"] for r in kept["results"]] == ["s3://b/o/summary.json", "s3://b/o/logs.jsonl"]
    partial = cond(kept, "PartialResults")
    assert partial["status"] == "True" and partial["reason"] == "Cancelled"
    assert "stopped by SIGTERM during training" in kept["message"] and "ssj-x-1" in kept["message"]
    assert cond(kept, "Suspended")["status"] == "True"
    # the next reconcile (resync) changes nothing: message and results stay
    again = st.cancelled_status(kept, 2, LATER, [])
    assert st.status_patch(kept, again) == {}
    # a re-run clears them
    rerun = st.new_run_status(kept, 3, LATER, resumed=True)
    assert rerun["results"] == [] and "PartialResults" not in {c["type"] for c in rerun["conditions"]}
    # a pod that left no JSON message adds nothing
    tail = st.observe_pod(pod("Failed", terminated={"exitCode": 137, "message": "Killed"}))
    assert st.cancelled_run_results(cancelled, tail, 2, LATER) is None


def queued_job(suspend: bool, **status) -> dict:
    body = job(**status)
    body["metadata"]["labels"] = {"kueue.x-k8s.io/queue-name": "gpu"}
    body["spec"] = {"suspend": suspend}
    return body


def test_a_queued_job_is_pending_with_suspended_queued_until_admitted() -> None:
    queued = st.status_from_job({}, st.observe_job(queued_job(True)), 1, NOW)
    assert queued["phase"] == "Pending" and "queue gpu" in queued["message"]
    assert cond(queued, "Suspended")["status"] == "True" and cond(queued, "Suspended")["reason"] == "Queued"
    assert ("Normal", "Queued") in [(e.type, e.reason) for e in st.transitions({}, queued)]
    admitted = st.status_from_job(queued, st.observe_job(queued_job(False, active=1, ready=1)), 1, LATER)
    assert admitted["phase"] == "Running"
    assert (
        cond(admitted, "Suspended")["status"] == "False"
        and cond(admitted, "Suspended")["reason"] == "Admitted"
    )
    # preempted: suspended again, back to the queue
    preempted = st.status_from_job(admitted, st.observe_job(queued_job(True)), 1, LATER)
    assert preempted["phase"] == "Pending" and cond(preempted, "Running")["status"] == "False"
    assert cond(preempted, "Suspended")["reason"] == "Queued"


def test_suspended_before_it_ever_ran_waits_instead_of_being_cancelled() -> None:
    assert st.never_ran({}) and st.never_ran({"phase": "Pending"})
    assert not st.never_ran({"phase": "Pending", "startTime": NOW})
    assert not st.never_ran({"phase": "Cancelled"}) and not st.never_ran(
        {"phase": "Running", "startTime": NOW}
    )
    waiting = st.suspended_status({}, 1, NOW, [])
    assert waiting["phase"] == "Suspended" and cond(waiting, "Suspended")["status"] == "True"
    assert st.status_patch(waiting, st.suspended_status(waiting, 1, LATER, [])) == {}
    queued = st.status_from_job({}, st.observe_job(queued_job(True)), 1, NOW)
    dequeued = st.suspended_status(queued, 2, LATER, ["ssj-x-1"])
    assert dequeued["phase"] == "Suspended" and dequeued["jobName"] is None
    assert "ssj-x-1" in dequeued["message"] and cond(dequeued, "Suspended")["reason"] == "Suspended"
    rerun = st.new_run_status(dequeued, 3, LATER, resumed=True)
    assert rerun["phase"] == "Pending" and cond(rerun, "Suspended")["reason"] == "Resumed"


def test_run_warnings_become_a_warnings_condition_and_a_new_run_clears_it() -> None:
    warnings = ["training.use_unsloth is accepted for compatibility only", "PII columns left unchanged: ssn"]
    message = json.dumps({**json.loads(SUCCESS_MESSAGE), "warnings": warnings})
    finished = job(conditions=[{"type": "Complete", "status": "True"}])
    done = st.status_from_job(
        {},
        st.observe_job(finished, [pod("Succeeded", terminated={"exitCode": 0, "message": message})]),
        1,
        NOW,
    )
    assert done["phase"] == "Succeeded"
    warned = cond(done, "Warnings")
    assert warned["status"] == "True" and warned["reason"] == "RunWarnings"
    assert warned["message"] == "; ".join(warnings)
    # without warnings there is no such condition, and a re-run starts without the old one
    quiet = st.status_from_job(
        {},
        st.observe_job(finished, [pod("Succeeded", terminated={"exitCode": 0, "message": SUCCESS_MESSAGE})]),
        1,
        NOW,
    )
    assert all(c["type"] != "Warnings" for c in quiet["conditions"])
    rerun = st.new_run_status(done, 2, LATER, resumed=True)
    assert all(c["type"] != "Warnings" for c in rerun["conditions"])
