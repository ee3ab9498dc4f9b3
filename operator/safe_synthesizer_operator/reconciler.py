"""Level-triggered reconcile of one ``SafeSynthesizerJob``: read everything, decide, write the diff.

Every trigger (kopf create/resume/update handlers, events of the child Job, the resync timer, a
requeue) calls :meth:`Reconciler.reconcile`, which

1. reads the CR (gone or being deleted: nothing to do; children go with the garbage collector);
2. for a finished CR (Succeeded/Failed) only applies ``ttlSecondsAfterFinished``;
3. validates the spec with the runner's own models (``parse_document``): invalid → Failed,
   ``InvalidSpec`` with every error, a Warning event and no Job;
4. ``spec.suspend: true`` on a job that never started (created suspended, or still queued) →
   Suspended (its queued Job, if any, deleted); on one that started → deletes the run's Job (pods
   get SIGTERM) → Cancelled; the stopped
   runner's termination message (kept from the pod watch, see :meth:`Reconciler.pod_event`) adds
   the partial results it published to the status;
5. otherwise makes sure exactly one Job exists for the current run: its deterministic name
   (:func:`jobs.job_name`) is created or, on ``409 AlreadyExists``, adopted after checking the
   owner uid; Jobs of other runs owned by the CR are deleted. ``pretrainedModelJob`` is resolved
   first (wait while it runs, fail if it failed, hand its adapter URL to the pod);
6. derives the status from the Job and its newest pod and writes only what changed (merge patch
   with a ``resourceVersion`` lock; a conflict re-runs the reconcile), posting an Event per
   transition.

Sharded generation (``config.generation.shards`` > 1, :meth:`Reconciler._reconcile_sharded`) runs
the steps train → generate (an Indexed Job) → merge as three Jobs, one after the other; which step
the run is at is kept in ``status.sharding.step`` (a finished step's Job may be gone, e.g. after
its TTL), every shard's phase, attempts, records and seed in ``status.sharding.shards``.

Reconciles of one CR never overlap: a trigger that finds one running marks the CR dirty and the
running reconcile goes round once more.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException

from safe_synthesizer.config import ConfigError, FieldError, SafeSynthesizerJob, parse_document

from . import jobs, status
from .kube import KubeApi
from .metrics import Metrics
from .settings import OperatorSettings

log = logging.getLogger("safe_synthesizer_operator")

Key = tuple[str, str]
CONFLICT_RETRIES = 5


@dataclass
class Known:
    """What the operator remembers about a CR between events (for the timer and the metrics)."""

    phase: str | None = None
    finished_at: float | None = None  # epoch seconds of completionTime
    ttl: int | None = None
    waiting_on: Key | None = None
    suspended: bool = False  # spec.suspend: its runner pod's last words are worth keeping


class Reconciler:
    """Reconciles CRs; thread-safe (one reconcile per CR at a time)."""

    def __init__(
        self,
        kube: KubeApi,
        settings: OperatorSettings,
        metrics: Metrics | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.metrics = metrics or Metrics(self.phases)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._guard = threading.Lock()
        self._running: set[Key] = set()
        self._dirty: set[Key] = set()
        self._sa_cache: dict[Key, float] = {}
        self.known: dict[Key, Known] = {}
        self._stopped: dict[Key, dict[str, Any]] = {}  # terminated runner pods of cancelled CRs
        self.last_success: float | None = None

    # -- bookkeeping -------------------------------------------------------------------------

    def phases(self) -> list[str | None]:
        """Current phases of every known CR (for ``safesynth_jobs``)."""
        with self._guard:
            return [k.phase for k in self.known.values()]

    def observe(self, body: dict[str, Any], deleted: bool = False) -> list[Key]:
        """Record a CR seen on the watch; returns CRs waiting on it that should be re-checked now."""
        meta = body.get("metadata") or {}
        key = (meta.get("namespace") or "", meta.get("name") or "")
        with self._guard:
            if deleted:
                self.known.pop(key, None)
                self._stopped.pop(key, None)
                return self._waiters(key)
            entry = self.known.setdefault(key, Known())
            st = body.get("status") or {}
            entry.phase = st.get("phase")
            finished = status.parse_time(st.get("completionTime"))
            entry.finished_at = finished.timestamp() if finished else None
            entry.ttl = (body.get("spec") or {}).get("ttlSecondsAfterFinished")
            entry.suspended = bool((body.get("spec") or {}).get("suspend"))
            if entry.phase in status.FINISHED_PHASES:
                return self._waiters(key)
        return []

    def is_suspended(self, namespace: str, name: str | None) -> bool:
        """Whether the CR is known and has ``spec.suspend: true`` (the pod watch's filter)."""
        with self._guard:
            entry = self.known.get((namespace, name or ""))
            return entry is not None and entry.suspended

    def pod_event(self, pod: dict[str, Any]) -> Key | None:
        """A runner pod changed or went away (the DELETED event carries its last status). When it
        belongs to a suspended CR and its container has terminated with a message, keep the pod for
        the reconcile, which links what the stopped runner published (the pod itself is about to
        be deleted with its Job); returns the CR to reconcile. Cheap for every other pod event."""
        meta = pod.get("metadata") or {}
        pod_labels = meta.get("labels") or {}
        name = pod_labels.get(jobs.LABEL_JOB)
        if not name or not pod_labels.get(jobs.LABEL_JOB_UID):
            return None
        key = (meta.get("namespace") or "", name)
        with self._guard:
            entry = self.known.get(key)
            if entry is None or not entry.suspended:
                return None
        if status.observe_pod(pod).termination_message is None:
            return None
        with self._guard:
            self._stopped[key] = pod
        return key

    def _stopped_run(self, key: Key, owner: jobs.Owner, current: dict[str, Any]) -> dict[str, Any] | None:
        """The kept terminated pod of the run this CR's status describes, if any."""
        with self._guard:
            pod = self._stopped.get(key)
        if pod is None:
            return None
        pod_labels = (pod.get("metadata") or {}).get("labels") or {}
        run = pod_labels.get(jobs.LABEL_RUN) or ""
        if pod_labels.get(jobs.LABEL_JOB_UID) != owner.uid or not run.isdigit():
            return None
        if jobs.job_name(owner.name, owner.uid, int(run)) != current.get("jobName"):
            return None  # a pod of an earlier run
        return pod

    def _waiters(self, key: Key) -> list[Key]:
        return [k for k, v in self.known.items() if v.waiting_on == key]

    def keys_to_resync(self) -> list[Key]:
        """CRs the timer should look at: unfinished ones, and finished ones with a TTL."""
        with self._guard:
            return [
                key
                for key, entry in self.known.items()
                if entry.phase not in status.FINISHED_PHASES or entry.ttl is not None
            ]

    # -- entry point -------------------------------------------------------------------------

    def reconcile(self, namespace: str, name: str, trigger: str = "event") -> float | None:
        """Reconcile one CR; returns a delay after which it wants to be looked at again."""
        key = (namespace, name)
        with self._guard:
            if key in self._running:
                self._dirty.add(key)
                return None
            self._running.add(key)
        requeue: float | None = None
        try:
            while True:
                with self._guard:
                    self._dirty.discard(key)
                self.metrics.reconciles.labels(trigger).inc()
                try:
                    requeue = self._reconcile_with_retries(namespace, name)
                    self.last_success = time.time()
                except Exception:
                    self.metrics.reconcile_errors.labels(trigger).inc()
                    log.exception("reconcile of %s/%s failed (trigger %s)", namespace, name, trigger)
                    requeue = min(self.settings.resync_seconds, 5.0)
                with self._guard:
                    if key not in self._dirty:
                        self._running.discard(key)
                        break
        except BaseException:
            with self._guard:
                self._running.discard(key)
            raise
        return requeue

    def _reconcile_with_retries(self, namespace: str, name: str) -> float | None:
        for attempt in range(CONFLICT_RETRIES):
            try:
                return self._reconcile_once(namespace, name)
            except ApiException as exc:
                if exc.status == 404 and self.kube.get_cr(namespace, name) is None:
                    return None  # deleted while we looked at it: nothing left to do
                if exc.status != 409 or attempt == CONFLICT_RETRIES - 1:
                    raise
                log.debug("conflict writing %s/%s, retrying", namespace, name)
        return None

    # -- the reconcile -----------------------------------------------------------------------

    def _reconcile_once(self, namespace: str, name: str) -> float | None:
        cr = self.kube.get_cr(namespace, name)
        if cr is None:
            with self._guard:
                self.known.pop((namespace, name), None)
            return None
        meta = cr.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return None
        self.observe(cr)
        current: dict[str, Any] = dict(cr.get("status") or {})
        generation = meta.get("generation")
        now = status.now_rfc3339(self.clock())
        phase = current.get("phase")
        raw_spec = cr.get("spec") or {}
        owner = jobs.Owner(name=name, namespace=namespace, uid=meta["uid"], generation=int(generation or 1))

        if phase in status.FINISHED_PHASES:
            if current.get("observedGeneration") != generation:
                self._write(cr, current, {**current, "observedGeneration": generation})
            return self._apply_ttl(cr, current)

        owned = self.kube.list_jobs(namespace, f"{jobs.LABEL_JOB_UID}={owner.uid}")
        try:
            parsed = parse_document(_manifest(cr), f"{namespace}/{name}")
            if not isinstance(parsed, SafeSynthesizerJob):  # cannot happen for a CR; keeps mypy honest
                raise ConfigError([FieldError("kind", "not a SafeSynthesizerJob manifest")])
            manifest: SafeSynthesizerJob | None = parsed
        except ConfigError as exc:
            if not owned:
                message = f"{len(exc.errors)} error(s) in the spec: " + "; ".join(str(e) for e in exc.errors)
                desired = status.failed_status(current, generation, now, "InvalidSpec", message)
                self._write(cr, current, desired)
                return None
            log.warning("%s/%s: spec no longer validates, but its Job exists: %s", namespace, name, exc)
            manifest = None
        suspended = bool(raw_spec.get("suspend"))

        if suspended:
            for job in owned:
                self._delete_run(namespace, job)
            names = [j["metadata"]["name"] for j in owned]
            if status.never_ran(current):  # created suspended, or still queued: it waits
                desired = status.suspended_status(current, generation, now, names)
                self._write(cr, current, desired)
                return None
            desired = status.cancelled_status(current, generation, now, names)
            stopped = self._stopped_run((namespace, name), owner, current)
            if stopped is not None:
                desired = (
                    status.cancelled_run_results(desired, status.observe_pod(stopped), generation, now)
                    or desired
                )
            self._write(cr, current, desired)
            if stopped is not None:
                with self._guard:
                    if self._stopped.get((namespace, name)) is stopped:
                        del self._stopped[(namespace, name)]
            return None

        shards = jobs.shard_count(raw_spec)
        if shards > 1:
            return self._reconcile_sharded(cr, manifest, owner, current, owned, now, shards)

        desired_name = jobs.job_name(name, owner.uid, owner.generation)
        base = current
        waited = phase in (status.CANCELLED, status.SUSPENDED)
        if waited or (current.get("jobName") and current.get("jobName") != desired_name):
            base = status.new_run_status(current, generation, now, resumed=waited)
        for job in owned:
            if job["metadata"]["name"] != desired_name:
                log.info("%s/%s: deleting Job %s of an earlier run", namespace, name, job["metadata"]["name"])
                self._delete_run(namespace, job)
        job = next((j for j in owned if j["metadata"]["name"] == desired_name), None)

        if job is None:
            created = status.get_condition(base.get("conditions") or [], "Created")
            if base.get("jobName") == desired_name and created and created.get("status") == "True":
                desired = status.failed_status(
                    base,
                    generation,
                    now,
                    "JobDeleted",
                    f"the Job {desired_name} was deleted before it finished",
                )
                self._write(cr, current, desired)
                return None
            if manifest is None:
                return None
            outcome = self._start_run(cr, manifest, owner, desired_name, base, now)
            if isinstance(outcome, tuple):
                desired, requeue = outcome
                self._write(cr, current, desired)
                return requeue
            job = outcome

        observation = self._observe(namespace, job)
        desired = status.status_from_job(base, observation, generation, now)
        self._write(cr, current, desired)
        if desired.get("phase") in status.FINISHED_PHASES:
            return self._ttl_delay(raw_spec, desired)
        return None

    def _start_run(
        self,
        cr: dict[str, Any],
        manifest: SafeSynthesizerJob,
        owner: jobs.Owner,
        job_name: str,
        base: dict[str, Any],
        now: str,
        step: str | None = None,
        shards: int = 1,
        run_name: str | None = None,
    ) -> dict[str, Any] | tuple[dict[str, Any], float | None]:
        """Create (or adopt) the run's ConfigMap and Job (or a sharded run's ``step`` Job, which
        mounts the ConfigMap of ``run_name``); or say why not yet (status, requeue)."""
        spec = manifest.spec
        generation = cr["metadata"].get("generation")
        output = jobs.resolve_output(spec, owner, self.settings)
        if output is None:
            message = (
                "spec.output is not set and the operator has no default output prefix (SSO_DEFAULT_OUTPUT)"
            )
            return status.failed_status(base, generation, now, "InvalidSpec", message), None
        adapter_url: str | None = None
        key = (owner.namespace, owner.name)
        if spec.pretrainedModelJob:
            resolved = self._resolve_pretrained(owner, spec.pretrainedModelJob)
            with self._guard:
                if key in self.known:
                    self.known[key].waiting_on = resolved.ref if resolved.wait else None
            if resolved.fail:
                return status.failed_status(base, generation, now, resolved.reason, resolved.message), None
            if resolved.wait:
                desired = status.waiting_status(base, generation, now, resolved.reason, resolved.message)
                return desired, self.settings.wait_seconds
            adapter_url = resolved.adapter_url
        account = spec.serviceAccountName or self.settings.job_service_account
        if account and not self._service_account_exists(owner.namespace, account):
            message = (
                f"ServiceAccount {account!r} does not exist in namespace {owner.namespace!r}; "
                "create it (the chart's jobs.serviceAccount.namespaces; for `make operator-run`: "
                "`make operator-dev-rbac NAMESPACE=<ns>`) or set spec.serviceAccountName"
            )
            return status.waiting_status(
                base, generation, now, "ServiceAccountMissing", message
            ), self.settings.wait_seconds

        document = jobs.resolved_document(cr.get("spec") or {}, owner, output, self.settings)
        body = jobs.build_job(
            owner,
            spec,
            self.settings,
            job_name,
            adapter_url=adapter_url,
            service_account=self.settings.job_service_account,
            cr_labels=cr["metadata"].get("labels"),
            cr_annotations=cr["metadata"].get("annotations"),
            step=step,
            shards=shards,
            run_name=run_name,
        )
        try:
            config_map = jobs.build_config_map(owner, run_name or job_name, document)
            self.kube.create_config_map(owner.namespace, config_map)
            job = self.kube.create_job(owner.namespace, body)
            self.metrics.jobs_created.inc()
            log.info("%s/%s: created Job %s", owner.namespace, owner.name, job_name)
        except ApiException as exc:
            if exc.status == 422:  # the API rejects what the spec asks for: retrying cannot help
                message = f"the Job for this spec is invalid: {api_message(exc)}"
                return status.failed_status(base, generation, now, "InvalidJob", message), None
            if exc.status == 403:  # e.g. a ResourceQuota: may pass later
                message = f"cannot create the Job yet: {api_message(exc)}"
                return status.waiting_status(
                    base, generation, now, "JobCreateForbidden", message
                ), self.settings.wait_seconds
            if exc.status != 409:
                raise
            existing = self.kube.get_job(owner.namespace, job_name)
            if existing is None:
                raise  # deleted in between: the next reconcile creates it
            owners = [r.get("uid") for r in existing["metadata"].get("ownerReferences") or []]
            if owner.uid not in owners:
                message = f"a Job named {job_name} exists and is not owned by this SafeSynthesizerJob"
                return status.failed_status(base, generation, now, "JobNameConflict", message), None
            log.info("%s/%s: adopted existing Job %s", owner.namespace, owner.name, job_name)
            job = existing
        return job

    @dataclass
    class _Pretrained:
        ref: Key
        adapter_url: str | None = None
        wait: bool = False
        fail: bool = False
        reason: str = ""
        message: str = ""

    def _resolve_pretrained(self, owner: jobs.Owner, reference: str) -> _Pretrained:
        namespace, _, name = reference.rpartition("/")
        ref = (namespace or owner.namespace, name)
        result = self._Pretrained(ref=ref)
        label = f"{ref[0]}/{ref[1]}"
        if ref == (owner.namespace, owner.name):
            result.fail, result.reason = True, "InvalidSpec"
            result.message = "spec.pretrainedModelJob names this job itself"
            return result
        other = self.kube.get_cr(*ref)
        phase = ((other or {}).get("status") or {}).get("phase")
        if other is None:
            result.wait, result.reason = True, "WaitingForPretrainedModelJob"
            result.message = f"waiting for SafeSynthesizerJob {label}: it does not exist (yet)"
        elif phase == status.SUCCEEDED:
            results = (other.get("status") or {}).get("results") or []
            url = next((r.get("url") for r in results if r.get("id") == "adapter"), None)
            if url:
                result.adapter_url = url
            else:
                result.fail, result.reason = True, "PretrainedModelJobHasNoAdapter"
                result.message = f"SafeSynthesizerJob {label} succeeded but published no adapter result"
        elif phase == status.FAILED:
            why = (other.get("status") or {}).get("message") or "no reason recorded"
            result.fail, result.reason = True, "PretrainedModelJobFailed"
            result.message = f"SafeSynthesizerJob {label} failed: {why}"
        else:
            result.wait, result.reason = True, "WaitingForPretrainedModelJob"
            result.message = (
                f"waiting for SafeSynthesizerJob {label} to succeed (phase {phase or 'none yet'})"
            )
        return result

    def _service_account_exists(self, namespace: str, name: str) -> bool:
        key = (namespace, name)
        seen = self._sa_cache.get(key)
        if seen is not None and time.time() - seen < 60:
            return True
        if self.kube.service_account_exists(namespace, name):
            self._sa_cache[key] = time.time()
            return True
        return False

    def _observe(self, namespace: str, job: dict[str, Any]) -> status.JobObservation:
        """The Job plus, when it matters (not running yet, or finished), its pods."""
        st = job.get("status") or {}
        conditions = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
        finished = any(
            conditions.get(t) == "True" for t in ("Complete", "Failed", "FailureTarget", "SuccessCriteriaMet")
        )
        pods: Iterable[dict[str, Any]] = ()
        if finished or not st.get("ready"):
            uid = job["metadata"].get("uid")
            pods = self.kube.list_pods(namespace, f"batch.kubernetes.io/controller-uid={uid}")
        return status.observe_job(job, pods)

    def _delete_run(self, namespace: str, job: dict[str, Any]) -> None:
        name = job["metadata"]["name"]
        self.kube.delete_job(namespace, name)
        if ((job["metadata"].get("labels") or {}).get(jobs.LABEL_STEP)) is not None:
            name = name.rsplit("-", 1)[0]  # a sharded run's step: the run's ConfigMap
        self.kube.delete_config_map(namespace, jobs.config_map_name(name))

    # -- sharded generation ------------------------------------------------------------------

    def _reconcile_sharded(
        self,
        cr: dict[str, Any],
        manifest: SafeSynthesizerJob | None,
        owner: jobs.Owner,
        current: dict[str, Any],
        owned: list[dict[str, Any]],
        now: str,
        shards: int,
    ) -> float | None:
        """A sharded run: train, then the generation Indexed Job, then merge (module docstring).

        Walks the steps in order: a step whose Job completed hands over to the next (recorded in
        ``status.sharding.step``, so a finished step's Job may be gone); the first unfinished step's
        Job is created if missing and its state is the CR's; a failed step fails the run, keeping
        the finished shards' data in ``results``."""
        namespace, name, generation = owner.namespace, owner.name, cr["metadata"].get("generation")
        raw_spec = cr.get("spec") or {}
        run_name = jobs.job_name(name, owner.uid, owner.generation)
        names = {step: jobs.step_job_name(name, owner.uid, owner.generation, step) for step in jobs.STEPS}
        base = current
        waited = current.get("phase") in (status.CANCELLED, status.SUSPENDED)
        if waited or (current.get("jobName") and current.get("jobName") not in names.values()):
            base = status.new_run_status(current, generation, now, resumed=waited)
        for job in owned:
            if job["metadata"]["name"] not in names.values():
                log.info("%s/%s: deleting Job %s of an earlier run", namespace, name, job["metadata"]["name"])
                self._delete_run(namespace, job)
        by_name = {j["metadata"]["name"]: j for j in owned}
        steps = list(jobs.STEPS)
        if raw_spec.get("pretrainedModelJob"):
            steps.remove(jobs.STEP_TRAIN)  # generation reuses that job's adapter
        sharding = dict(base.get("sharding") or status.sharding_status(steps[0], shards))
        reached = next((s for s in steps if status.SHARD_STEPS[s] == sharding.get("step")), steps[0])

        for step in steps[steps.index(reached) :]:
            job_name = names[step]
            job = by_name.get(job_name)
            if job is None:
                created = status.get_condition(base.get("conditions") or [], "Created")
                if base.get("jobName") == job_name and created and created.get("status") == "True":
                    message = f"the Job {job_name} was deleted before it finished"
                    desired = status.failed_status(base, generation, now, "JobDeleted", message)
                    self._write(cr, current, desired)
                    return None
                if manifest is None:
                    return None
                outcome = self._start_run(
                    cr, manifest, owner, job_name, base, now, step=step, shards=shards, run_name=run_name
                )
                if isinstance(outcome, tuple):
                    desired, requeue = outcome
                    self._write(cr, current, {**desired, "sharding": sharding})
                    return requeue
                job = outcome
            if step == jobs.STEP_GENERATE:
                uid = job["metadata"].get("uid")
                pods = self.kube.list_pods(namespace, f"batch.kubernetes.io/controller-uid={uid}")
                observation = status.observe_job(job, pods)
                shard_list = status.observe_shards(job, pods, shards)
                sharding = status.sharding_status(step, shards, shard_list)
                if observation.condition_true("Failed") or observation.condition_true("FailureTarget"):
                    desired = status.shards_failed_status(
                        {**base, "jobName": job_name, "sharding": sharding},
                        observation,
                        shard_list,
                        generation,
                        now,
                    )
                    self._write(cr, current, desired)
                    return self._ttl_delay(raw_spec, desired)
                if not _succeeded(observation):
                    desired = status.status_from_job(
                        {**base, "sharding": sharding}, observation, generation, now
                    )
                    desired["progress"] = status.shard_progress(shard_list, now)
                    if desired.get("phase") == status.RUNNING:
                        desired["message"] = desired["progress"]["message"]
                    self._write(cr, current, desired)
                    return None
                base = {**base, "sharding": {**sharding, "step": status.SHARD_STEPS[jobs.STEP_MERGE]}}
                sharding = base["sharding"]
                continue
            observation = self._observe(namespace, job)
            if step == jobs.STEP_MERGE or not _succeeded(observation):
                desired = status.status_from_job({**base, "sharding": sharding}, observation, generation, now)
                if desired.get("phase") == status.FAILED:
                    desired["results"] = status.shard_results(
                        sharding["shards"], desired.get("results") or []
                    )
                self._write(cr, current, desired)
                if desired.get("phase") in status.FINISHED_PHASES:
                    return self._ttl_delay(raw_spec, desired)
                return None
            # training done: the generation step next
            sharding = {**sharding, "step": status.SHARD_STEPS[jobs.STEP_GENERATE]}
            base = {**base, "sharding": sharding, "progress": None}
        return None

    # -- writing -----------------------------------------------------------------------------

    def _write(self, cr: dict[str, Any], current: dict[str, Any], desired: dict[str, Any]) -> None:
        """Patch the changed status keys and post one Event per transition."""
        patch = status.status_patch(current, desired)
        if not patch:
            return
        meta = cr["metadata"]
        updated = self.kube.patch_cr_status(meta["namespace"], meta["name"], patch, meta["resourceVersion"])
        self.observe(updated)
        for event in status.transitions(current, desired):
            self.kube.post_event(cr, event.type, event.reason, event.message)
        old_phase, new_phase = current.get("phase"), desired.get("phase")
        if new_phase in status.FINISHED_PHASES and old_phase not in status.FINISHED_PHASES:
            started = status.parse_time(desired.get("startTime"))
            ended = status.parse_time(desired.get("completionTime"))
            if started and ended:
                self.metrics.job_duration.labels(new_phase).observe(
                    max(0.0, (ended - started).total_seconds())
                )
            log.info("%s/%s: %s (%s)", meta["namespace"], meta["name"], new_phase, desired.get("message"))

    # -- TTL ---------------------------------------------------------------------------------

    def _ttl_delay(self, spec: dict[str, Any], st: dict[str, Any]) -> float | None:
        ttl = spec.get("ttlSecondsAfterFinished")
        finished = status.parse_time(st.get("completionTime"))
        if ttl is None or finished is None:
            return None
        return max(0.0, (finished + dt.timedelta(seconds=int(ttl)) - self.clock()).total_seconds())

    def _apply_ttl(self, cr: dict[str, Any], current: dict[str, Any]) -> float | None:
        delay = self._ttl_delay(cr.get("spec") or {}, current)
        if delay is None or delay > 0:
            return delay
        meta = cr["metadata"]
        log.info("%s/%s: ttlSecondsAfterFinished passed, deleting", meta["namespace"], meta["name"])
        self.kube.post_event(cr, "Normal", "TTLExpired", "ttlSecondsAfterFinished passed: deleting the job")
        self.kube.delete_cr(meta["namespace"], meta["name"], meta["uid"])
        return None


def _succeeded(observation: status.JobObservation) -> bool:
    """A Job that succeeded: ``Complete``, or already ``SuccessCriteriaMet`` (set before ``Complete``
    while the Job controller finishes its pods; :func:`status.status_from_job` reads it the same)."""
    return observation.condition_true("Complete") or observation.condition_true("SuccessCriteriaMet")


def _manifest(cr: dict[str, Any]) -> dict[str, Any]:
    """The CR as the runner's models expect it (metadata reduced to name and namespace)."""
    meta = cr.get("metadata") or {}
    return {
        "apiVersion": cr.get("apiVersion"),
        "kind": cr.get("kind"),
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")},
        "spec": cr.get("spec") or {},
    }


def api_message(exc: ApiException) -> str:
    """The API server's own message from an error response (falls back to the reason)."""
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        body = {}
    return str(body.get("message") or exc.reason or exc.status)
