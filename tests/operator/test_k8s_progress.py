"""Unit tests of the runner's Kubernetes progress sink (the e2e tests show it on a real CR).

``RecordingApiClient`` is a TEST DOUBLE of ``kubernetes.client.ApiClient.call_api``: it records the
requests and answers with scripted HTTP statuses.
"""

from __future__ import annotations

import json
import time

from safe_synthesizer.k8s_progress import KubernetesProgressSink
from safe_synthesizer.progress import ProgressEvent


class ApiError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Response:
    def __init__(self, body: dict) -> None:
        self.data = json.dumps(body).encode()


class RecordingApiClient:
    """TEST DOUBLE: records call_api requests; ``fail`` maps (method, content type) to a status."""

    def __init__(self, fail: dict | None = None, uid: str = "uid-1") -> None:
        self.calls: list[tuple[str, str, object, str | None]] = []
        self.fail = dict(fail or {})
        self.uid = uid

    def call_api(self, path, method, header_params=None, body=None, **_):
        content_type = (header_params or {}).get("Content-Type")
        self.calls.append((method, path, body, content_type))
        status = self.fail.get((method, content_type))
        if status:
            raise ApiError(status)
        return Response({"metadata": {"uid": self.uid}})


def wait_calls(client: RecordingApiClient, count: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while len(client.calls) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_from_env_is_disabled_without_the_variables_or_credentials() -> None:
    assert KubernetesProgressSink.from_env({}) is None
    assert (
        KubernetesProgressSink.from_env({"SAFE_SYNTH_CR_NAME": "j", "SAFE_SYNTH_CR_NAMESPACE": "ns"}) is None
    )


def test_patches_status_progress_with_a_uid_test_at_most_every_interval() -> None:
    client = RecordingApiClient()
    sink = KubernetesProgressSink("job", "ns", "uid-1", client, min_interval=0.3)
    sink(ProgressEvent("load", 0, 1, "reading"))
    wait_calls(client, 1)
    for step in range(20):  # a burst within one interval: one more PATCH, with the newest state
        sink(ProgressEvent("train", step, 20, "training"))
    wait_calls(client, 2)
    time.sleep(0.5)  # longer than the interval: still no third PATCH, nothing is pending
    assert len(client.calls) == 2, client.calls
    method, path, body, content_type = client.calls[-1]
    assert method == "PATCH" and path.endswith("/namespaces/ns/safesynthesizerjobs/job/status")
    assert content_type == "application/json-patch+json"
    assert body[0] == {"op": "test", "path": "/metadata/uid", "value": "uid-1"}
    progress = body[1]["value"]
    assert body[1]["path"] == "/status/progress" and progress["stage"] == "train"
    assert progress["message"] == "training" and 0 < progress["percent"] <= 100 and progress["updatedAt"]


def test_falls_back_to_a_merge_patch_when_status_does_not_exist_yet() -> None:
    client = RecordingApiClient(fail={("PATCH", "application/json-patch+json"): 422})
    sink = KubernetesProgressSink("job", "ns", "uid-1", client)
    sink(ProgressEvent("load", 0, 1))
    sink.flush()
    methods = [(m, c) for m, _, _, c in client.calls]
    assert ("GET", "application/json") not in methods  # GET carries no content type
    assert [m for m, *_ in client.calls][-2:] == ["GET", "PATCH"]
    assert client.calls[-1][3] == "application/merge-patch+json"
    assert client.calls[-1][2] == {"status": {"progress": client.calls[-1][2]["status"]["progress"]}}
    assert sink.sent == 1 and not sink.disabled


def test_a_replaced_cr_or_missing_rights_disable_it() -> None:
    replaced = RecordingApiClient(fail={("PATCH", "application/json-patch+json"): 422}, uid="another")
    sink = KubernetesProgressSink("job", "ns", "uid-1", replaced)
    sink(ProgressEvent("load", 0, 1))
    sink.flush()
    assert sink.disabled and sink.sent == 0
    assert not any(m == "PATCH" and c == "application/merge-patch+json" for m, _, _, c in replaced.calls)

    forbidden = RecordingApiClient(fail={("PATCH", "application/json-patch+json"): 403})
    sink = KubernetesProgressSink("job", "ns", "uid-1", forbidden)
    sink(ProgressEvent("load", 0, 1))
    sink.flush()
    assert sink.disabled
    calls = len(forbidden.calls)
    sink(ProgressEvent("train", 1, 2))
    sink.flush()
    assert len(forbidden.calls) == calls  # nothing more is sent


def test_transient_errors_keep_it_enabled() -> None:
    client = RecordingApiClient(fail={("PATCH", "application/json-patch+json"): 503})
    sink = KubernetesProgressSink("job", "ns", "uid-1", client)
    sink(ProgressEvent("load", 0, 1))
    sink.flush()
    assert not sink.disabled and sink.sent == 0
