"""Optional progress sink: the runner pod patches its own ``SafeSynthesizerJob``'s ``status.progress``.

The operator starts the runner with ``SAFE_SYNTH_CR_NAME``, ``SAFE_SYNTH_CR_NAMESPACE`` and
``SAFE_SYNTH_CR_UID`` and a ServiceAccount allowed to ``get``/``patch``
``safesynthesizerjobs/status`` in its namespace (the chart's job account). This sink sends
``{stage, percent, message, updatedAt}`` at most every ``min_interval`` seconds (5 s), from a
background thread, so a slow or unreachable API server never slows the pipeline.

The PATCH is a JSON patch on the status subresource that first *tests* ``/metadata/uid``, so a
CR deleted and re-created under the same name is never written to; when ``/status`` does not exist
yet it falls back to a merge patch (after checking the uid). Only ``status.progress`` is written:
phase, conditions and results stay the operator's.

Silently disabled (returns None from :meth:`KubernetesProgressSink.from_env`) when the variables
are missing or the ``kubernetes`` package is not installed; disabled after the first 401/403/404
(no rights, CR gone), with one warning in the log. Credentials: ``$KUBECONFIG`` when set, else the
in-cluster ServiceAccount token; never ``~/.kube/config`` (a developer's admin credentials).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from .contract import ENV_CR_NAME, ENV_CR_NAMESPACE, ENV_CR_UID, progress_status
from .progress import ProgressEvent, overall_percent

log = logging.getLogger(__name__)

GROUP = "safesynthesizer.io"
VERSION = "v1alpha1"
PLURAL = "safesynthesizerjobs"
MIN_INTERVAL = 5.0
_FATAL = (401, 403, 404)


def _api_client(environ: Mapping[str, str]) -> Any | None:
    """An ApiClient from ``$KUBECONFIG`` or the in-cluster account; None when neither is there."""
    try:
        from kubernetes import client, config
    except ImportError:
        return None
    kubeconfig = environ.get("KUBECONFIG")
    try:
        if kubeconfig:
            return config.new_client_from_config(config_file=kubeconfig.split(os.pathsep)[0])
        if environ.get("KUBERNETES_SERVICE_HOST"):
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
    except Exception as exc:  # noqa: BLE001 - any config problem just disables the sink
        log.debug("kubernetes progress reporting disabled: %s", exc)
    return None


class KubernetesProgressSink:
    """A :class:`~safe_synthesizer.progress.ProgressHub` sink that patches ``status.progress``."""

    def __init__(
        self,
        name: str,
        namespace: str,
        uid: str | None,
        api_client: Any,
        min_interval: float = MIN_INTERVAL,
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.api_client = api_client
        self.min_interval = min_interval
        self.sent = 0
        self.disabled = False
        self._pending: dict[str, Any] | None = None
        self._last_sent = 0.0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KubernetesProgressSink | None:
        """The sink for the CR named in the environment, or None when reporting is not possible."""
        env = os.environ if environ is None else environ
        name, namespace = env.get(ENV_CR_NAME), env.get(ENV_CR_NAMESPACE)
        if not name or not namespace:
            return None
        api_client = _api_client(env)
        if api_client is None:
            return None
        return cls(name, namespace, env.get(ENV_CR_UID) or None, api_client)

    # -- the sink ----------------------------------------------------------------------------

    def __call__(self, event: ProgressEvent) -> None:
        """Remember the newest progress; the sender thread ships it when its interval allows."""
        if self.disabled:
            return
        progress = progress_status(
            event.stage,
            float(overall_percent(event.stage, event.fraction)),
            event.message or "",
            dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        with self._cond:
            self._pending = progress
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="k8s-progress", daemon=True)
                self._thread.start()
            self._cond.notify()

    def flush(self, timeout: float = 5.0) -> None:
        """Send what is pending now (ignoring the interval); waits at most ``timeout`` seconds."""
        with self._cond:
            progress, self._pending = self._pending, None
        if progress is not None and not self.disabled:
            self._send(progress, timeout)

    # -- sending -----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self.disabled:
            with self._cond:
                while self._pending is None:
                    self._cond.wait()
                wait = self._last_sent + self.min_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            with self._cond:
                progress, self._pending = self._pending, None
            if progress is not None:
                self._send(progress, self.min_interval)

    def _path(self) -> str:
        return f"/apis/{GROUP}/{VERSION}/namespaces/{self.namespace}/{PLURAL}/{self.name}/status"

    def _request(self, method: str, body: Any, content_type: str, timeout: float) -> None:
        self.api_client.call_api(
            self._path(),
            method,
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=timeout,
        )

    def _send(self, progress: dict[str, Any], timeout: float) -> None:
        self._last_sent = time.monotonic()
        try:
            if self.uid:
                try:
                    patch = [
                        {"op": "test", "path": "/metadata/uid", "value": self.uid},
                        {"op": "add", "path": "/status/progress", "value": progress},
                    ]
                    self._request("PATCH", patch, "application/json-patch+json", timeout)
                except Exception as exc:  # noqa: BLE001
                    if getattr(exc, "status", None) != 422 or not self._same_uid(timeout):
                        raise
                    # /status does not exist yet: a merge patch creates it.
                    self._merge(progress, timeout)
            else:
                self._merge(progress, timeout)
            self.sent += 1
        except Exception as exc:  # noqa: BLE001 - progress is best effort, the pipeline goes on
            code = getattr(exc, "status", None)
            if code in _FATAL or code == 422:
                self.disabled = True
                log.warning("progress reporting to %s/%s disabled (HTTP %s)", self.namespace, self.name, code)
            else:
                log.debug("progress report failed: %s", exc)

    def _merge(self, progress: dict[str, Any], timeout: float) -> None:
        self._request("PATCH", {"status": {"progress": progress}}, "application/merge-patch+json", timeout)

    def _same_uid(self, timeout: float) -> bool:
        import json

        response = self.api_client.call_api(
            self._path(),
            "GET",
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=timeout,
        )
        return (json.loads(response.data).get("metadata") or {}).get("uid") == self.uid
