"""TEST STAND-IN for Kueue's admission of batch/v1 Jobs (this is NOT Kueue).

The real Kueue controller is tested in ``test_kueue_real.py`` when ``make kueue-bin`` has built it
(see docs/test-cluster.md, "Kueue"); this stand-in keeps the protocol tested without it. It plays
the part the operator relies on, the suspend/admit protocol of Kueue's batch/Job
integration: a Job labelled ``kueue.x-k8s.io/queue-name: <queue>`` arrives suspended; the
admission controller unsuspends it (``spec.suspend: false``) when the queue's quota has room, in
creation order, the head of the queue blocking the rest (Kueue's ``StrictFIFO``). Quota: one
ClusterQueue with ``gpus`` of ``nvidia.com/gpu``, used by the admitted Jobs that have not finished.
No Workload objects, flavours, preemption or pod-template injection.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"


def gpus_of(job: Any) -> int:
    """The Job's pod GPU limit (one pod per Job here)."""
    total = 0
    for container in job.spec.template.spec.containers:
        limits = (container.resources.limits if container.resources else None) or {}
        total += int(limits.get("nvidia.com/gpu", 0))
    return total


def finished(job: Any) -> bool:
    """Complete or Failed."""
    conditions = (job.status.conditions if job.status else None) or []
    return any(c.type in ("Complete", "Failed") and c.status == "True" for c in conditions)


class AdmissionStandIn:
    """Admits suspended Jobs of one queue in one namespace, polling every ``interval`` seconds."""

    def __init__(self, kubeconfig: Path, namespace: str, queue: str, gpus: int, interval: float = 0.2):
        self.batch = k8s.BatchV1Api(k8s_config.new_client_from_config(config_file=str(kubeconfig)))
        self.namespace, self.queue, self.gpus, self.interval = namespace, queue, gpus, interval
        self.admitted: list[tuple[str, float]] = []  # (Job name, time.time() of the admission)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="admission-stand-in", daemon=True)
        self.errors: list[str] = []

    def __enter__(self) -> AdmissionStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.admit_what_fits()
            except Exception as exc:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(exc))
            self._stop.wait(self.interval)

    def admit_what_fits(self) -> None:
        """One pass: unsuspend queued Jobs in creation order while the quota allows."""
        jobs = self.batch.list_namespaced_job(
            self.namespace, label_selector=f"{QUEUE_LABEL}={self.queue}"
        ).items
        in_use = sum(gpus_of(j) for j in jobs if not j.spec.suspend and not finished(j))
        waiting = sorted(
            (j for j in jobs if j.spec.suspend and not finished(j)),
            key=lambda j: (j.metadata.creation_timestamp, j.metadata.name),
        )
        for job in waiting:
            need = gpus_of(job)
            if in_use + need > self.gpus:
                return  # StrictFIFO: the head waits, and so does everything behind it
            self.batch.patch_namespaced_job(job.metadata.name, self.namespace, {"spec": {"suspend": False}})
            self.admitted.append((job.metadata.name, time.time()))
            in_use += need
