"""kopf wiring: which events reconcile which ``SafeSynthesizerJob``, the operator's timer, startup.

* ``on.create`` + ``on.resume`` (the same function): reconcile the CR (validate, create or adopt
  the Job, status);
* ``on.update`` of ``spec.suspend`` (the only mutable spec field): cancel or re-run;
* ``on.delete(optional=True)``: log only; the Job, its pods and the ConfigMap are owned by the CR
  and go with the garbage collector;
* ``on.event`` of the CRs: keep the in-memory view (metrics, timer) and wake jobs waiting on a
  ``pretrainedModelJob`` that just finished;
* ``on.event`` of our child Jobs (label ``app.kubernetes.io/managed-by=safe-synthesizer-operator``):
  reconcile the owning CR, so pod start, success and failure show up at once;
* ``on.event`` of our runner pods (same label, filtered server-side like the Jobs): a cancelled
  run's pod that terminated (its DELETED event carries the last status) hands the partial results
  its runner published to the CR's status;
* the operator timer (an asyncio task started on startup, ticking every second): requeues that a
  reconcile asked for (waiting on a pretrained job, ``ttlSecondsAfterFinished``) and a resync of
  every unfinished CR every ``SSO_RESYNC_SECONDS``.

No finalizer is ever added: there are no mandatory deletion handlers and no kopf timers or daemons
(both of which would make kopf block deletion). A CR can be deleted while the operator is down.
kopf's own bookkeeping lives in annotations under ``safesynthesizer.io/``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import kopf

from safe_synthesizer.config import GROUP, KIND, PLURAL, VERSION

from .jobs import LABEL_JOB, LABEL_MANAGED_BY, MANAGER
from .kube import KubeApi, make_api_client
from .reconciler import Key, Reconciler
from .settings import OperatorSettings

log = logging.getLogger("safe_synthesizer_operator")
TICK_SECONDS = 1.0


@dataclass
class Runtime:
    """The operator's shared state, kept in kopf's ``memo``."""

    settings: OperatorSettings
    reconciler: Reconciler
    executor: ThreadPoolExecutor
    loop: asyncio.AbstractEventLoop
    due: dict[Key, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    task: asyncio.Task[None] | None = None
    metrics_port: int = 0

    def schedule(self, key: Key, delay: float) -> None:
        """Reconcile ``key`` again after ``delay`` seconds (the earliest request wins)."""
        when = time.monotonic() + max(0.0, delay)
        with self.lock:
            self.due[key] = min(self.due.get(key, when), when)

    def pop_due(self) -> set[Key]:
        """Keys whose requeue time has come."""
        now = time.monotonic()
        with self.lock:
            ready = {k for k, t in self.due.items() if t <= now}
            for key in ready:
                del self.due[key]
        return ready

    def run(self, namespace: str, name: str, trigger: str) -> None:
        """Reconcile now (in the calling thread) and schedule the requeue it asks for."""
        requeue = self.reconciler.reconcile(namespace, name, trigger)
        if requeue is not None:
            self.schedule((namespace, name), requeue)


async def _timer(runtime: Runtime) -> None:
    """The operator's timer: requeues and periodic resyncs, run in the reconcile thread pool."""
    loop = asyncio.get_running_loop()
    last_resync = loop.time()
    while True:
        await asyncio.sleep(TICK_SECONDS)
        keys = runtime.pop_due()
        if loop.time() - last_resync >= runtime.settings.resync_seconds:
            keys |= set(runtime.reconciler.keys_to_resync())
            last_resync = loop.time()
        for namespace, name in keys:
            future = loop.run_in_executor(runtime.executor, runtime.run, namespace, name, "timer")
            future.add_done_callback(_log_failure)


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("timer reconcile failed: %s", future.exception())


def _runtime(memo: kopf.Memo) -> Runtime:
    runtime = getattr(memo, "runtime", None)
    if runtime is None:
        raise kopf.TemporaryError("the operator is still starting", delay=1)
    return runtime


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: logging.Logger, **_: Any) -> None:
    """Configure kopf (no finalizers, annotations storage), start metrics and the timer."""
    ours = OperatorSettings.from_env()
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="safesynthesizer.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="safesynthesizer.io", key="last-handled-configuration"
    )
    # Named, but never added: no handler of ours requires a finalizer (see the module docstring).
    settings.persistence.finalizer = "safesynthesizer.io/finalizer"
    settings.posting.level = logging.WARNING  # our own Events describe transitions; kopf's only errors
    settings.execution.max_workers = ours.max_workers
    settings.queueing.error_delays = (1, 2, 5, 10, 30, 60)
    if ours.namespaces and not any(c in ns for ns in ours.namespaces for c in "*?[!"):
        # A fixed namespace list: no cluster-wide namespace/CRD observation, hence no cluster-scoped
        # RBAC (the chart's namespaced mode). The CRD must exist when the operator starts.
        settings.scanning.disabled = True
    # Server-side label selectors: only our Jobs and runner pods are listed and watched.
    ours_only = f"{LABEL_MANAGED_BY}={MANAGER}"
    settings.watching.label_selectors["batch", "v1", "jobs"] = ours_only
    settings.watching.label_selectors["v1", "pods"] = ours_only

    reconciler = Reconciler(KubeApi(make_api_client(pool_size=ours.max_workers * 2)), ours)
    runtime = Runtime(
        settings=ours,
        reconciler=reconciler,
        executor=ThreadPoolExecutor(max_workers=ours.max_workers, thread_name_prefix="reconcile"),
        loop=asyncio.get_running_loop(),
    )
    runtime.metrics_port = reconciler.metrics.serve(ours.metrics_port, ours.metrics_address)
    runtime.task = asyncio.create_task(_timer(runtime), name="safe-synthesizer-timer")
    memo.runtime = runtime
    logger.info(
        "safe-synthesizer operator started: runner image %s, command %s, namespaces %s, metrics port %s",
        ours.runner_image,
        " ".join(ours.runner_command),
        ",".join(ours.namespaces) or "all",
        runtime.metrics_port or "off",
    )
    for warning in ours.warnings():
        logger.warning("%s", warning)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    """Stop the timer, the metrics endpoint and the reconcile threads."""
    runtime: Runtime | None = getattr(memo, "runtime", None)
    if runtime is None:
        return
    if runtime.task is not None:
        runtime.task.cancel()
    runtime.reconciler.metrics.stop()
    runtime.executor.shutdown(wait=False, cancel_futures=True)


@kopf.on.probe(id="lastReconcileAgeSeconds")
def last_reconcile(memo: kopf.Memo, **_: Any) -> float | None:
    """Seconds since the last successful reconcile (liveness endpoint payload)."""
    runtime: Runtime | None = getattr(memo, "runtime", None)
    if runtime is None or runtime.reconciler.last_success is None:
        return None
    return round(time.time() - runtime.reconciler.last_success, 1)


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
def reconcile(namespace: str, name: str, memo: kopf.Memo, reason: Any, **_: Any) -> None:
    """Create and resume: validate, create or adopt the Job, write the status."""
    _runtime(memo).run(namespace, name, str(getattr(reason, "value", reason)))


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec.suspend")
def suspend_changed(namespace: str, name: str, memo: kopf.Memo, old: Any, new: Any, **_: Any) -> None:
    """``spec.suspend`` flipped: cancel (delete the Job) or re-run (a new Job)."""
    log.info("%s/%s: spec.suspend %s -> %s", namespace, name, old, new)
    _runtime(memo).run(namespace, name, "suspend")


@kopf.on.delete(GROUP, VERSION, PLURAL, optional=True)
def deleted(namespace: str, name: str, **_: Any) -> None:
    """Nothing to clean up by hand: children are owned by the CR. Never blocks deletion."""
    log.info("%s/%s: deleted; its Job and pods go with the garbage collector", namespace, name)


@kopf.on.event(GROUP, VERSION, PLURAL)
def cr_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """Track CRs for the timer and metrics; wake jobs waiting on one that just finished."""
    runtime = getattr(memo, "runtime", None)
    if runtime is None:
        return
    body = event.get("object") or {}
    waiters = runtime.reconciler.observe(body, deleted=event.get("type") == "DELETED")
    for key in waiters:
        runtime.schedule(key, 0)


@kopf.on.event("batch", "v1", "jobs", labels={LABEL_MANAGED_BY: MANAGER})
def job_event(event: kopf.RawEvent, namespace: str, memo: kopf.Memo, **_: Any) -> None:
    """A child Job changed (pod started, finished, failed, deleted): reconcile its owner."""
    body = event.get("object") or {}
    owners = (body.get("metadata") or {}).get("ownerReferences") or []
    owner = next((o for o in owners if o.get("kind") == KIND and o.get("controller")), None)
    if owner is None or getattr(memo, "runtime", None) is None:
        return
    memo.runtime.run(namespace, owner["name"], "job")


def _pod_of_a_suspended_cr(body: kopf.Body, memo: kopf.Memo, **_: Any) -> bool:
    """The pod watch's filter, before any handler runs (no call, no log for other pods): only pods
    whose CR is known to be suspended."""
    runtime = getattr(memo, "runtime", None)
    if runtime is None:
        return False
    labels = body.get("metadata", {}).get("labels") or {}
    return runtime.reconciler.is_suspended(
        body.get("metadata", {}).get("namespace") or "", labels.get(LABEL_JOB)
    )


@kopf.on.event("v1", "pods", labels={LABEL_MANAGED_BY: MANAGER}, when=_pod_of_a_suspended_cr)
async def pod_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """A runner pod of a suspended CR changed or went away: a cancelled run's last words go to its
    CR's status (async: no thread for the cheap check; the reconcile runs in the pool)."""
    runtime = getattr(memo, "runtime", None)
    if runtime is None:
        return
    key = runtime.reconciler.pod_event(event.get("object") or {})
    if key is not None:
        future = runtime.loop.run_in_executor(runtime.executor, runtime.run, key[0], key[1], "pod")
        future.add_done_callback(_log_failure)
