"""Kubernetes API access for the operator: plain JSON over the official client's connection.

kopf watches and dispatches; every read and write the reconciler makes goes through
:class:`KubeApi`, which speaks raw JSON (dicts in, dicts out) through ``kubernetes.client.ApiClient``
so no typed model conversion is involved. Credentials: ``$KUBECONFIG`` / ``~/.kube/config`` when
present, else the in-cluster ServiceAccount (``kubernetes.config.load_config``).
"""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from safe_synthesizer.config import GROUP, KIND, PLURAL, VERSION

from .jobs import MANAGER
from .status import now_rfc3339, one_line

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"
JSON = dict[str, Any]


def is_status(exc: BaseException, *codes: int) -> bool:
    """True when ``exc`` is an API error with one of the HTTP ``codes``."""
    return isinstance(exc, ApiException) and exc.status in codes


def make_api_client(pool_size: int = 32) -> k8s.ApiClient:
    """An ApiClient from the kubeconfig or the in-cluster account, with a pool for parallel reconciles."""
    configuration = k8s.Configuration()
    try:
        k8s_config.load_kube_config(client_configuration=configuration)
    except (k8s_config.ConfigException, FileNotFoundError, TypeError):
        k8s_config.load_incluster_config(client_configuration=configuration)
    configuration.connection_pool_maxsize = pool_size
    return k8s.ApiClient(configuration)


class KubeApi:
    """The few API calls the reconciler needs, as raw JSON."""

    def __init__(self, api_client: k8s.ApiClient, timeout: float = 30.0) -> None:
        self.api_client = api_client
        self.timeout = timeout
        self.instance = socket.gethostname()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> JSON:
        """One API call; raises ``ApiException`` on a non-2xx answer."""
        response = self.api_client.call_api(
            path,
            method,
            query_params=list((query or {}).items()),
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=self.timeout,
        )
        data = response.data
        return json.loads(data) if data else {}

    # -- SafeSynthesizerJob --------------------------------------------------------------------

    @staticmethod
    def _cr_path(namespace: str, name: str = "") -> str:
        base = f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace)}/{PLURAL}"
        return f"{base}/{quote(name)}" if name else base

    def get_cr(self, namespace: str, name: str) -> JSON | None:
        """The CR, or None when it does not exist."""
        try:
            return self.request("GET", self._cr_path(namespace, name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def list_crs(self, namespace: str | None = None) -> list[JSON]:
        """Every CR in ``namespace`` (or the whole cluster)."""
        path = self._cr_path(namespace) if namespace else f"/apis/{GROUP}/{VERSION}/{PLURAL}"
        return list(self.request("GET", path).get("items") or [])

    def patch_cr_status(self, namespace: str, name: str, status: JSON, resource_version: str) -> JSON:
        """Merge-patch ``.status`` with an optimistic lock on ``resourceVersion`` (409 when stale)."""
        body = {"metadata": {"resourceVersion": resource_version}, "status": status}
        return self.request(
            "PATCH", self._cr_path(namespace, name) + "/status", body=body, content_type=MERGE_PATCH
        )

    def delete_cr(self, namespace: str, name: str, uid: str) -> None:
        """Delete the CR (children follow through the garbage collector); only that uid."""
        body = {"propagationPolicy": "Background", "preconditions": {"uid": uid}}
        try:
            self.request("DELETE", self._cr_path(namespace, name), body=body)
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise

    # -- Jobs, ConfigMaps, Pods, ServiceAccounts -----------------------------------------------

    def list_jobs(self, namespace: str, selector: str) -> list[JSON]:
        """Jobs matching a label selector."""
        path = f"/apis/batch/v1/namespaces/{quote(namespace)}/jobs"
        return list(self.request("GET", path, query={"labelSelector": selector}).get("items") or [])

    def get_job(self, namespace: str, name: str) -> JSON | None:
        """A Job, or None."""
        try:
            return self.request("GET", f"/apis/batch/v1/namespaces/{quote(namespace)}/jobs/{quote(name)}")
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def create_job(self, namespace: str, body: JSON) -> JSON:
        """Create a Job (409 AlreadyExists propagates: the caller adopts)."""
        return self.request("POST", f"/apis/batch/v1/namespaces/{quote(namespace)}/jobs", body=body)

    def delete_job(self, namespace: str, name: str) -> None:
        """Delete a Job and, in the background, its pods (which get SIGTERM)."""
        try:
            self.request(
                "DELETE",
                f"/apis/batch/v1/namespaces/{quote(namespace)}/jobs/{quote(name)}",
                body={"propagationPolicy": "Background"},
            )
        except ApiException as exc:
            if exc.status != 404:
                raise

    def create_config_map(self, namespace: str, body: JSON) -> JSON | None:
        """Create a ConfigMap; None when it already exists."""
        try:
            return self.request("POST", f"/api/v1/namespaces/{quote(namespace)}/configmaps", body=body)
        except ApiException as exc:
            if exc.status == 409:
                return None
            raise

    def delete_config_map(self, namespace: str, name: str) -> None:
        """Delete a ConfigMap (missing is fine)."""
        try:
            self.request("DELETE", f"/api/v1/namespaces/{quote(namespace)}/configmaps/{quote(name)}")
        except ApiException as exc:
            if exc.status != 404:
                raise

    def list_pods(self, namespace: str, selector: str) -> list[JSON]:
        """Pods matching a label selector."""
        path = f"/api/v1/namespaces/{quote(namespace)}/pods"
        return list(self.request("GET", path, query={"labelSelector": selector}).get("items") or [])

    def service_account_exists(self, namespace: str, name: str) -> bool:
        """Whether the ServiceAccount exists (job pods fail to be created without it)."""
        try:
            self.request("GET", f"/api/v1/namespaces/{quote(namespace)}/serviceaccounts/{quote(name)}")
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # -- Events -------------------------------------------------------------------------------

    def post_event(self, cr: Mapping[str, Any], event_type: str, reason: str, message: str) -> None:
        """A core/v1 Event about the CR (one line, at most 1000 characters). Never raises."""
        meta = cr.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        now = now_rfc3339()
        micro = now.replace("Z", ".000000Z")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta.get('name')}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": KIND,
                "name": meta.get("name"),
                "namespace": namespace,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": one_line(message),
            "type": event_type,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "eventTime": micro,
            "action": reason,
            "source": {"component": MANAGER},
            "reportingComponent": f"safesynthesizer.io/{MANAGER}",
            "reportingInstance": self.instance[:128],
        }
        try:
            self.request("POST", f"/api/v1/namespaces/{quote(namespace)}/events", body=body)
        except Exception as exc:  # noqa: BLE001 - events are best effort
            log.warning("could not post event %s on %s/%s: %s", reason, namespace, meta.get("name"), exc)
