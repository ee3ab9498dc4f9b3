"""TEST HARNESS: stands in for kubelet+scheduler, runs containers as local processes.

This is **not** a kubelet and must never be used outside tests. It lets the project's tests run real
batch/v1 Jobs against the real kube-apiserver and kube-controller-manager started by ``harness.py``
(no Docker, no kind, no container runtime is available here). It talks to the apiserver only through
the kubernetes Python client (``ApiClient`` with the admin kubeconfig), as a kubelet and a scheduler
would.

What it does
============

Node
    Registers one Node (default name ``safe-synth-node-0``) with capacity/allocatable ``cpu`` (8),
    ``memory`` (32Gi), ``pods`` (110), ``ephemeral-storage`` and ``nvidia.com/gpu`` (default 1; all
    configurable), address ``127.0.0.1`` and the condition ``Ready=True``; renews its Lease in
    ``kube-node-lease`` every 10 s and refreshes the node conditions every 30 s.

Scheduler
    Binds (``pods/binding``) every pod with an empty ``spec.nodeName`` whose ``schedulerName`` is
    empty or ``default-scheduler``, in creation order, if its requests fit: effective requests are
    ``max(sum(containers), max(initContainers)) + overhead``, with limits standing in for missing
    requests, compared with allocatable minus the requests of the non-terminal pods already on the
    node; ``nodeSelector`` must match the node labels and ``spec.schedulingGates`` must be empty.
    A pod that does not fit stays ``Pending`` with the condition ``PodScheduled=False``, reason
    ``Unschedulable`` and a scheduler-like message (``0/1 nodes are available: 1 Insufficient
    nvidia.com/gpu.``); it is retried every sync period (1 s), so it starts when resources free up.

Pods (only those bound to this node)
    * Volumes are materialised under ``<work_dir>/<namespace>_<pod>_<uid>/volumes/<volume>/``:
      ``configMap``, ``secret`` (``items``, ``defaultMode``/``mode``, ``optional``), ``emptyDir``,
      ``downwardAPI``, ``projected`` (configMap, secret, downwardAPI and ``serviceAccountToken``
      sources) and ``hostPath`` (used in place). Any other type (PVC, ephemeral, ...) becomes an
      empty folder, with a warning in the agent log. A missing, non-optional ConfigMap/Secret keeps
      the container ``Waiting`` (``ContainerCreating``/``CreateContainerConfigError``) and is retried.
    * ServiceAccount token projection: the ``kube-api-access-*`` volume that the ServiceAccount
      admission plugin adds gets a real token from the TokenRequest API (bound to the pod), the
      cluster ``ca.crt`` and ``namespace``. Containers also get ``KUBERNETES_SERVICE_HOST=127.0.0.1``,
      ``KUBERNETES_SERVICE_PORT``/``_HTTPS`` (the loopback apiserver port), and, when they mount such
      a token, ``KUBECONFIG`` pointing to a token kubeconfig in the pod folder (unless the pod sets
      ``KUBECONFIG``). Code that hard-codes ``/var/run/secrets/...`` (``load_incluster_config``)
      cannot see the token: there is no chroot. Use ``config.load_config()``/``KUBECONFIG``.
    * Environment: ``envFrom`` (configMapRef/secretRef, ``prefix``, ``optional``) then ``env``
      (``value`` with ``$(VAR)`` expansion, ``valueFrom.secretKeyRef``, ``configMapKeyRef``,
      ``fieldRef`` for ``metadata.name|namespace|uid``, ``metadata.labels['k']``,
      ``metadata.annotations['k']``, ``spec.nodeName``, ``spec.serviceAccountName``,
      ``status.podIP``, ``status.hostIP``, and ``resourceFieldRef``). On top of a minimal host
      environment: ``PATH`` (the venv's bin folder first), ``HOME``, ``LANG``, ``LC_ALL``,
      ``TMPDIR``, ``TZ``, ``PYTHONPATH`` (the default ``passthrough_env``; configurable), plus ``HOSTNAME`` = pod name.
    * Commands: ``command`` + ``args`` with ``$(VAR)`` expansion, run on the host (the image is
      ignored). ``python``, ``python3``, ``python3.11`` and ``/usr/bin/python3``-like paths map to
      the project venv's python, so ``python -c ...`` and the ``safe-synthesizer`` entry point see
      the project's packages. A container without ``command`` cannot run (no image entrypoint):
      it terminates with reason ``StartError``.
    * **Path rewriting rule** (no chroot): every ``volumeMounts[].mountPath`` (with ``subPath``) and
      the container's ``terminationMessagePath`` (default ``/dev/termination-log``) map to a folder
      or file in the pod folder. Each occurrence of such a path in ``command``, ``args``, env
      values and ``workingDir`` is replaced by its host path when it stands on its own: not preceded
      by a letter, digit, ``.``, ``_``, ``-`` or ``/`` (so ``s3://bucket/data`` is left alone when
      ``/data`` is a mount) and followed by the end of the string, ``/`` or any character that cannot
      continue a path segment (anything but letters, digits, ``.``, ``_``, ``-``); the longest mount
      path wins. Paths inside the "image" (the venv and the repository: the agent's
      ``image_roots``) are never rewritten, so a checkout under ``/tmp`` keeps working when a pod
      mounts an emptyDir at ``/tmp``. Paths only known inside the program (a
      hard-coded ``open('/data/x')``) are **not** rewritten. ``workingDir`` defaults to
      ``<pod folder>/work/<container>``.
    * Processes: each container is one process group (``start_new_session``), stdout+stderr to
      ``<log_dir>/<namespace>_<pod>_<uid>/<container>.log`` (restarts append, with a marker line).
      A small HTTPS server on 127.0.0.1 (port in the Node's ``daemonEndpoints``) serves
      ``/containerLogs/<ns>/<pod>/<container>`` (``tailLines``, ``limitBytes``, ``follow``), so
      ``kubectl logs`` and ``read_namespaced_pod_log`` work through the apiserver.
      Init containers run first, one after the other. ``restartPolicy`` Never/OnFailure/Always is
      honoured (restarts after a 1 s back-off; ``restartCount``/``lastState`` reported).
    * Status (strategic-merge patches of ``pods/status``): ``Pending`` (waiting
      ``ContainerCreating``) → ``Running`` (``state.running``, ready) → ``Succeeded``/``Failed``
      (``state.terminated`` with ``exitCode``, ``reason`` ``Completed``/``Error``, start and finish
      times, ``message``), conditions ``PodScheduled``, ``PodReadyToStartContainers``,
      ``Initialized``, ``ContainersReady``, ``Ready``, ``hostIP``/``podIP`` = 127.0.0.1 and
      ``startTime``. The termination message is read from the rewritten ``terminationMessagePath``
      (at most 4096 bytes); with ``terminationMessagePolicy: FallbackToLogsOnError`` a failed
      container with an empty message gets the last 80 lines / 2048 bytes of its log.
    * Deletion: when a pod gets a ``deletionTimestamp`` its process groups get SIGTERM, then SIGKILL
      after ``min(deletionGracePeriodSeconds, 30)`` seconds; once every process is dead the final
      status is written and the pod object is deleted with grace period 0 (what a kubelet does;
      finalizers are left to their owners, e.g. the Job controller). A pod that vanishes from the
      API gets its processes killed at once. Pod folders are removed when the pod is gone; logs stay.

What it does not do
===================

No images, no isolation (processes run as the agent's user on the host network, sharing the file
system), no probes (containers are ready when started), no resource enforcement (requests are only
used for scheduling), no ``kubectl exec``/``attach``/``port-forward``, no ``previous``/``sinceTime``
log options, no
sidecar (restartable init) containers, no ephemeral containers, no preemption, no affinity or
taints/tolerations evaluation beyond ``nodeSelector``, no Services or DNS, no eviction.

Run it as a thread (``FakeKubelet(...).start()`` / ``.stop()``, the pytest fixture does this) or as
a process: ``python tests/cluster/fake_kubelet.py --kubeconfig KUBECONFIG --work-dir DIR``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import http.server
import json
import logging
import math
import os
import queue
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import urllib3
from cluster_pki import write_self_signed
from kubernetes import config as kube_config
from kubernetes.utils.quantity import parse_quantity

LOG = logging.getLogger("fake_kubelet")
JSON = dict[str, Any]
DEFAULT_SCHEDULER = "default-scheduler"
TERMINAL_PHASES = ("Succeeded", "Failed")
PYTHON_NAMES = re.compile(r"^(?:/usr(?:/local)?/bin/)?python(?:3(?:\.\d+)?)?$")
MAX_TERMINATION_MESSAGE = 4096
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048
POLL_INTERVAL = 0.1


def now_rfc3339() -> str:
    """Current UTC time as Kubernetes ``Time`` (second precision)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    """Current UTC time as Kubernetes ``MicroTime``."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ApiError(Exception):
    """A non-2xx answer from the apiserver."""

    def __init__(self, status: int, body: Any, method: str, path: str) -> None:
        self.status = status
        self.body = body
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{method} {path}: HTTP {status}: {message}")


class ConfigError(Exception):
    """A referenced ConfigMap/Secret/key is missing: the container cannot be created yet."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class KubeJSON:
    """Raw JSON access to the apiserver through the kubernetes client.

    The kubernetes client loads the kubeconfig (TLS client certificate, CA, bearer token or exec
    plugin) and owns the urllib3 connection pool; requests go through that pool with plain dict
    bodies and explicit patch content types. This works the same with the swagger-generated
    (<= 36.x) and the pydantic-generated (>= 37.x) client, and the agent never deals with typed models.
    """

    def __init__(self, kubeconfig: Path) -> None:
        self.api = kube_config.new_client_from_config(config_file=str(kubeconfig))
        self.pool = self.api.rest_client.pool_manager

    @property
    def host(self) -> str:
        """The apiserver URL."""
        return str(self.api.configuration.host)

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "fake-kubelet/test-harness"}
        if content_type:
            headers["Content-Type"] = content_type
        # Read the token directly: kubernetes 36.0.0's auth_settings() ignores the 'authorization' key
        # that its own kubeconfig/in-cluster loaders write (kubernetes-client/python#2582).
        cfg = self.api.configuration
        hook = getattr(cfg, "refresh_api_key_hook", None)
        if hook is not None:
            hook(cfg)
        for key_name in ("BearerToken", "authorization"):
            token = cfg.api_key.get(key_name)
            if token:
                prefix = cfg.api_key_prefix.get(key_name)
                headers["authorization"] = f"{prefix} {token}" if prefix else token
                break
        return headers

    def _send(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        content_type: str = "application/json",
        timeout: urllib3.Timeout | None = None,
        stream: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        url = self.host + path
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            url += "?" + urllib.parse.urlencode(params)
        return self.pool.request(
            method,
            url,
            body=json.dumps(body).encode() if body is not None else None,
            headers=self._headers(content_type if body is not None else None),
            timeout=timeout or urllib3.Timeout(connect=10.0, read=30.0),
            preload_content=not stream,
            retries=False,
        )

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """Send a request and return the decoded JSON body; raise ApiError for status >= 400."""
        resp = self._send(method, path, body, query, content_type)
        data = resp.data
        try:
            decoded = json.loads(data) if data else None
        except ValueError:
            decoded = data.decode(errors="replace")
        if resp.status >= 400:
            raise ApiError(resp.status, decoded, method, path)
        return decoded

    def get(self, path: str, **query: Any) -> Any:
        """GET ``path``."""
        return self.request("GET", path, query=query)

    def post(self, path: str, body: Any) -> Any:
        """POST ``body`` to ``path``."""
        return self.request("POST", path, body)

    def patch(self, path: str, body: Any, patch_type: str = "strategic") -> Any:
        """PATCH ``path`` with a strategic-merge (default), merge or json patch."""
        content_type = {
            "strategic": "application/strategic-merge-patch+json",
            "merge": "application/merge-patch+json",
            "json": "application/json-patch+json",
        }[patch_type]
        return self.request("PATCH", path, body, content_type=content_type)

    def delete(self, path: str, body: Any = None) -> Any:
        """DELETE ``path``; a 404 is not an error."""
        try:
            return self.request("DELETE", path, body)
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def watch(
        self, path: str, resource_version: str, timeout_seconds: int, holder: list[Any]
    ) -> Iterator[JSON]:
        """Stream watch events of ``path`` from ``resource_version``; ``holder[0]`` gets the response."""
        resp = self._send(
            "GET",
            path,
            query={
                "watch": "true",
                "resourceVersion": resource_version,
                "allowWatchBookmarks": "true",
                "timeoutSeconds": timeout_seconds,
            },
            timeout=urllib3.Timeout(connect=10.0, read=timeout_seconds + 15.0),
            stream=True,
        )
        if resp.status >= 400:
            raise ApiError(resp.status, resp.read(), "WATCH", path)
        holder[:] = [resp]
        buffer = b""
        try:
            for chunk in resp.stream(amt=None, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            resp.release_conn()


def quantity(value: Any) -> Decimal:
    """Parse a Kubernetes quantity ("500m", "1Gi", 2) into a Decimal."""
    return Decimal(parse_quantity(value))


def format_quantity(name: str, value: Decimal) -> str:
    """Format a resource amount for messages."""
    if name == "cpu" and value != value.to_integral_value():
        return f"{int(value * 1000)}m"
    return str(int(value)) if value == value.to_integral_value() else str(value)


def pod_requests(pod: JSON) -> dict[str, Decimal]:
    """Effective requests of a pod: max(sum(containers), max(init containers)) + overhead."""

    def container_requests(container: JSON) -> dict[str, Decimal]:
        resources = container.get("resources") or {}
        merged = dict(resources.get("limits") or {})
        merged.update(resources.get("requests") or {})
        return {k: quantity(v) for k, v in merged.items()}

    spec = pod.get("spec") or {}
    total: dict[str, Decimal] = {}
    for container in spec.get("containers") or []:
        for k, v in container_requests(container).items():
            total[k] = total.get(k, Decimal(0)) + v
    for container in spec.get("initContainers") or []:
        for k, v in container_requests(container).items():
            total[k] = max(total.get(k, Decimal(0)), v)
    for k, v in (spec.get("overhead") or {}).items():
        total[k] = total.get(k, Decimal(0)) + quantity(v)
    return total


def expand_vars(text: str, env: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: ``$$`` escapes, unknown ``$(VAR)`` stays as written."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            if text[i + 1] == "$":
                out.append("$")
                i += 2
                continue
            if text[i + 1] == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2 : end]
                    out.append(env.get(name, text[i : end + 1]))
                    i = end + 1
                    continue
        out.append(text[i])
        i += 1
    return "".join(out)


def rewrite_paths(text: str, mapping: list[tuple[str, str]], image_roots: tuple[str, ...] = ()) -> str:
    """Replace in-pod paths by host paths (the documented rule: longest first, on a path boundary).

    A path inside one of ``image_roots`` (host folders that play the container image: the venv and the
    repository) is left alone even when a mount path is its prefix: in a real pod the image's files
    would be at their own paths, and a checkout under ``/tmp`` must not be redirected into the pod's
    ``/tmp`` emptyDir.
    """
    if not mapping:
        return text
    pattern = re.compile(
        r"(?<![A-Za-z0-9._/-])(?:" + "|".join(re.escape(src) for src, _ in mapping) + r")(?![A-Za-z0-9._-])"
    )
    table = dict(mapping)
    roots = tuple(r.rstrip("/") for r in image_roots if r and r != "/")

    def replace(match: re.Match[str]) -> str:
        rest = text[match.start() :]
        for root in roots:
            if rest.startswith(root) and (
                len(rest) == len(root) or not re.match(r"[A-Za-z0-9._-]", rest[len(root)])
            ):
                return match.group(0)
        return table[match.group(0)]

    return pattern.sub(replace, text)


@dataclass
class NodeConfig:
    """The Node the agent registers."""

    name: str = "safe-synth-node-0"
    cpu: str = "8"
    memory: str = "32Gi"
    gpus: int = 1
    pods: int = 110
    ephemeral_storage: str = "100Gi"
    labels: dict[str, str] = field(default_factory=dict)

    def capacity(self) -> dict[str, str]:
        """Capacity (= allocatable) of the node."""
        cap = {
            "cpu": self.cpu,
            "memory": self.memory,
            "pods": str(self.pods),
            "ephemeral-storage": self.ephemeral_storage,
        }
        if self.gpus:
            cap["nvidia.com/gpu"] = str(self.gpus)
        return cap


@dataclass
class ContainerRun:
    """One container of a running pod."""

    spec: JSON
    init: bool
    log_path: Path
    term_path: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: str | None = None
    restart_count: int = 0
    state: JSON = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: JSON = field(default_factory=dict)
    restart_at: float | None = None
    container_id: str = ""

    @property
    def name(self) -> str:
        """Container name."""
        return str(self.spec["name"])

    @property
    def terminated(self) -> JSON | None:
        """The terminated state, if the container has exited."""
        return self.state.get("terminated")

    def status(self) -> JSON:
        """The containerStatuses entry; the states not current are sent as null (strategic merge)."""
        state: JSON = {"waiting": None, "running": None, "terminated": None}
        state.update(self.state)
        last: JSON = {"waiting": None, "running": None, "terminated": None}
        last.update(self.last_state)
        image = self.spec.get("image") or "local-process"
        status: JSON = {
            "name": self.name,
            "image": image,
            "imageID": f"fake-kubelet://{image}",
            "ready": "running" in self.state and not self.init,
            "started": "running" in self.state,
            "restartCount": self.restart_count,
            "state": state,
            "lastState": last if self.last_state else {},
        }
        if self.container_id:
            status["containerID"] = self.container_id
        return status


class PodRuntime:
    """Runs one pod's containers as local processes and reports its status (one thread per pod)."""

    def __init__(self, agent: FakeKubelet, pod: JSON) -> None:
        self.agent = agent
        self.pod = pod
        meta = pod["metadata"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.uid: str = meta["uid"]
        self.key = f"{self.namespace}_{self.name}_{self.uid}"
        self.dir = agent.work_dir / self.key
        self.log_dir = agent.log_dir / self.key
        self.kube = KubeJSON(agent.kubeconfig)
        self.kill_requested = threading.Event()
        self.vanished = False
        self.kill_deadline: float | None = None
        self.done = threading.Event()
        self.phase = "Pending"
        self.start_time = now_rfc3339()
        self.conditions: dict[str, JSON] = {}
        self.volume_paths: dict[str, Path] = {}
        self.sa_kubeconfig: Path | None = None
        spec = pod["spec"]
        self.restart_policy: str = spec.get("restartPolicy") or "Always"
        self.init_runs = [self._container(c, init=True) for c in spec.get("initContainers") or []]
        self.runs = [self._container(c, init=False) for c in spec.get("containers") or []]
        self.thread = threading.Thread(
            target=self._main, name=f"pod-{self.namespace}/{self.name}", daemon=True
        )
        self._last_status: str = ""

    def _container(self, spec: JSON, init: bool) -> ContainerRun:
        name = spec["name"]
        return ContainerRun(
            spec=spec,
            init=init,
            log_path=self.log_dir / f"{name}.log",
            term_path=self.dir / "termination" / name / "termination-log",
        )

    # -- control from the sync loop -------------------------------------------------------------
    def start(self) -> None:
        """Start the pod thread."""
        self.thread.start()

    def request_kill(self, grace_seconds: float, vanished: bool = False) -> None:
        """The pod is being deleted: SIGTERM now, SIGKILL after ``grace_seconds``."""
        if vanished:
            self.vanished = True
        if not self.kill_requested.is_set():
            LOG.info("pod %s/%s: deleting (grace %.0fs)", self.namespace, self.name, grace_seconds)
            self.kill_deadline = time.monotonic() + grace_seconds
            self.kill_requested.set()
            self._signal_all(signal.SIGTERM)
        elif self.kill_deadline is not None:
            self.kill_deadline = min(self.kill_deadline, time.monotonic() + grace_seconds)

    def _signal_all(self, sig: signal.Signals) -> None:
        for run in [*self.init_runs, *self.runs]:
            proc = run.process
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)

    # -- the pod thread -----------------------------------------------------------------------------
    def _main(self) -> None:
        try:
            self._run()
        except Exception:  # a bug here must not kill the agent; report it on the pod
            LOG.error("pod %s/%s: agent error\n%s", self.namespace, self.name, traceback.format_exc())
            self._signal_all(signal.SIGKILL)
            with contextlib.suppress(Exception):
                self._report(force_phase="Failed", message="fake_kubelet error: see the agent log")
        finally:
            self._finish()

    def _run(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._set_condition("PodScheduled", "True")
        self._set_condition("PodReadyToStartContainers", "False")
        self._set_condition("Initialized", "False", "ContainersNotInitialized" if self.init_runs else "")
        self._set_condition("ContainersReady", "False", "ContainersNotReady")
        self._set_condition("Ready", "False", "ContainersNotReady")
        self._report()
        # Volumes (retried while a ConfigMap/Secret is missing).
        while not self.kill_requested.is_set():
            try:
                self._materialise_volumes()
                break
            except ConfigError as err:
                for run in [*self.init_runs, *self.runs]:
                    run.state = {"waiting": {"reason": "ContainerCreating", "message": str(err)}}
                self._report()
                self.kill_requested.wait(2.0)
        if self.kill_requested.is_set():
            return
        self._set_condition("PodReadyToStartContainers", "True")
        for run in self.init_runs:
            run.state = {"waiting": {"reason": "PodInitializing"}}
        for run in self.runs:
            run.state = {"waiting": {"reason": "PodInitializing"}}
        self._report()
        # Init containers, one after the other.
        for run in self.init_runs:
            if not self._run_to_completion(run):
                return
        self._set_condition("Initialized", "True")
        # Main containers.
        for run in self.runs:
            self._start_container(run)
        self._report()
        self._supervise(self.runs)

    def _run_to_completion(self, run: ContainerRun) -> bool:
        """Run an init container (with restarts per restartPolicy); False if the pod must stop."""
        self._start_container(run)
        self._report()
        self._supervise([run])
        term = run.terminated or {}
        return not self.kill_requested.is_set() and term.get("exitCode") == 0

    def _supervise(self, runs: list[ContainerRun]) -> None:
        """Wait for processes; restart per restartPolicy; report changes; handle deletion."""
        while True:
            changed = False
            deadline = self.kill_deadline
            if self.kill_requested.is_set() and deadline is not None and time.monotonic() >= deadline:
                self._signal_all(signal.SIGKILL)
                self.kill_deadline = None
            for run in runs:
                proc = run.process
                if proc is not None and "running" in run.state:
                    code = proc.poll()
                    if code is not None:
                        self._on_exit(run, code)
                        changed = True
                elif run.restart_at is not None and time.monotonic() >= run.restart_at:
                    if self.kill_requested.is_set():
                        run.restart_at = None
                    else:
                        run.restart_at = None
                        run.last_state = {"terminated": run.state.get("terminated") or {}}
                        run.restart_count += 1
                        self._start_container(run)
                        changed = True
            if changed:
                self._report()
            active = [r for r in runs if "running" in r.state or r.restart_at is not None]
            if not active:
                return
            if self.kill_requested.is_set():
                for r in runs:
                    r.restart_at = None
            time.sleep(POLL_INTERVAL)

    def _should_restart(self, run: ContainerRun, exit_code: int) -> bool:
        if self.kill_requested.is_set():
            return False
        if self.restart_policy == "Always":
            return not run.init or exit_code != 0
        return self.restart_policy == "OnFailure" and exit_code != 0

    def _on_exit(self, run: ContainerRun, code: int) -> None:
        exit_code = code if code >= 0 else 128 - code  # killed by signal N -> 128+N
        message = self._termination_message(run, exit_code)
        term: JSON = {
            "exitCode": exit_code,
            "reason": "Completed" if exit_code == 0 else "Error",
            "startedAt": run.started_at,
            "finishedAt": now_rfc3339(),
            "containerID": run.container_id,
        }
        if exit_code >= 128 and code < 0:
            term["signal"] = -code
        if message:
            term["message"] = message
        run.state = {"terminated": term}
        LOG.info("pod %s/%s container %s exited %d", self.namespace, self.name, run.name, exit_code)
        if self._should_restart(run, exit_code):
            run.restart_at = time.monotonic() + 1.0

    def _termination_message(self, run: ContainerRun, exit_code: int) -> str:
        message = ""
        with contextlib.suppress(OSError), run.term_path.open("rb") as fh:
            message = fh.read(MAX_TERMINATION_MESSAGE).decode(errors="replace")
        policy = run.spec.get("terminationMessagePolicy") or "File"
        if not message and exit_code != 0 and policy == "FallbackToLogsOnError":
            with contextlib.suppress(OSError):
                lines = run.log_path.read_bytes().splitlines()[-FALLBACK_LOG_LINES:]
                data = b"\n".join(lines)[-FALLBACK_LOG_BYTES:]
                message = data.decode(errors="replace")
        return message

    def _finish(self) -> None:
        self._signal_all(signal.SIGKILL)
        for run in [*self.init_runs, *self.runs]:
            if run.process is not None:
                with contextlib.suppress(Exception):
                    run.process.wait(timeout=5)
        if self.kill_requested.is_set() and not self.vanished:
            # Containers that never ran or were killed: terminal state, then the final delete (grace 0).
            for run in [*self.init_runs, *self.runs]:
                if "terminated" not in run.state:
                    run.state = {
                        "terminated": {
                            "exitCode": 137 if run.started_at else 0,
                            "reason": "Error" if run.started_at else "ContainerStatusUnknown",
                            "startedAt": run.started_at,
                            "finishedAt": now_rfc3339(),
                        }
                    }
            with contextlib.suppress(Exception):
                self._report()
            self.agent.final_delete(self.kube, self.namespace, self.name, self.uid)
        self.done.set()

    # -- containers -----------------------------------------------------------------------------------
    def _mounts(self, run: ContainerRun) -> list[tuple[str, str]]:
        mapping: list[tuple[str, str]] = []
        for mount in run.spec.get("volumeMounts") or []:
            host = self.volume_paths.get(mount["name"])
            if host is None:
                continue
            if mount.get("subPath"):
                host = host / mount["subPath"]
            mapping.append((mount["mountPath"].rstrip("/") or "/", str(host)))
        term_path = run.spec.get("terminationMessagePath") or "/dev/termination-log"
        mapping.append((term_path, str(run.term_path)))
        mapping.sort(key=lambda item: len(item[0]), reverse=True)
        return mapping

    def _start_container(self, run: ContainerRun) -> None:
        """Resolve env, rewrite paths and start the process; on a config error the container waits."""
        while not self.kill_requested.is_set():
            try:
                env = self._environment(run)
                break
            except ConfigError as err:
                run.state = {"waiting": {"reason": err.reason, "message": str(err)}}
                self._report()
                self.kill_requested.wait(2.0)
        else:
            return
        mapping = self._mounts(run)
        roots = self.agent.image_roots
        env = {k: rewrite_paths(v, mapping, roots) for k, v in env.items()}
        argv = [
            rewrite_paths(expand_vars(a, env), mapping, roots)
            for a in [*(run.spec.get("command") or []), *(run.spec.get("args") or [])]
        ]
        run.term_path.parent.mkdir(parents=True, exist_ok=True)
        run.term_path.write_bytes(b"")
        run.log_path.parent.mkdir(parents=True, exist_ok=True)
        workdir_spec = run.spec.get("workingDir")
        workdir = (
            Path(rewrite_paths(workdir_spec, mapping, roots))
            if workdir_spec
            else self.dir / "work" / run.name
        )
        run.started_at = now_rfc3339()
        run.container_id = f"fake-kubelet://{self.uid}-{run.name}-{run.restart_count}"
        with run.log_path.open("ab") as log:
            if run.restart_count:
                log.write(f"--- fake_kubelet: restart {run.restart_count} at {run.started_at} ---\n".encode())
                log.flush()
            error = ""
            if not run.spec.get("command"):
                error = (
                    "fake_kubelet runs containers as host processes and cannot use an image entrypoint: "
                    "set `command`"
                )
            else:
                argv[0] = self.agent.resolve_executable(argv[0], env.get("PATH", ""))
                try:
                    workdir.mkdir(parents=True, exist_ok=True)
                    run.process = subprocess.Popen(  # noqa: S603 - test harness runs the pod's command
                        argv,
                        cwd=workdir,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                except OSError as err:
                    error = f"failed to start container process: {err}"
            if error:
                log.write(f"fake_kubelet: {error}\n".encode())
                run.process = None
                run.state = {
                    "terminated": {
                        "exitCode": 128,
                        "reason": "StartError",
                        "message": error,
                        "startedAt": run.started_at,
                        "finishedAt": now_rfc3339(),
                    }
                }
                if self._should_restart(run, 128):
                    run.restart_at = time.monotonic() + 1.0
                return
        run.state = {"running": {"startedAt": run.started_at}}
        LOG.info("pod %s/%s container %s started: %s", self.namespace, self.name, run.name, argv)
        if self.kill_requested.is_set():  # deleted while starting: it gets the same SIGTERM as the others
            self._signal_all(signal.SIGTERM)

    def _environment(self, run: ContainerRun) -> dict[str, str]:
        agent = self.agent
        env: dict[str, str] = {k: os.environ[k] for k in agent.passthrough_env if k in os.environ}
        env["PATH"] = os.pathsep.join(
            [
                str(Path(agent.python).parent),
                "/usr/local/sbin:/usr/local/bin",
                "/usr/sbin:/usr/bin:/sbin:/bin",
            ]
        )
        env.setdefault("LANG", "C.UTF-8")
        env["HOSTNAME"] = self.name
        env.update(agent.service_env())
        if self.sa_kubeconfig is not None and self._mounts_token(run):
            env["KUBECONFIG"] = str(self.sa_kubeconfig)
        for source in run.spec.get("envFrom") or []:
            prefix = source.get("prefix") or ""
            if "configMapRef" in source:
                ref = source["configMapRef"]
                data = self._config_map(ref["name"], ref.get("optional", False), env_error=True)
                env.update({prefix + k: v for k, v in (data or {}).items()})
            elif "secretRef" in source:
                ref = source["secretRef"]
                data = self._secret(ref["name"], ref.get("optional", False), env_error=True)
                env.update({prefix + k: v.decode(errors="replace") for k, v in (data or {}).items()})
        for var in run.spec.get("env") or []:
            name = var["name"]
            if "valueFrom" in var:
                value = self._value_from(run, var["valueFrom"])
                if value is None:
                    continue
                env[name] = value
            else:
                env[name] = expand_vars(var.get("value") or "", env)
        return env

    def _mounts_token(self, run: ContainerRun) -> bool:
        token_volumes = {
            v["name"]
            for v in self.pod["spec"].get("volumes") or []
            if any("serviceAccountToken" in s for s in (v.get("projected") or {}).get("sources") or [])
        }
        return any(m["name"] in token_volumes for m in run.spec.get("volumeMounts") or [])

    def _value_from(self, run: ContainerRun, source: JSON) -> str | None:
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            data = self._secret(ref["name"], ref.get("optional", False), env_error=True)
            if data is None:
                return None
            if ref["key"] not in data:
                if ref.get("optional"):
                    return None
                raise ConfigError(
                    "CreateContainerConfigError", f"couldn't find key {ref['key']} in Secret {ref['name']}"
                )
            return data[ref["key"]].decode(errors="replace")
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            data = self._config_map(ref["name"], ref.get("optional", False), env_error=True)
            if data is None:
                return None
            if ref["key"] not in data:
                if ref.get("optional"):
                    return None
                raise ConfigError(
                    "CreateContainerConfigError", f"couldn't find key {ref['key']} in ConfigMap {ref['name']}"
                )
            return data[ref["key"]]
        if "fieldRef" in source:
            return self._field(source["fieldRef"]["fieldPath"])
        if "resourceFieldRef" in source:
            return self._resource_field(run.spec, source["resourceFieldRef"])
        return None

    def _field(self, path: str) -> str:
        meta, spec = self.pod["metadata"], self.pod["spec"]
        simple = {
            "metadata.name": self.name,
            "metadata.namespace": self.namespace,
            "metadata.uid": self.uid,
            "spec.nodeName": spec.get("nodeName") or self.agent.node.name,
            "spec.serviceAccountName": spec.get("serviceAccountName") or "",
            "status.podIP": "127.0.0.1",
            "status.podIPs": "127.0.0.1",
            "status.hostIP": "127.0.0.1",
            "status.hostIPs": "127.0.0.1",
        }
        if path in simple:
            return simple[path]
        match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
        if match:
            return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
        if path in ("metadata.labels", "metadata.annotations"):
            items = meta.get(path.split(".")[1]) or {}
            return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
        raise ConfigError("CreateContainerConfigError", f"unsupported fieldRef {path!r}")

    def _resource_field(self, container_spec: JSON, ref: JSON) -> str:
        container = container_spec
        if ref.get("containerName"):
            for c in self.pod["spec"].get("containers") or []:
                if c["name"] == ref["containerName"]:
                    container = c
        kind, _, res = ref["resource"].partition(".")
        resources = container.get("resources") or {}
        raw = (resources.get(kind) or {}).get(res)
        if raw is None and kind == "requests":
            raw = (resources.get("limits") or {}).get(res)
        if raw is None:
            raw = self.agent.node.capacity().get(res, "0")
        divisor = quantity(ref.get("divisor") or "1")
        return str(math.ceil(quantity(raw) / divisor))

    # -- ConfigMaps / Secrets / volumes --------------------------------------------------------------
    def _config_map(self, name: str, optional: bool, env_error: bool = False) -> dict[str, str] | None:
        try:
            obj = self.kube.get(f"/api/v1/namespaces/{self.namespace}/configmaps/{name}")
        except ApiError as err:
            if err.status == 404:
                if optional:
                    return None
                raise ConfigError(
                    "CreateContainerConfigError" if env_error else "ContainerCreating",
                    f'configmap "{name}" not found',
                ) from err
            raise
        data = dict(obj.get("data") or {})
        for k, v in (obj.get("binaryData") or {}).items():
            data[k] = base64.b64decode(v).decode(errors="replace")
        return data

    def _config_map_bytes(self, name: str, optional: bool) -> dict[str, bytes] | None:
        try:
            obj = self.kube.get(f"/api/v1/namespaces/{self.namespace}/configmaps/{name}")
        except ApiError as err:
            if err.status == 404:
                if optional:
                    return None
                raise ConfigError("ContainerCreating", f'configmap "{name}" not found') from err
            raise
        data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
        data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        return data

    def _secret(self, name: str, optional: bool, env_error: bool = False) -> dict[str, bytes] | None:
        try:
            obj = self.kube.get(f"/api/v1/namespaces/{self.namespace}/secrets/{name}")
        except ApiError as err:
            if err.status == 404:
                if optional:
                    return None
                raise ConfigError(
                    "CreateContainerConfigError" if env_error else "ContainerCreating",
                    f'secret "{name}" not found',
                ) from err
            raise
        data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        data.update({k: v.encode() for k, v in (obj.get("stringData") or {}).items()})
        return data

    @staticmethod
    def _write_files(
        target: Path, data: dict[str, bytes], items: list[JSON] | None, mode: int | None
    ) -> None:
        selected: list[tuple[str, str, int | None]]
        if items:
            selected = [(i["key"], i["path"], i.get("mode")) for i in items if i["key"] in data]
        else:
            selected = [(k, k, None) for k in data]
        for key, rel, item_mode in selected:
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data[key])
            file_mode = item_mode if item_mode is not None else mode
            if file_mode is not None:
                path.chmod(file_mode)

    def _token(self, service_account: str, audience: str | None, expiration: int | None) -> str:
        spec: JSON = {
            "expirationSeconds": max(int(expiration or 3600), 600),
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": self.name, "uid": self.uid},
        }
        if audience:
            spec["audiences"] = [audience]
        result = self.kube.post(
            f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{service_account}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
        )
        return str(result["status"]["token"])

    def _materialise_volumes(self) -> None:
        spec = self.pod["spec"]
        service_account = spec.get("serviceAccountName") or "default"
        volumes_dir = self.dir / "volumes"
        for volume in spec.get("volumes") or []:
            name = volume["name"]
            target = volumes_dir / name
            if "hostPath" in volume:
                host = Path(volume["hostPath"]["path"])
                if volume["hostPath"].get("type") == "DirectoryOrCreate":
                    host.mkdir(parents=True, exist_ok=True)
                self.volume_paths[name] = host
                continue
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            self.volume_paths[name] = target
            if "configMap" in volume:
                src = volume["configMap"]
                data = self._config_map_bytes(src["name"], src.get("optional", False))
                self._write_files(target, data or {}, src.get("items"), src.get("defaultMode"))
            elif "secret" in volume:
                src = volume["secret"]
                data = self._secret(src["secretName"], src.get("optional", False))
                self._write_files(target, data or {}, src.get("items"), src.get("defaultMode"))
            elif "downwardAPI" in volume:
                self._write_downward(target, volume["downwardAPI"].get("items") or [])
            elif "projected" in volume:
                projected = volume["projected"]
                mode = projected.get("defaultMode")
                for source in projected.get("sources") or []:
                    if "configMap" in source:
                        src = source["configMap"]
                        data = self._config_map_bytes(src["name"], src.get("optional", False))
                        self._write_files(target, data or {}, src.get("items"), mode)
                    elif "secret" in source:
                        src = source["secret"]
                        data = self._secret(src["name"], src.get("optional", False))
                        self._write_files(target, data or {}, src.get("items"), mode)
                    elif "downwardAPI" in source:
                        self._write_downward(target, source["downwardAPI"].get("items") or [])
                    elif "serviceAccountToken" in source:
                        src = source["serviceAccountToken"]
                        token_path = target / src["path"]
                        token_path.parent.mkdir(parents=True, exist_ok=True)
                        token_path.write_text(
                            self._token(service_account, src.get("audience"), src.get("expirationSeconds"))
                        )
                        if not src.get("audience"):
                            self._write_sa_kubeconfig(token_path)
                    else:
                        LOG.warning(
                            "pod %s/%s: projected source %s not supported",
                            self.namespace,
                            self.name,
                            sorted(source),
                        )
            elif "emptyDir" not in volume:
                LOG.warning(
                    "pod %s/%s: volume %s of type %s is an empty folder under fake_kubelet",
                    self.namespace,
                    self.name,
                    name,
                    sorted(k for k in volume if k != "name"),
                )

    def _write_downward(self, target: Path, items: list[JSON]) -> None:
        for item in items:
            path = target / item["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            if "fieldRef" in item:
                path.write_text(self._field(item["fieldRef"]["fieldPath"]))
            elif "resourceFieldRef" in item:
                path.write_text(self._resource_field({}, item["resourceFieldRef"]))
            if item.get("mode") is not None:
                path.chmod(item["mode"])

    def _write_sa_kubeconfig(self, token_path: Path) -> None:
        kubeconfig = self.dir / "serviceaccount.kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "in-cluster",
                    "cluster": {
                        "server": self.agent.server,
                        "certificate-authority": str(self.agent.ca_file),
                    },
                }
            ],
            "users": [{"name": "serviceaccount", "user": {"tokenFile": str(token_path)}}],
            "contexts": [
                {
                    "name": "in-cluster",
                    "context": {
                        "cluster": "in-cluster",
                        "user": "serviceaccount",
                        "namespace": self.namespace,
                    },
                }
            ],
            "current-context": "in-cluster",
        }
        kubeconfig.write_text(json.dumps(config, indent=2))
        self.sa_kubeconfig = kubeconfig

    # -- status ------------------------------------------------------------------------------------------
    def _set_condition(self, ctype: str, status: str, reason: str = "", message: str = "") -> None:
        old = self.conditions.get(ctype)
        if old and old["status"] == status and old.get("reason", "") == reason:
            return
        cond: JSON = {
            "type": ctype,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": now_rfc3339(),
        }
        cond["reason"] = reason or None
        cond["message"] = message or None
        self.conditions[ctype] = cond

    def _compute_phase(self) -> str:
        runs = self.runs
        if (
            any(r.terminated and r.terminated.get("exitCode") != 0 for r in self.init_runs)
            and all(r.restart_at is None for r in self.init_runs)
            and self.restart_policy == "Never"
        ):
            return "Failed"
        if self.kill_requested.is_set() and all(
            "running" not in r.state and r.restart_at is None for r in runs
        ):
            if all(r.terminated and r.terminated.get("exitCode") == 0 for r in runs):
                return "Succeeded"
            return "Failed"
        if any("running" in r.state for r in runs):
            return "Running"
        if runs and all(r.terminated and r.restart_at is None for r in runs):
            if all(r.terminated and r.terminated.get("exitCode") == 0 for r in runs):
                return "Succeeded"
            return "Failed"
        if any(r.restart_at is not None or r.restart_count for r in runs):
            return "Running"
        return "Pending"

    def _report(self, force_phase: str | None = None, message: str | None = None) -> None:
        phase = force_phase or self._compute_phase()
        self.phase = phase
        all_running = bool(self.runs) and all("running" in r.state for r in self.runs)
        if phase in TERMINAL_PHASES:
            self._set_condition("ContainersReady", "False", "PodCompleted")
            self._set_condition("Ready", "False", "PodCompleted")
            if phase == "Succeeded" or not self.init_runs:
                self._set_condition("Initialized", "True", "PodCompleted" if self.init_runs else "")
            self._set_condition("PodReadyToStartContainers", "False")
        elif all_running:
            self._set_condition("ContainersReady", "True")
            self._set_condition("Ready", "True")
        else:
            self._set_condition("ContainersReady", "False", "ContainersNotReady")
            self._set_condition("Ready", "False", "ContainersNotReady")
        if not self.init_runs and phase != "Pending":
            self._set_condition("Initialized", "True")
        status: JSON = {
            "phase": phase,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": self.start_time,
            "conditions": list(self.conditions.values()),
            "containerStatuses": [r.status() for r in self.runs],
        }
        if self.init_runs:
            status["initContainerStatuses"] = [r.status() for r in self.init_runs]
        if message:
            status["message"] = message
        encoded = json.dumps(status, sort_keys=True)
        if encoded == self._last_status:
            return
        try:
            self.kube.patch(
                f"/api/v1/namespaces/{self.namespace}/pods/{self.name}/status", {"status": status}
            )
            self._last_status = encoded
        except ApiError as err:
            if err.status == 404:
                self.vanished = True
                self.request_kill(0, vanished=True)
                return
            LOG.warning("pod %s/%s: status update failed: %s", self.namespace, self.name, err)


class _LogRequestHandler(http.server.BaseHTTPRequestHandler):
    """``GET /containerLogs/<ns>/<pod>/<container>``, what the apiserver proxies ``pods/log`` to."""

    server: _LogServer
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes (needed for follow)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base-class signature
        LOG.debug("log server: " + format, *args)

    def _error(self, code: int, message: str) -> None:
        body = message.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        """Serve a container log (or /healthz)."""
        parsed = urllib.parse.urlparse(self.path)
        parts = [urllib.parse.unquote(p) for p in parsed.path.strip("/").split("/")]
        if parts == ["healthz"]:
            self._error(200, "ok")
            return
        if len(parts) != 4 or parts[0] != "containerLogs":
            self._error(404, f"not found: {parsed.path}")
            return
        _, namespace, pod, container = parts
        agent = self.server.agent
        found = agent.log_file(namespace, pod, container)
        if found is None:
            self._error(404, f"no log for container {container!r} of pod {namespace}/{pod}")
            return
        path, running = found
        query = urllib.parse.parse_qs(parsed.query)
        data = path.read_bytes()
        if "tailLines" in query:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-int(query["tailLines"][0]) :]) if int(query["tailLines"][0]) else b""
        limit = int(query["limitBytes"][0]) if "limitBytes" in query else None
        if limit is not None:
            data = data[:limit]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(data)
        if query.get("follow", ["false"])[0] != "true":
            return
        offset = path.stat().st_size
        sent = len(data)
        while not agent.stopped and running():
            time.sleep(0.2)
            with path.open("rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
            if chunk:
                if limit is not None:
                    chunk = chunk[: max(limit - sent, 0)]
                offset += len(chunk)
                sent += len(chunk)
                self.wfile.write(chunk)
                self.wfile.flush()
        with path.open("rb") as fh:
            fh.seek(offset)
            rest = fh.read()
        self.wfile.write(rest[: max(limit - sent, 0)] if limit is not None else rest)


class _LogServer(http.server.ThreadingHTTPServer):
    """HTTPS log server of the node agent (127.0.0.1, self-signed certificate)."""

    daemon_threads = True

    def __init__(self, agent: FakeKubelet, cert_dir: Path) -> None:
        super().__init__(("127.0.0.1", 0), _LogRequestHandler)
        self.agent = agent
        cert, key = cert_dir / "kubelet.crt", cert_dir / "kubelet.key"
        write_self_signed(cert, key, f"{agent.node.name}-log-server", ["127.0.0.1"])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.socket = context.wrap_socket(self.socket, server_side=True)

    @property
    def port(self) -> int:
        """The listening port."""
        return int(self.server_address[1])


class FakeKubelet:
    """TEST HARNESS: one fake node; a scheduler for it; runs its pods as local processes.

    ``start()`` registers the node and starts the watch, sync and heartbeat threads; ``stop()`` kills
    every pod process group, stops the threads and (by default) deletes the Node.
    """

    def __init__(
        self,
        kubeconfig: Path,
        work_dir: Path,
        node: NodeConfig | None = None,
        log_dir: Path | None = None,
        python: str | None = None,
        passthrough_env: tuple[str, ...] = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "PYTHONPATH"),
        sync_period: float = 1.0,
    ) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.work_dir = Path(work_dir)
        self.log_dir = Path(log_dir) if log_dir else self.work_dir / "logs"
        self.node = node or NodeConfig()
        self.python = python or sys.executable
        # Host folders that stand in for the container image: never rewritten into a pod volume.
        self.image_roots = (str(Path(self.python).parent.parent), str(Path(__file__).resolve().parents[2]))
        self.passthrough_env = passthrough_env
        self.sync_period = sync_period
        self.kube = KubeJSON(self.kubeconfig)
        self.server = self.kube.host
        self.ca_file = Path(self.kube.api.configuration.ssl_ca_cert)
        self._pods: dict[str, JSON] = {}
        self._pods_lock = threading.Lock()
        self._runtimes: dict[str, PodRuntime] = {}
        self._assumed: dict[str, JSON] = {}  # bound by us, not yet seen bound in the watch
        self._unschedulable_msgs: dict[str, str] = {}
        self._final_deletes: dict[str, float] = {}
        self._wake: queue.Queue[None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._watch_resp: list[Any] = []
        self.synced = threading.Event()
        self._started_at = now_rfc3339()
        self._log_server: _LogServer | None = None

    # -- public --------------------------------------------------------------------------------------
    def start(self) -> None:
        """Register the node and start the threads; returns once the first pod list is loaded."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log_server = _LogServer(self, self.work_dir / ".log-server")
        log_thread = threading.Thread(
            target=self._log_server.serve_forever, kwargs={"poll_interval": 0.2}, name="fake-kubelet-logs"
        )
        log_thread.daemon = True
        log_thread.start()
        self.register_node()
        for target, name in (
            (self._watch_loop, "fake-kubelet-watch"),
            (self._sync_loop, "fake-kubelet-sync"),
            (self._heartbeat_loop, "fake-kubelet-heartbeat"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        if not self.synced.wait(30):
            raise RuntimeError("fake_kubelet: could not list pods within 30s")
        LOG.info("fake_kubelet: node %s ready (%s)", self.node.name, self.node.capacity())

    def stop(self, delete_node: bool = True) -> None:
        """Kill all pod processes, stop the threads, delete the Node object."""
        self._stop.set()
        self._wake.put(None)
        if self._log_server is not None:
            self._log_server.shutdown()
            self._log_server.server_close()
        for resp in self._watch_resp:
            with contextlib.suppress(Exception):
                resp.shutdown()
        for runtime in list(self._runtimes.values()):
            runtime.request_kill(0, vanished=True)
        for runtime in list(self._runtimes.values()):
            runtime.done.wait(10)
        for thread in self._threads:
            thread.join(5)
        if delete_node:
            with contextlib.suppress(Exception):
                self.kube.delete(f"/api/v1/nodes/{self.node.name}")

    def run_forever(self) -> None:
        """Run until SIGTERM/SIGINT (process mode)."""
        self.start()
        stopped = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopped.set())
        stopped.wait()
        self.stop()

    def pod_log(self, namespace: str, pod: str, container: str | None = None) -> str:
        """The log of a pod's container (the first container's by default), from the log folder."""
        for folder in sorted(self.log_dir.glob(f"{namespace}_{pod}_*")):
            logs = sorted(folder.glob("*.log"))
            if container:
                logs = [p for p in logs if p.stem == container]
            if logs:
                return logs[0].read_text(errors="replace")
        return ""

    @property
    def stopped(self) -> bool:
        """True once ``stop()`` was called."""
        return self._stop.is_set()

    def log_file(self, namespace: str, pod: str, container: str) -> tuple[Path, Callable[[], bool]] | None:
        """The log file of a container of the current pod ``namespace/pod``, and a "still running" check."""
        with self._pods_lock:
            uids = [
                uid
                for uid, p in self._pods.items()
                if p["metadata"]["namespace"] == namespace and p["metadata"]["name"] == pod
            ]
        for uid in uids:
            path = self.log_dir / f"{namespace}_{pod}_{uid}" / f"{container}.log"
            if path.exists():
                runtime = self._runtimes.get(uid)

                def running(runtime: PodRuntime | None = runtime) -> bool:
                    return (
                        runtime is not None
                        and not runtime.done.is_set()
                        and any(
                            r.name == container and "running" in r.state
                            for r in [*runtime.init_runs, *runtime.runs]
                        )
                    )

                return path, running
        return None

    def process_ids(self, namespace: str, pod: str) -> list[int]:
        """Process ids of the pod's running containers (for tests)."""
        for runtime in list(self._runtimes.values()):
            if runtime.namespace == namespace and runtime.name == pod:
                return [
                    r.process.pid
                    for r in [*runtime.init_runs, *runtime.runs]
                    if r.process is not None and r.process.poll() is None
                ]
        return []

    def service_env(self) -> dict[str, str]:
        """KUBERNETES_SERVICE_* pointing at the loopback apiserver."""
        parsed = urllib.parse.urlparse(self.server)
        port = str(parsed.port or 443)
        return {
            "KUBERNETES_SERVICE_HOST": parsed.hostname or "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": port,
            "KUBERNETES_SERVICE_PORT_HTTPS": port,
            "KUBERNETES_PORT": f"tcp://{parsed.hostname}:{port}",
            "KUBERNETES_PORT_443_TCP": f"tcp://{parsed.hostname}:{port}",
            "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
            "KUBERNETES_PORT_443_TCP_ADDR": parsed.hostname or "127.0.0.1",
            "KUBERNETES_PORT_443_TCP_PORT": port,
        }

    def resolve_executable(self, name: str, path: str) -> str:
        """``python``-like names → the venv python; bare names looked up in the pod's PATH."""
        if PYTHON_NAMES.match(name):
            return self.python
        if "/" not in name:
            found = shutil.which(name, path=path)
            if found:
                return found
        return name

    # -- node ---------------------------------------------------------------------------------------
    def _node_status(self) -> JSON:
        now = now_rfc3339()

        def cond(ctype: str, status: str, reason: str, message: str) -> JSON:
            return {
                "type": ctype,
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": now,
                "lastTransitionTime": self._started_at,
            }

        cap = self.node.capacity()
        return {
            "capacity": cap,
            "allocatable": cap,
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "fake_kubelet"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "fake_kubelet"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "fake_kubelet"),
                cond("Ready", "True", "KubeletReady", "fake_kubelet (test harness) is posting ready status"),
            ],
            "daemonEndpoints": {
                "kubeletEndpoint": {"Port": self._log_server.port if self._log_server else 0}
            },
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": self.node.name},
            ],
            "nodeInfo": {
                "machineID": "fake",
                "systemUUID": "fake",
                "bootID": "fake",
                "kernelVersion": os.uname().release,
                "osImage": "fake_kubelet test harness",
                "containerRuntimeVersion": "fake-kubelet://local-processes",
                "kubeletVersion": "v0.0.0-fake-kubelet",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }

    def register_node(self) -> None:
        """Create (or update) the Node object and its status."""
        self._started_at = now_rfc3339()
        labels = {
            "kubernetes.io/hostname": self.node.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "safe-synthesizer.test/fake-kubelet": "true",
            **self.node.labels,
        }
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.node.name, "labels": labels},
            "spec": {},
        }
        try:
            self.kube.post("/api/v1/nodes", body)
        except ApiError as err:
            if err.status != 409:
                raise
            self.kube.patch(f"/api/v1/nodes/{self.node.name}", {"metadata": {"labels": labels}})
        self.kube.patch(f"/api/v1/nodes/{self.node.name}/status", {"status": self._node_status()}, "merge")
        self._renew_lease(self.kube)

    def _renew_lease(self, kube: KubeJSON) -> None:
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.node.name}"
        spec = {"holderIdentity": self.node.name, "leaseDurationSeconds": 40, "renewTime": now_micro()}
        try:
            kube.patch(path, {"spec": spec}, "merge")
        except ApiError as err:
            if err.status != 404:
                raise
            kube.post(
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self.node.name, "namespace": "kube-node-lease"},
                    "spec": spec,
                },
            )

    def _heartbeat_loop(self) -> None:
        kube = KubeJSON(self.kubeconfig)
        last_status = time.monotonic()
        while not self._stop.wait(10):
            try:
                self._renew_lease(kube)
                if time.monotonic() - last_status >= 30:
                    kube.patch(
                        f"/api/v1/nodes/{self.node.name}/status", {"status": self._node_status()}, "merge"
                    )
                    last_status = time.monotonic()
            except Exception as err:  # keep beating
                LOG.warning("fake_kubelet: heartbeat failed: %s", err)

    # -- pod cache ----------------------------------------------------------------------------------
    def _watch_loop(self) -> None:
        kube = KubeJSON(self.kubeconfig)
        while not self._stop.is_set():
            try:
                listing = kube.get("/api/v1/pods")
                with self._pods_lock:
                    self._pods = {p["metadata"]["uid"]: p for p in listing.get("items") or []}
                rv = listing["metadata"]["resourceVersion"]
                self.synced.set()
                self._wake.put(None)
                while not self._stop.is_set():
                    for event in kube.watch("/api/v1/pods", rv, 60, self._watch_resp):
                        etype, obj = event["type"], event["object"]
                        if etype == "ERROR":
                            raise ApiError(int(obj.get("code") or 500), obj, "WATCH", "/api/v1/pods")
                        rv = obj["metadata"]["resourceVersion"]
                        if etype == "BOOKMARK":
                            continue
                        with self._pods_lock:
                            if etype == "DELETED":
                                self._pods.pop(obj["metadata"]["uid"], None)
                            else:
                                self._pods[obj["metadata"]["uid"]] = obj
                        self._wake.put(None)
                        if self._stop.is_set():
                            return
            except Exception as err:
                if self._stop.is_set():
                    return
                if not (isinstance(err, ApiError) and err.status == 410):
                    LOG.info("fake_kubelet: pod watch restarting: %s", err)
                time.sleep(0.5)

    # -- sync loop --------------------------------------------------------------------------------
    def _sync_loop(self) -> None:
        kube = KubeJSON(self.kubeconfig)
        while not self._stop.is_set():
            with contextlib.suppress(queue.Empty):
                self._wake.get(timeout=self.sync_period)
                # Coalesce bursts of events.
                while True:
                    self._wake.get_nowait()
            if self._stop.is_set():
                return
            try:
                self._sync_once(kube)
            except Exception:
                LOG.error("fake_kubelet: sync failed\n%s", traceback.format_exc())

    def _sync_once(self, kube: KubeJSON) -> None:
        with self._pods_lock:
            pods = dict(self._pods)
        # Pods gone from the API: kill at once.
        for uid, runtime in list(self._runtimes.items()):
            if uid not in pods:
                runtime.request_kill(0, vanished=True)
                if runtime.done.is_set():
                    del self._runtimes[uid]
                    shutil.rmtree(runtime.dir, ignore_errors=True)
        for uid in list(self._assumed):
            pod = pods.get(uid)
            if pod is None or pod["spec"].get("nodeName"):
                self._assumed.pop(uid)
        for uid in list(self._final_deletes):
            if uid not in pods:
                self._final_deletes.pop(uid)
        pending: list[JSON] = []
        for uid, pod in pods.items():
            spec, meta = pod["spec"], pod["metadata"]
            node_name = spec.get("nodeName")
            if not node_name:
                if uid in self._assumed:
                    continue
                if (spec.get("schedulerName") or DEFAULT_SCHEDULER) == DEFAULT_SCHEDULER and not meta.get(
                    "deletionTimestamp"
                ):
                    pending.append(pod)
                continue
            if node_name != self.node.name:
                continue
            runtime = self._runtimes.get(uid)
            phase = (pod.get("status") or {}).get("phase")
            if meta.get("deletionTimestamp"):
                grace = meta.get("deletionGracePeriodSeconds")
                grace = 30 if grace is None else min(int(grace), 30)
                if runtime is not None and not runtime.done.is_set():
                    runtime.request_kill(grace)
                elif time.monotonic() - self._final_deletes.get(uid, 0.0) > 5:
                    # Nothing runs (terminal, or never started): the kubelet's final delete.
                    self._final_deletes[uid] = time.monotonic()
                    self.final_delete(kube, meta["namespace"], meta["name"], uid)
                continue
            if runtime is None and phase not in TERMINAL_PHASES:
                runtime = PodRuntime(self, pod)
                self._runtimes[uid] = runtime
                runtime.start()
        if pending:
            self._schedule(kube, pods, pending)

    def final_delete(self, kube: KubeJSON, namespace: str, name: str, uid: str) -> None:
        """Delete the pod object with grace 0 (once its processes are dead), as a kubelet does."""
        try:
            kube.delete(
                f"/api/v1/namespaces/{namespace}/pods/{name}",
                {
                    "apiVersion": "v1",
                    "kind": "DeleteOptions",
                    "gracePeriodSeconds": 0,
                    "preconditions": {"uid": uid},
                },
            )
        except ApiError as err:
            if err.status != 409:  # 409: a newer pod with the same name
                LOG.warning("fake_kubelet: final delete of %s/%s failed: %s", namespace, name, err)

    # -- scheduling ----------------------------------------------------------------------------------
    def _schedule(self, kube: KubeJSON, pods: dict[str, JSON], pending: list[JSON]) -> None:
        allocatable = {k: quantity(v) for k, v in self.node.capacity().items()}
        used: dict[str, Decimal] = {"pods": Decimal(0)}
        on_node = [
            p
            for p in pods.values()
            if p["spec"].get("nodeName") == self.node.name
            and (p.get("status") or {}).get("phase") not in TERMINAL_PHASES
        ]
        for pod in [*on_node, *self._assumed.values()]:
            used["pods"] += 1
            for k, v in pod_requests(pod).items():
                used[k] = used.get(k, Decimal(0)) + v
        node_labels = {
            "kubernetes.io/hostname": self.node.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "safe-synthesizer.test/fake-kubelet": "true",
            **self.node.labels,
        }
        pending.sort(key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))
        for pod in pending:
            meta = pod["metadata"]
            reasons: list[str] = []
            if pod["spec"].get("schedulingGates"):
                continue
            selector = pod["spec"].get("nodeSelector") or {}
            if any(node_labels.get(k) != v for k, v in selector.items()):
                reasons.append("1 node(s) didn't match Pod's node affinity/selector")
            requests = pod_requests(pod)
            requests["pods"] = Decimal(1)
            for res, amount in sorted(requests.items()):
                if amount <= 0:
                    continue
                if used.get(res, Decimal(0)) + amount > allocatable.get(res, Decimal(0)):
                    reasons.append(f"1 Insufficient {res}" if res != "pods" else "1 Too many pods")
            if reasons:
                message = f"0/1 nodes are available: {', '.join(reasons)}."
                self._mark_unschedulable(kube, pod, message)
                continue
            try:
                kube.post(
                    f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/binding",
                    {
                        "apiVersion": "v1",
                        "kind": "Binding",
                        "metadata": {
                            "name": meta["name"],
                            "namespace": meta["namespace"],
                            "uid": meta["uid"],
                        },
                        "target": {"apiVersion": "v1", "kind": "Node", "name": self.node.name},
                    },
                )
            except ApiError as err:
                LOG.info("fake_kubelet: binding %s/%s failed: %s", meta["namespace"], meta["name"], err)
                continue
            LOG.info("pod %s/%s: bound to %s", meta["namespace"], meta["name"], self.node.name)
            self._unschedulable_msgs.pop(meta["uid"], None)
            self._assumed[meta["uid"]] = pod
            used["pods"] += 1
            for k, v in pod_requests(pod).items():
                used[k] = used.get(k, Decimal(0)) + v
            self._event(
                kube,
                pod,
                "Normal",
                "Scheduled",
                f"Successfully assigned {meta['namespace']}/{meta['name']} to {self.node.name}",
            )

    def _mark_unschedulable(self, kube: KubeJSON, pod: JSON, message: str) -> None:
        meta = pod["metadata"]
        if self._unschedulable_msgs.get(meta["uid"]) == message:
            return
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": now_rfc3339(),
        }
        try:
            kube.patch(
                f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
                {"status": {"conditions": [condition]}},
            )
        except ApiError as err:
            LOG.info(
                "fake_kubelet: marking %s/%s unschedulable failed: %s", meta["namespace"], meta["name"], err
            )
            return
        self._unschedulable_msgs[meta["uid"]] = message
        LOG.info("pod %s/%s: unschedulable: %s", meta["namespace"], meta["name"], message)
        self._event(kube, pod, "Warning", "FailedScheduling", message)

    def _event(self, kube: KubeJSON, pod: JSON, etype: str, reason: str, message: str) -> None:
        meta = pod["metadata"]
        now = now_rfc3339()
        with contextlib.suppress(Exception):
            kube.post(
                f"/api/v1/namespaces/{meta['namespace']}/events",
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
                    "involvedObject": {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "name": meta["name"],
                        "namespace": meta["namespace"],
                        "uid": meta["uid"],
                    },
                    "reason": reason,
                    "message": message,
                    "type": etype,
                    "source": {"component": "fake-kubelet", "host": self.node.name},
                    "firstTimestamp": now,
                    "lastTimestamp": now,
                    "count": 1,
                    "reportingComponent": "fake-kubelet",
                    "reportingInstance": self.node.name,
                },
            )


def main(argv: list[str] | None = None) -> int:
    """Process mode: ``python fake_kubelet.py --kubeconfig K --work-dir D [--gpus N ...]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--work-dir", required=True, type=Path)
    parser.add_argument("--log-dir", type=Path)
    parser.add_argument("--node-name", default=NodeConfig.name)
    parser.add_argument("--cpu", default=NodeConfig.cpu)
    parser.add_argument("--memory", default=NodeConfig.memory)
    parser.add_argument("--gpus", type=int, default=NodeConfig.gpus)
    parser.add_argument("--python", default=sys.executable, help="interpreter that `python` in pods maps to")
    parser.add_argument("--passthrough-env", default="HOME,LANG,LC_ALL,TMPDIR,TZ,PYTHONPATH")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(message)s")
    agent = FakeKubelet(
        args.kubeconfig,
        args.work_dir,
        NodeConfig(name=args.node_name, cpu=args.cpu, memory=args.memory, gpus=args.gpus),
        log_dir=args.log_dir,
        python=args.python,
        passthrough_env=tuple(x for x in args.passthrough_env.split(",") if x),
    )
    agent.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
