"""Console settings, from ``SSC_*`` environment variables (the chart sets them; ``make console``
sets the local ones).

Authentication (``SSC_AUTH``) decides whose Kubernetes permissions every page uses; the console
never uses a credential of its own for the Kubernetes API:

* ``kubeconfig``: the kubeconfig of the person who started it (``SSC_KUBECONFIG`` or
  ``$KUBECONFIG`` or ``~/.kube/config``, context ``SSC_CONTEXT``): ``make console`` on a laptop,
  listening on 127.0.0.1 only. Whoever reaches the port acts as that person.
* ``token`` (the chart's mode): each user signs in with their own Kubernetes bearer token (a
  ``kubectl create token`` ServiceAccount token or the cluster's OIDC ID token); it is kept in the
  signed, HttpOnly session cookie and sent as ``Authorization: Bearer`` to ``SSC_API_SERVER``
  (in a pod: ``https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT``) with the CA
  ``SSC_CA_FILE``. The console's own ServiceAccount has no token and no RBAC.

S3 (uploads, results and reports) uses the console's S3 settings (``SSC_S3_ENDPOINT``,
``SSC_S3_REGION``, ``SSC_S3_ADDRESSING_STYLE``) and the standard ``AWS_*`` credentials, never a
job's own ``spec.s3`` endpoint; it reads only the result URLs on the status of a job the user could
read, and uploads only under ``SSC_UPLOAD_PREFIX``/<namespace>/ after the API server said the user
may create jobs in that namespace.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AUTH_MODES = ("kubeconfig", "token")
IN_CLUSTER_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass
class ConsoleSettings:
    """Everything the console reads from its environment (see the module docstring)."""

    auth: str = "kubeconfig"
    kubeconfig: str | None = None
    context: str | None = None
    api_server: str | None = None
    ca_file: str | None = None
    namespace: str = "default"
    namespaces: list[str] = field(default_factory=list)
    upload_prefix: str | None = None
    s3_endpoint: str | None = None
    s3_region: str | None = None
    s3_addressing_style: str = "auto"
    job_defaults: dict[str, Any] = field(default_factory=dict)
    url_prefix: str = ""
    secret_key: str = ""
    secure_cookies: bool = False
    session_hours: float = 8.0
    max_upload_mb: int = 512
    proxy_fix: int = 0
    log_tail_lines: int = 200

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConsoleSettings:
        """Read ``SSC_*`` (unset: the defaults above; ``SSC_AUTH`` defaults to ``token`` in a pod)."""
        env = dict(os.environ if environ is None else environ)
        in_pod = bool(env.get("KUBERNETES_SERVICE_HOST"))
        auth = (env.get("SSC_AUTH") or ("token" if in_pod else "kubeconfig")).strip().lower()
        if auth not in AUTH_MODES:
            raise ValueError(f"SSC_AUTH must be one of {', '.join(AUTH_MODES)}, got {auth!r}")
        api_server = env.get("SSC_API_SERVER") or None
        if api_server is None and in_pod:
            host = env["KUBERNETES_SERVICE_HOST"]
            host = f"[{host}]" if ":" in host else host
            api_server = f"https://{host}:{env.get('KUBERNETES_SERVICE_PORT', '443')}"
        ca_file = env.get("SSC_CA_FILE") or (IN_CLUSTER_CA if Path(IN_CLUSTER_CA).exists() else None)
        defaults_text = env.get("SSC_JOB_DEFAULTS") or ""
        try:
            job_defaults = json.loads(defaults_text) if defaults_text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"SSC_JOB_DEFAULTS is not JSON: {exc}") from None
        if not isinstance(job_defaults, dict):
            raise ValueError("SSC_JOB_DEFAULTS must be a JSON object (CR spec fields)")
        prefix = (env.get("SSC_URL_PREFIX") or "").strip().rstrip("/")
        if prefix and not prefix.startswith("/"):
            prefix = "/" + prefix
        return cls(
            auth=auth,
            kubeconfig=env.get("SSC_KUBECONFIG") or None,
            context=env.get("SSC_CONTEXT") or None,
            api_server=api_server,
            ca_file=ca_file,
            namespace=env.get("SSC_NAMESPACE") or "default",
            namespaces=[n.strip() for n in (env.get("SSC_NAMESPACES") or "").split(",") if n.strip()],
            upload_prefix=env.get("SSC_UPLOAD_PREFIX") or None,
            s3_endpoint=env.get("SSC_S3_ENDPOINT") or env.get("AWS_ENDPOINT_URL") or None,
            s3_region=env.get("SSC_S3_REGION") or None,
            s3_addressing_style=env.get("SSC_S3_ADDRESSING_STYLE") or "auto",
            job_defaults=job_defaults,
            url_prefix=prefix,
            secret_key=env.get("SSC_SECRET_KEY") or secrets.token_urlsafe(32),
            secure_cookies=_flag(env.get("SSC_SECURE_COOKIES"), False),
            session_hours=float(env.get("SSC_SESSION_HOURS") or 8),
            max_upload_mb=int(env.get("SSC_MAX_UPLOAD_MB") or 512),
            proxy_fix=int(env.get("SSC_PROXY_FIX") or 0),
        )

    def s3_settings(self) -> Any:
        """The console's :class:`~safe_synthesizer.config.S3Settings` (never a job's own)."""
        from ..config import S3Settings

        return S3Settings(
            endpoint=self.s3_endpoint, region=self.s3_region, addressingStyle=self.s3_addressing_style
        )
