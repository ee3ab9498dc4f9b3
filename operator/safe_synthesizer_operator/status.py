"""Status of a ``SafeSynthesizerJob``: phase and condition transitions, the runner's termination
message, and the minimal status patch (pure functions, no I/O).

Conditions follow metav1.Condition (type, status, reason, message, lastTransitionTime,
observedGeneration); ``phase`` is derived for ``kubectl get`` and Argo CD:

=========== ==================================================================================
phase       conditions
=========== ==================================================================================
Pending     Created=True (Job made, pod not running yet) or Created=False (waiting: reason says);
            Suspended=True reason Queued while the Job waits for a queue's admission (Kueue),
            Suspended=False reason Admitted once it is unsuspended
Suspended   Suspended=True (spec.suspend before the job ever started: created suspended, or
            suspended while still queued); it starts when spec.suspend is false
Running     Created=True, Running=True
Succeeded   Complete=True (+ PartialResults=True when the runner published partial results;
            + Warnings=True, reason RunWarnings, with the run's warnings: config fields accepted
            only, PII columns a user's steps left unchanged, ...)
Failed      Failed=True, reason = the runner's reason (InvalidInput, InvalidSpec, NoValidRecords,
            Transient, ...) or the Job's (BackoffLimitExceeded, DeadlineExceeded, JobDeleted, ...);
            ``results`` links what the failed run published (summary.json, logs.jsonl)
Cancelled   Suspended=True (spec.suspend); Suspended=False reason Resumed once it re-runs;
            ``results`` links what the stopped runner published (PartialResults, reason Cancelled)
=========== ==================================================================================

``progress`` belongs to the runner (it patches it while running); the operator only clears it
for a new run and marks it done on success.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from safe_synthesizer import contract

PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED = "Pending", "Running", "Succeeded", "Failed", "Cancelled"
SUSPENDED = "Suspended"
FINISHED_PHASES = frozenset({SUCCEEDED, FAILED})
MAX_MESSAGE = contract.MAX_MESSAGE
MAX_EVENT_MESSAGE = 1000
_REASON = re.compile(r"[^A-Za-z0-9_,:]")


def now_rfc3339(clock: dt.datetime | None = None) -> str:
    """UTC time as Kubernetes writes it (``2026-01-02T03:04:05Z``)."""
    moment = clock or dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> dt.datetime | None:
    """Parse an RFC 3339 timestamp; None when absent or malformed."""
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def clean_reason(reason: str | None, default: str = "Unknown") -> str:
    """A condition reason that matches metav1.Condition's pattern (CamelCase, no spaces)."""
    text = _REASON.sub("", reason or "")
    text = text.lstrip("0123456789_,:").rstrip(",:")
    return text[:1024] or default


def one_line(text: str, limit: int = MAX_EVENT_MESSAGE) -> str:
    """Collapse whitespace (events must be one line) and cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True)
class TerminationMessage:
    """The status view of the runner's termination message
    (:class:`safe_synthesizer.contract.TerminationMessage`, ``$SAFE_SYNTH_TERMINATION_LOG``), or a
    log tail: results and scores as the CR status holds them."""

    status: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    scores: dict[str, Any] | None = None
    epsilon_spent: float | None = None
    message: str | None = None
    reason: str | None = None
    is_json: bool = True
    warnings: list[str] = field(default_factory=list)
    shard: contract.ShardReport | None = None  # a generation shard's report

    @classmethod
    def from_contract(cls, message: contract.TerminationMessage) -> TerminationMessage:
        """The status view of a parsed contract message."""
        return cls(
            status=message.status,
            results=message.results_status(),
            scores=message.scores_status(),
            epsilon_spent=message.epsilonSpent,
            message=message.message,
            reason=message.reason,
            is_json=message.is_json,
            warnings=list(message.warnings),
            shard=message.shard,
        )


def parse_termination_message(text: str | None) -> TerminationMessage | None:
    """Parse the termination message (:func:`safe_synthesizer.contract.parse_termination_message`):
    a non-JSON text (``FallbackToLogsOnError`` log tail) is kept as ``message`` with
    ``is_json=False``. Malformed result entries are dropped."""
    parsed = contract.parse_termination_message(text)
    return None if parsed is None else TerminationMessage.from_contract(parsed)


@dataclass(frozen=True)
class PodObservation:
    """The runner pod that matters most (the newest), as far as the status needs it."""

    name: str
    phase: str | None = None
    waiting_reason: str | None = None
    waiting_message: str | None = None
    unschedulable: str | None = None
    running: bool = False
    exit_code: int | None = None
    termination_message: str | None = None


@dataclass(frozen=True)
class JobObservation:
    """What the operator saw of the child Job (and its newest pod)."""

    name: str
    active: int = 0
    ready: int = 0
    succeeded: int = 0
    failed: int = 0
    conditions: Mapping[str, tuple[str, str, str]] = field(
        default_factory=dict
    )  # type -> status, reason, msg
    start_time: str | None = None
    completion_time: str | None = None
    pod: PodObservation | None = None
    suspended: bool = False  # spec.suspend of the Job: waiting for a queue's admission (or preempted)
    queue: str | None = None  # the kueue.x-k8s.io/queue-name label

    def condition_true(self, ctype: str) -> bool:
        """Whether the Job has ``ctype=True``."""
        return self.conditions.get(ctype, ("False", "", ""))[0] == "True"


def observe_job(job: Mapping[str, Any], pods: Iterable[Mapping[str, Any]] = ()) -> JobObservation:
    """Summarise a Job object and its pods (raw API dicts)."""
    status = job.get("status") or {}
    conditions = {
        c.get("type", ""): (c.get("status", ""), c.get("reason", "") or "", c.get("message", "") or "")
        for c in status.get("conditions") or []
    }
    ordered = sorted(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "")
    pod = observe_pod(ordered[-1]) if ordered else None
    # Prefer a terminated pod's message when the newest one has none (e.g. a replacement is pending).
    if pod is not None and pod.termination_message is None:
        for candidate in reversed(ordered[:-1]):
            earlier = observe_pod(candidate)
            if earlier.termination_message is not None:
                exit_code = earlier.exit_code if pod.exit_code is None else pod.exit_code
                pod = dataclasses.replace(
                    pod, termination_message=earlier.termination_message, exit_code=exit_code
                )
                break
    return JobObservation(
        name=(job.get("metadata") or {}).get("name", ""),
        active=int(status.get("active") or 0),
        ready=int(status.get("ready") or 0),
        succeeded=int(status.get("succeeded") or 0),
        failed=int(status.get("failed") or 0),
        conditions=conditions,
        start_time=status.get("startTime"),
        completion_time=status.get("completionTime"),
        pod=pod,
        suspended=bool((job.get("spec") or {}).get("suspend")),
        queue=((job.get("metadata") or {}).get("labels") or {}).get("kueue.x-k8s.io/queue-name"),
    )


def observe_pod(pod: Mapping[str, Any]) -> PodObservation:
    """Summarise one runner pod: phase, why it waits, exit code and termination message."""
    status = pod.get("status") or {}
    unschedulable = None
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            unschedulable = condition.get("message") or condition.get("reason") or "not scheduled"
    waiting_reason = waiting_message = termination = None
    exit_code = None
    running = False
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if "waiting" in state:
            waiting_reason = (state["waiting"] or {}).get("reason")
            waiting_message = (state["waiting"] or {}).get("message")
        if "running" in state:
            running = True
        if "terminated" in state:
            terminated = state["terminated"] or {}
            exit_code = terminated.get("exitCode")
            termination = terminated.get("message")
    return PodObservation(
        name=(pod.get("metadata") or {}).get("name", ""),
        phase=status.get("phase"),
        waiting_reason=waiting_reason,
        waiting_message=waiting_message,
        unschedulable=unschedulable,
        running=running,
        exit_code=exit_code,
        termination_message=termination,
    )


def get_condition(conditions: Iterable[Mapping[str, Any]], ctype: str) -> Mapping[str, Any] | None:
    """The condition of type ``ctype``, if any."""
    for condition in conditions:
        if condition.get("type") == ctype:
            return condition
    return None


def set_condition(
    conditions: list[dict[str, Any]],
    ctype: str,
    status: str,
    reason: str,
    message: str,
    generation: int | None,
    now: str,
) -> list[dict[str, Any]]:
    """A new list with ``ctype`` set; ``lastTransitionTime`` changes only when ``status`` does."""
    result = [dict(c) for c in conditions if c.get("type") != ctype]
    previous = get_condition(conditions, ctype)
    transition = previous.get("lastTransitionTime") if previous and previous.get("status") == status else None
    entry: dict[str, Any] = {
        "type": ctype,
        "status": status,
        "reason": clean_reason(reason),
        "message": str(message)[:MAX_MESSAGE],
        "lastTransitionTime": transition or now,
    }
    if generation is not None:
        entry["observedGeneration"] = generation
    result.append(entry)
    order = ["Created", "Running", "Complete", "PartialResults", "Warnings", "Failed", "Suspended"]
    result.sort(key=lambda c: order.index(c["type"]) if c["type"] in order else len(order))
    return result


def remove_condition(conditions: list[dict[str, Any]], ctype: str) -> list[dict[str, Any]]:
    """A new list without ``ctype``."""
    return [dict(c) for c in conditions if c.get("type") != ctype]


@dataclass
class Transition:
    """A Kubernetes Event to post for a status change."""

    type: str  # Normal | Warning
    reason: str
    message: str


def new_run_status(
    current: Mapping[str, Any], generation: int | None, now: str, resumed: bool
) -> dict[str, Any]:
    """The status at the start of a (re-)run: results, scores and times of an earlier run cleared."""
    conditions = [dict(c) for c in current.get("conditions") or []]
    for ctype in ("Created", "Running", "Complete", "PartialResults", "Warnings", "Failed"):
        conditions = remove_condition(conditions, ctype)
    if resumed:
        conditions = set_condition(
            conditions, "Suspended", "False", "Resumed", "spec.suspend is false: re-running", generation, now
        )
    status: dict[str, Any] = {
        "phase": PENDING,
        "conditions": conditions,
        "progress": None,
        "scores": None,
        "results": [],
        "epsilonSpent": None,
        "startTime": None,
        "completionTime": None,
        "jobName": None,
        "message": None,
        "observedGeneration": generation,
        "sharding": None,
    }
    return status


def waiting_status(
    current: Mapping[str, Any], generation: int | None, now: str, reason: str, message: str
) -> dict[str, Any]:
    """Pending without a Job: ``Created=False`` says what the job waits for."""
    status = dict(current)
    status["phase"] = PENDING
    status["conditions"] = set_condition(
        list(current.get("conditions") or []), "Created", "False", reason, message, generation, now
    )
    status["message"] = message
    status["observedGeneration"] = generation
    return status


def failed_status(
    current: Mapping[str, Any],
    generation: int | None,
    now: str,
    reason: str,
    message: str,
) -> dict[str, Any]:
    """Failed with ``reason``/``message`` (also used for InvalidSpec, before any Job exists)."""
    status = dict(current)
    conditions = list(current.get("conditions") or [])
    if get_condition(conditions, "Running"):
        conditions = set_condition(
            conditions, "Running", "False", "Failed", "the job failed", generation, now
        )
    conditions = remove_condition(conditions, "Complete")
    conditions = set_condition(conditions, "Failed", "True", reason, message, generation, now)
    status.update(
        phase=FAILED,
        conditions=conditions,
        message=message[:MAX_MESSAGE],
        completionTime=current.get("completionTime") or now,
        observedGeneration=generation,
    )
    return status


def never_ran(current: Mapping[str, Any]) -> bool:
    """Whether the job has not started yet: no Job start time (created, waiting or queued)."""
    return current.get("phase") in (None, PENDING, SUSPENDED) and not current.get("startTime")


def suspended_status(
    current: Mapping[str, Any], generation: int | None, now: str, job_names: list[str]
) -> dict[str, Any]:
    """``spec.suspend: true`` before the job ever started: it waits (phase Suspended), not Cancelled."""
    status = dict(current)
    deleted = f"; deleted the queued Job {', '.join(job_names)}" if job_names else ""
    message = f"spec.suspend is true: not started{deleted}; it starts when spec.suspend is false"
    previous = get_condition(current.get("conditions") or [], "Suspended")
    if previous and previous.get("status") == "True" and previous.get("reason") == "Suspended":
        message = str(previous.get("message") or message)
    conditions = remove_condition(list(current.get("conditions") or []), "Created")
    conditions = set_condition(conditions, "Suspended", "True", "Suspended", message, generation, now)
    status.update(
        phase=SUSPENDED, conditions=conditions, message=message, jobName=None, observedGeneration=generation
    )
    return status


def cancelled_status(
    current: Mapping[str, Any], generation: int | None, now: str, job_names: list[str]
) -> dict[str, Any]:
    """Cancelled by ``spec.suspend: true``: ``Suspended=True``, the Job deleted."""
    status = dict(current)
    conditions = list(current.get("conditions") or [])
    if get_condition(conditions, "Running"):
        conditions = set_condition(conditions, "Running", "False", "Suspended", "cancelled", generation, now)
    deleted = f"; deleted Job {', '.join(job_names)}" if job_names else ""
    message = f"spec.suspend is true: cancelled{deleted}"
    previous = get_condition(conditions, "Suspended")
    if previous and previous.get("status") == "True" and previous.get("reason") == "Suspended":
        message = str(previous.get("message") or message)
    conditions = set_condition(conditions, "Suspended", "True", "Suspended", message, generation, now)
    if current.get("phase") == CANCELLED and current.get("message"):
        message = str(current["message"])  # may carry what the stopped runner published
    status.update(phase=CANCELLED, conditions=conditions, message=message, observedGeneration=generation)
    return status


def cancelled_run_results(
    current: Mapping[str, Any], pod: PodObservation, generation: int | None, now: str
) -> dict[str, Any] | None:
    """A Cancelled status with what the stopped runner published (its termination message).

    On SIGTERM the runner stops at the next step or batch, publishes what it has (summary.json,
    logs.jsonl, partial data) and writes its termination message: ``results`` links it as for a
    failed run, ``PartialResults=True`` (reason ``Cancelled``) carries the runner's message, and
    ``message`` says both. None when the pod left no JSON termination message."""
    info = parse_termination_message(pod.termination_message)
    if info is None or not info.is_json:
        return None
    status = dict(current)
    runner = info.message or info.reason or info.status or "stopped"
    exit_code = f" (exit code {pod.exit_code})" if pod.exit_code is not None else ""
    summary = f"{runner}{exit_code}"
    conditions = set_condition(
        list(current.get("conditions") or []),
        "PartialResults",
        "True" if info.results else "False",
        "Cancelled",
        f"the cancelled run published {len(info.results)} result(s): {summary}",
        generation,
        now,
    )
    base = str(current.get("message") or "spec.suspend is true: cancelled")
    base = base.split("; the runner stopped:")[0]
    status.update(
        conditions=conditions,
        results=info.results,
        scores=info.scores,
        epsilonSpent=info.epsilon_spent,
        message=f"{base}; the runner stopped: {summary}"[:MAX_MESSAGE],
    )
    return status


def status_from_job(
    current: Mapping[str, Any], observation: JobObservation, generation: int | None, now: str
) -> dict[str, Any]:
    """The status implied by the child Job (and its newest pod)."""
    status = dict(current)
    conditions = list(current.get("conditions") or [])
    status["jobName"] = observation.name
    status["observedGeneration"] = generation
    if observation.start_time:
        status["startTime"] = current.get("startTime") or observation.start_time
    conditions = set_condition(
        conditions, "Created", "True", "JobCreated", f"created Job {observation.name}", generation, now
    )
    pod = observation.pod
    termination = parse_termination_message(pod.termination_message) if pod else None
    queued = get_condition(conditions, "Suspended")
    if (
        not observation.suspended
        and queued
        and queued.get("status") == "True"
        and queued.get("reason") == "Queued"
    ):
        conditions = set_condition(
            conditions, "Suspended", "False", "Admitted", f"Job {observation.name} admitted", generation, now
        )

    if observation.condition_true("Complete") or observation.condition_true("SuccessCriteriaMet"):
        info = termination or TerminationMessage()
        message = info.message or "succeeded"
        conditions = set_condition(
            conditions, "Running", "False", "Completed", "the runner finished", generation, now
        )
        conditions = remove_condition(conditions, "Failed")
        conditions = set_condition(conditions, "Complete", "True", "Succeeded", message, generation, now)
        if info.status == "partial":
            conditions = set_condition(
                conditions, "PartialResults", "True", "PartialResults", message, generation, now
            )
        if info.warnings:  # accepted-only config fields, PII columns left unchanged, ...
            text = "; ".join(info.warnings)
            conditions = set_condition(
                conditions, "Warnings", "True", "RunWarnings", text[: contract.MAX_MESSAGE], generation, now
            )
        status.update(
            phase=SUCCEEDED,
            conditions=conditions,
            results=info.results,
            scores=info.scores,
            epsilonSpent=info.epsilon_spent,
            message=message,
            completionTime=current.get("completionTime") or observation.completion_time or now,
            progress=contract.progress_status("done", 100.0, message, now),
        )
        return status

    if observation.condition_true("Failed") or observation.condition_true("FailureTarget"):
        job_cond = (
            observation.conditions.get("Failed")
            or observation.conditions.get("FailureTarget")
            or ("", "", "")
        )
        job_reason, job_message = job_cond[1] or "JobFailed", job_cond[2]
        if termination is not None and termination.is_json and (termination.reason or termination.message):
            reason = termination.reason or job_reason
            message = termination.message or job_message
        elif termination is not None and termination.message:
            reason, message = (
                job_reason,
                f"{job_message}: {termination.message}" if job_message else termination.message,
            )
        else:
            reason, message = job_reason, job_message or "the runner Job failed"
        if pod is not None and pod.exit_code is not None:
            message = f"{message} (exit code {pod.exit_code}; Job {job_reason})"
        if termination is not None and termination.is_json:
            # a failed run still publishes summary.json, logs.jsonl (and a finished adapter): link them
            # as for a succeeded run; epsilonSpent is the budget its training used
            status.update(results=termination.results, epsilonSpent=termination.epsilon_spent)
        return failed_status({**status, "conditions": conditions}, generation, now, reason, message)

    if observation.suspended:
        where = f"queue {observation.queue}" if observation.queue else "its queue"
        waiting = f"queued: Job {observation.name} is suspended until {where} admits it"
        if get_condition(conditions, "Running"):
            conditions = set_condition(
                conditions, "Running", "False", "Suspended", "the Job was suspended", generation, now
            )
        conditions = set_condition(conditions, "Suspended", "True", "Queued", waiting, generation, now)
        status.update(phase=PENDING, conditions=conditions, message=waiting)
        return status
    if observation.ready > 0 or (pod is not None and pod.running):
        running = f"pod {pod.name} is running" if pod else "the runner pod is running"
        conditions = set_condition(conditions, "Running", "True", "PodRunning", running, generation, now)
        status.update(phase=RUNNING, conditions=conditions, message="running")
        return status

    waiting = "waiting for the runner pod"
    if pod is not None:
        if pod.unschedulable:
            waiting = f"pod {pod.name} is not scheduled: {pod.unschedulable}"
        elif pod.waiting_reason:
            waiting = f"pod {pod.name} is waiting: {pod.waiting_reason}"
            if pod.waiting_message:
                waiting += f": {pod.waiting_message}"
        elif observation.failed and pod.phase in ("Failed", None):
            waiting = f"retrying after {observation.failed} failed attempt(s)"
    if get_condition(conditions, "Running"):
        conditions = set_condition(conditions, "Running", "False", "PodPending", waiting, generation, now)
    status.update(phase=PENDING, conditions=conditions, message=waiting[:MAX_MESSAGE])
    return status


def status_patch(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level status keys that differ (a JSON merge patch; None deletes a key).

    ``lastTransitionTime`` of unchanged conditions is kept by :func:`set_condition`, so an
    unchanged status yields ``{}`` and nothing is written."""
    patch: dict[str, Any] = {}
    for key in set(current) | set(desired):
        if key not in desired:
            continue
        old, new = current.get(key), desired.get(key)
        if _normalise(old) != _normalise(new):
            patch[key] = new
    return patch


def _normalise(value: Any) -> Any:
    if value in (None, [], {}):
        return None
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items() if _normalise(v) is not None}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def transitions(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Transition]:
    """The Events to post for the change from ``old`` to ``new`` status."""
    events: list[Transition] = []
    old_phase, new_phase = old.get("phase"), new.get("phase")
    old_conditions = old.get("conditions") or []
    new_conditions = new.get("conditions") or []

    def changed(ctype: str) -> Mapping[str, Any] | None:
        after = get_condition(new_conditions, ctype)
        before = get_condition(old_conditions, ctype)
        if after is None:
            return None
        if before is None or (before.get("status"), before.get("reason")) != (
            after.get("status"),
            after.get("reason"),
        ):
            return after
        return None

    created = changed("Created")
    if created is not None:
        problem = created.get("reason") in ("ServiceAccountMissing", "JobCreateForbidden")
        kind = "Warning" if created.get("status") != "True" and problem else "Normal"
        events.append(Transition(kind, str(created.get("reason")), one_line(str(created.get("message")))))
    suspended = changed("Suspended")
    if suspended is not None:
        events.append(
            Transition("Normal", str(suspended.get("reason")), one_line(str(suspended.get("message"))))
        )
    if new_phase != old_phase:
        if new_phase == RUNNING:
            events.append(
                Transition(
                    "Normal", "Running", one_line(f"the runner pod of Job {new.get('jobName')} is running")
                )
            )
        elif new_phase == SUCCEEDED:
            summary = new.get("message") or "succeeded"
            canonical = next((r.get("url") for r in new.get("results") or [] if r.get("canonical")), None)
            where = f"; data at {canonical}" if canonical else ""
            events.append(Transition("Normal", "Succeeded", one_line(f"{summary}{where}")))
        elif new_phase == FAILED:
            failed = get_condition(new_conditions, "Failed") or {}
            events.append(
                Transition(
                    "Warning",
                    str(failed.get("reason") or "Failed"),
                    one_line(str(failed.get("message") or "")),
                )
            )
    return events


# -- sharded generation (config.generation.shards > 1): status.sharding ---------------------------

INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
SHARD_STEPS = {"train": "Train", "generate": "Generate", "merge": "Merge"}


def parse_indexes(text: str | None) -> set[int]:
    """An Indexed Job's ``completedIndexes``/``failedIndexes`` (``"0-2,5"``) as a set."""
    found: set[int] = set()
    for part in (text or "").split(","):
        first, _, last = part.strip().partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            found.update(range(int(first), int(last or first) + 1))
    return found


def observe_shards(
    job: Mapping[str, Any], pods: Iterable[Mapping[str, Any]], total: int
) -> list[dict[str, Any]]:
    """Every shard of the generation Job (status.sharding.shards): phase from the Job's completed and
    failed indexes and the index's newest pod, attempts = the index's pods, records and seed from the
    succeeded pod's termination message (the runner's ``shard`` report)."""
    st = job.get("status") or {}
    completed, failed = parse_indexes(st.get("completedIndexes")), parse_indexes(st.get("failedIndexes"))
    by_index: dict[int, list[Mapping[str, Any]]] = {}
    for pod in pods:
        value = ((pod.get("metadata") or {}).get("annotations") or {}).get(INDEX_ANNOTATION, "")
        if str(value).isdigit():
            by_index.setdefault(int(value), []).append(pod)
    shards = []
    for index in range(total):
        attempts = sorted(
            by_index.get(index, []), key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or ""
        )
        entry: dict[str, Any] = {"index": index, "phase": "Pending", "attempts": len(attempts)}
        observed = [observe_pod(p) for p in attempts]
        if index in completed:
            entry["phase"] = "Succeeded"
        elif index in failed:
            entry["phase"] = "Failed"
        elif observed and observed[-1].running:
            entry["phase"] = "Running"
        for pod in reversed(observed):
            info = parse_termination_message(pod.termination_message)
            if info is None or not info.is_json:
                continue
            if entry["phase"] == "Succeeded" and info.status in ("succeeded", "partial"):
                if info.shard is not None:
                    entry.update(records=info.shard.records, seed=info.shard.seed)
                canonical = next((r["url"] for r in info.results if r.get("canonical")), None)
                if canonical:
                    entry["url"] = canonical
                break
            if entry["phase"] == "Failed":
                entry["message"] = str(info.message or info.reason or "failed")[:MAX_EVENT_MESSAGE]
                break
        shards.append(entry)
    return shards


def sharding_status(step: str, total: int, shards: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``status.sharding`` for a run at ``step`` (train, generate, merge); shards default to Pending."""
    listed = [
        {k: v for k, v in s.items() if k != "message"}
        for s in (shards or [{"index": i, "phase": "Pending", "attempts": 0} for i in range(total)])
    ]
    return {
        "step": SHARD_STEPS[step],
        "total": total,
        "succeeded": sum(1 for s in listed if s["phase"] == "Succeeded"),
        "failed": sum(1 for s in listed if s["phase"] == "Failed"),
        "shards": listed,
    }


def shard_progress(shards: list[dict[str, Any]], now: str) -> dict[str, Any]:
    """``status.progress`` while the shards run (the runner pods do not patch it then)."""
    total = len(shards) or 1
    done = sum(1 for s in shards if s["phase"] == "Succeeded")
    running = sum(1 for s in shards if s["phase"] == "Running")
    message = f"{done} of {total} generation shards done, {running} running"
    return contract.progress_status("generate", 100.0 * done / total, message, now)


def shard_results(shards: list[dict[str, Any]], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``results`` plus the data of every finished shard (what survives a failed sharded run)."""
    kept = [r for r in results if not str(r.get("id", "")).startswith("shard-")]
    for shard in shards:
        if shard.get("phase") == "Succeeded" and shard.get("url") and len(kept) < contract.MAX_RESULTS:
            kept.append(
                {"id": f"shard-{shard['index']}", "format": "csv", "canonical": False, "url": shard["url"]}
            )
    return kept


def shards_failed_status(
    current: Mapping[str, Any],
    observation: JobObservation,
    shards: list[dict[str, Any]],
    generation: int | None,
    now: str,
) -> dict[str, Any]:
    """The generation Job failed (an index spent its retries, or a deadline): Failed, with the
    failed shards named, and the finished shards' data linked (``PartialResults``)."""
    job_cond = (
        observation.conditions.get("Failed") or observation.conditions.get("FailureTarget") or ("", "", "")
    )
    reason = job_cond[1] or "JobFailed"
    failed = [s for s in shards if s["phase"] == "Failed"]
    if failed:
        why = "; ".join(f"shard {s['index']}: {s.get('message') or 'failed'}" for s in failed[:5])
        message = f"{len(failed)} of {len(shards)} generation shards failed ({why}) (Job {observation.name} {reason})"
    else:
        message = f"the generation Job {observation.name} failed: {job_cond[2] or reason}"
    done = [s for s in shards if s["phase"] == "Succeeded"]
    status = dict(current)
    status["results"] = shard_results(shards, list(current.get("results") or []))
    conditions = list(current.get("conditions") or [])
    if done:
        conditions = set_condition(
            conditions,
            "PartialResults",
            "True",
            "FinishedShards",
            f"{len(done)} of {len(shards)} shards finished; their data is linked in results (shard-<i>)",
            generation,
            now,
        )
    status["conditions"] = conditions
    return failed_status(status, generation, now, reason, message)
