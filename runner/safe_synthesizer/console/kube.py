"""The caller's own Kubernetes client: one :class:`~safe_synthesizer.sdk.SafeSynthesizerClient`
per request, authenticated as the person using the page (see :mod:`.settings`)."""

from __future__ import annotations

import threading
from typing import Any

from ..sdk import SafeSynthesizerClient
from ..sdk.errors import Forbidden, SafeSynthesizerSdkError
from .settings import ConsoleSettings

_SHARED: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def token_api_client(settings: ConsoleSettings, token: str) -> Any:
    """A ``kubernetes.client.ApiClient`` that sends ``token`` as ``Authorization: Bearer``."""
    from kubernetes import client

    if not settings.api_server:
        raise SafeSynthesizerSdkError("SSC_API_SERVER is not set (token sign-in needs the API server URL)")
    configuration = client.Configuration()
    configuration.host = settings.api_server
    configuration.ssl_ca_cert = settings.ca_file
    # the generated client reads the key named after its security scheme ("BearerToken")
    configuration.api_key = {"BearerToken": token}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    return client.ApiClient(configuration)


def kubeconfig_api_client(settings: ConsoleSettings) -> Any:
    """The ``ApiClient`` of the local kubeconfig (built once, shared by every request)."""
    key = (settings.kubeconfig, settings.context)
    with _LOCK:
        if key not in _SHARED:
            probe = SafeSynthesizerClient(
                kubeconfig=settings.kubeconfig, context=settings.context, in_cluster=False
            )
            try:
                _SHARED[key] = probe.api_client
            except Exception as exc:  # noqa: BLE001 - kubernetes' ConfigException, a missing file, ...
                raise SafeSynthesizerSdkError(
                    f"cannot use the kubeconfig {probe._kubeconfig_file()}: {exc} "
                    "(set KUBECONFIG or SSC_KUBECONFIG; `make cluster-up` prints one)"
                ) from None
        return _SHARED[key]


def sdk_client(settings: ConsoleSettings, api_client: Any, namespace: str) -> SafeSynthesizerClient:
    """The SDK on ``api_client``, with the console's upload prefix and S3 settings."""
    return SafeSynthesizerClient(
        namespace=namespace,
        api_client=api_client,
        upload_prefix=settings.upload_prefix,
        s3=settings.s3_settings(),
    )


def who_am_i(api_client: Any) -> str:
    """The user name the API server sees for ``api_client`` (SelfSubjectReview); raises
    ``Forbidden`` for a token it does not accept."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from ..sdk.errors import from_api_exception

    api = client.AuthenticationV1Api(api_client)
    try:
        review = api.create_self_subject_review(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        )
    except ApiException as exc:
        raise from_api_exception(exc, "sign-in") from None
    info = getattr(getattr(review, "status", None), "user_info", None)
    name = getattr(info, "username", None)
    if not name:
        raise Forbidden("sign-in: the API server did not name a user for this token")
    return str(name)


def can_i(api_client: Any, verb: str, namespace: str, resource: str = "safesynthesizerjobs") -> bool:
    """Whether the caller may ``verb`` ``resource`` in ``namespace`` (SelfSubjectAccessReview)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from ..sdk.errors import from_api_exception

    api = client.AuthorizationV1Api(api_client)
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {
                "group": "safesynthesizer.io" if resource.startswith("safesynthesizer") else "",
                "resource": resource,
                "verb": verb,
                "namespace": namespace,
            }
        },
    }
    try:
        review = api.create_self_subject_access_review(body)
    except ApiException as exc:
        raise from_api_exception(exc, f"access review in {namespace}") from None
    return bool(getattr(review.status, "allowed", False))
