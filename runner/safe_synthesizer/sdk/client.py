"""The SDK client: ``SafeSynthesizerJob`` resources through the Kubernetes API, results from S3.

``SafeSynthesizerClient(namespace=...)`` talks to the cluster of a kubeconfig (a path, a context
name), of the pod it runs in (in-cluster ServiceAccount), or through a ready ``ApiClient``; every
call uses the caller's own Kubernetes permissions. The connection is made on the first call.

* ``client.jobs``: :meth:`Jobs.create` (seeds' REST request or our CR spec, optional upload of a
  DataFrame or local file), :meth:`~Jobs.retrieve`, :meth:`~Jobs.get_status`, :meth:`~Jobs.list`,
  :meth:`~Jobs.delete`, :meth:`~Jobs.wait`, :meth:`~Jobs.logs`;
* ``client.jobs.results``: :meth:`Results.list` (the results index ``results.json`` the runner
  publishes next to ``summary.json``), :meth:`~Results.download` (bytes, or to a path; S3 or a
  local output), :meth:`~Results.to_pandas` (the canonical table).

S3 access uses the standard AWS environment (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ...),
the ``s3=`` settings given to the client, else the job's own ``spec.s3`` (endpoint, region,
addressing style), or a ready boto3 client (``s3_client=``). Errors are typed
(:mod:`safe_synthesizer.sdk.errors`). Nothing here reads or logs record values; only the caller's
own downloads return them.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import contract
from ..config import GROUP, PLURAL, VERSION, FieldError, S3Settings, SafeSynthesizerJobSpec
from ..contract import Progress, ResultRef, ResultsIndex, Scores
from ..errors import DataSourceError
from .errors import (
    InvalidSpec,
    JobFailed,
    NotFound,
    SafeSynthesizerSdkError,
    Timeout,
    from_api_exception,
)
from .spec import DESCRIPTION_ANNOTATION, PROJECT_LABEL, build_manifest, validate_manifest

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

__all__ = [
    "SEED_STATUS",
    "TERMINAL_PHASES",
    "Job",
    "JobResults",
    "JobStatus",
    "Jobs",
    "Result",
    "Results",
    "SafeSynthesizerClient",
]

#: The seeds' job status words for our phases (``job.status``; ``job.phase`` keeps ours).
SEED_STATUS: dict[str | None, str] = {
    None: "created",
    "Pending": "pending",
    "Suspended": "pending",
    "Running": "active",
    "Succeeded": "completed",
    "Failed": "error",
    "Cancelled": "cancelled",
}
#: Phases :meth:`Jobs.wait` stops at.
TERMINAL_PHASES = frozenset({"Succeeded", "Failed", "Cancelled"})
_SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


# -- value objects -----------------------------------------------------------------------------------


def _known(model: Any, value: Any) -> Any:
    """``value`` as ``model`` with only the fields it knows (a newer server may send more); None
    when ``value`` is not a mapping or does not validate."""
    if not isinstance(value, Mapping):
        return None
    try:
        return model.model_validate({k: v for k, v in value.items() if k in model.model_fields})
    except ValueError:
        return None


@dataclass(frozen=True)
class Result:
    """One published artefact (the seeds' result shape: id, format, canonical, url, size)."""

    id: str
    format: str
    canonical: bool
    url: str
    size_bytes: int | None = None

    @classmethod
    def from_ref(cls, ref: ResultRef) -> Result:
        """From the contract's :class:`~safe_synthesizer.contract.ResultRef`."""
        return cls(ref.id, ref.format, ref.canonical, ref.url, ref.sizeBytes)


@dataclass(frozen=True)
class JobStatus:
    """What :meth:`Jobs.get_status` returns; ``str()`` is the phase."""

    phase: str | None
    status: str
    progress: Progress | None
    message: str | None
    reason: str | None

    def __str__(self) -> str:
        return self.phase or "Created"


@dataclass
class Job:
    """A ``SafeSynthesizerJob`` as last read from the API server (refresh with :meth:`refresh`).

    ``id`` is the name (unique in its namespace); ``phase`` is ours (Pending, Running, Succeeded,
    ...), ``status`` the seeds' word for it (:data:`SEED_STATUS`)."""

    name: str
    namespace: str
    uid: str | None = None
    created_at: str | None = None
    phase: str | None = None
    progress: Progress | None = None
    scores: Scores | None = None
    result_refs: list[Result] = field(default_factory=list)
    epsilon_spent: float | None = None
    message: str | None = None
    reason: str | None = None
    conditions: list[dict[str, Any]] = field(default_factory=list)
    job_name: str | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict, repr=False)
    client: SafeSynthesizerClient | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_resource(cls, resource: Mapping[str, Any], client: SafeSynthesizerClient | None = None) -> Job:
        """From the API server's object (a dict as ``CustomObjectsApi`` returns it)."""
        metadata = resource.get("metadata") or {}
        status = resource.get("status") or {}
        progress = status.get("progress")
        scores = status.get("scores")
        failed = next((c for c in status.get("conditions") or [] if c.get("type") == "Failed"), None)
        refs = [contract.parse_result_ref(item) for item in status.get("results") or []]
        return cls(
            name=str(metadata.get("name") or ""),
            namespace=str(metadata.get("namespace") or ""),
            uid=metadata.get("uid"),
            created_at=metadata.get("creationTimestamp"),
            phase=status.get("phase"),
            progress=_known(Progress, progress),
            scores=_known(Scores, scores),
            result_refs=[Result.from_ref(ref) for ref in refs if ref is not None],
            epsilon_spent=status.get("epsilonSpent"),
            message=status.get("message"),
            reason=failed.get("reason") if failed and failed.get("status") == "True" else None,
            conditions=list(status.get("conditions") or []),
            job_name=status.get("jobName"),
            spec=dict(resource.get("spec") or {}),
            labels=dict(metadata.get("labels") or {}),
            annotations=dict(metadata.get("annotations") or {}),
            resource=dict(resource),
            client=client,
        )

    @property
    def id(self) -> str:
        """The job's id in the seeds' API: its name."""
        return self.name

    @property
    def status(self) -> str:
        """The seeds' status word: created, pending, active, completed, error or cancelled."""
        return SEED_STATUS.get(self.phase, "pending")

    @property
    def project(self) -> str | None:
        """The project label (``safesynthesizer.io/project``), if any."""
        return self.labels.get(PROJECT_LABEL)

    @property
    def description(self) -> str | None:
        """The description annotation, if any."""
        return self.annotations.get(DESCRIPTION_ANNOTATION)

    @property
    def done(self) -> bool:
        """Whether the job reached Succeeded, Failed or Cancelled."""
        return self.phase in TERMINAL_PHASES

    @property
    def results(self) -> JobResults:
        """This job's results: iterate the references on its status, or ``list()``,
        ``download(id)``, ``to_pandas()`` through the client."""
        return JobResults(self)

    def _require_client(self) -> SafeSynthesizerClient:
        if self.client is None:
            raise SafeSynthesizerSdkError("this Job has no client: use client.jobs.retrieve() to get one")
        return self.client

    def refresh(self) -> Job:
        """Read the job again; returns self, updated."""
        fresh = self._require_client().jobs.retrieve(self.name, namespace=self.namespace)
        self.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "client"})
        return self

    def wait(
        self,
        timeout: float = 3600.0,
        on_progress: Callable[[Job], None] | None = None,
        poll_interval: float = 2.0,
        raise_on_failure: bool = False,
    ) -> Job:
        """Wait until the job is done (see :meth:`Jobs.wait`); returns self, updated."""
        final = self._require_client().jobs.wait(
            self.name,
            namespace=self.namespace,
            timeout=timeout,
            on_progress=on_progress,
            poll_interval=poll_interval,
            raise_on_failure=raise_on_failure,
        )
        self.__dict__.update({k: v for k, v in final.__dict__.items() if k != "client"})
        return self

    def logs(self, tail_lines: int | None = None) -> str:
        """The runner pod's log (see :meth:`Jobs.logs`)."""
        return self._require_client().jobs.logs(self.name, namespace=self.namespace, tail_lines=tail_lines)

    def delete(self, wait: bool = False, timeout: float = 60.0) -> None:
        """Delete the job (its Job, pods and ConfigMap go with it)."""
        self._require_client().jobs.delete(self.name, namespace=self.namespace, wait=wait, timeout=timeout)


class JobResults:
    """The results of one :class:`Job` (iterable over the references on its status)."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def __iter__(self) -> Iterator[Result]:
        return iter(self.job.result_refs)

    def __len__(self) -> int:
        return len(self.job.result_refs)

    def _results(self) -> Results:
        return self.job._require_client().jobs.results

    def list(self) -> list[Result]:
        """The results index (see :meth:`Results.list`)."""
        return self._results().list(self.job)

    def download(self, result_id: str, path: str | os.PathLike[str] | None = None) -> bytes | Path:
        """One result as bytes, or written to ``path`` (see :meth:`Results.download`)."""
        return self._results().download(result_id, self.job, path=path)

    def to_pandas(self, result_id: str | None = None) -> pd.DataFrame:
        """The canonical table (or ``result_id``) as a DataFrame."""
        return self._results().to_pandas(self.job, result_id=result_id)


# -- the client ----------------------------------------------------------------------------------------


class SafeSynthesizerClient:
    """Entry point of the SDK (see the module docstring).

    ``namespace``: where jobs live (default: the kubeconfig context's namespace, the pod's own
    namespace in a cluster, else ``default``). ``kubeconfig``/``context``: which cluster and user
    (default ``$KUBECONFIG`` or ``~/.kube/config``, its current context). ``in_cluster=True`` uses
    the pod's ServiceAccount (the default when no kubeconfig exists and the pod environment does).
    ``api_client``: a ready ``kubernetes.client.ApiClient``. ``upload_prefix``: where
    :meth:`Jobs.create` puts uploaded data (``s3://bucket/prefix/`` or a local folder): objects go
    to ``<prefix><namespace>/<job>/input/<file>``. ``s3``/``s3_client``: how to reach S3."""

    def __init__(
        self,
        namespace: str | None = None,
        *,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
        in_cluster: bool | None = None,
        api_client: Any = None,
        upload_prefix: str | None = None,
        s3: S3Settings | None = None,
        s3_client: Any = None,
    ) -> None:
        self._namespace = namespace
        self.kubeconfig = os.fspath(kubeconfig) if kubeconfig is not None else None
        self.context = context
        self.in_cluster = in_cluster
        self._api_client = api_client
        self.upload_prefix = upload_prefix
        self.s3 = s3
        self._s3_client = s3_client
        self._s3_clients: dict[tuple[Any, ...], Any] = {}
        self.jobs = Jobs(self)

    # -- Kubernetes --------------------------------------------------------------------------------

    def _use_in_cluster(self) -> bool:
        if self.in_cluster is not None:
            return self.in_cluster
        if self.kubeconfig or self.context or os.environ.get("KUBECONFIG"):
            return False
        return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not (Path.home() / ".kube/config").exists()

    def _kubeconfig_file(self) -> str:
        """The kubeconfig given, else ``$KUBECONFIG`` as it is now (the kubernetes package reads it
        once, at import), else ``~/.kube/config``."""
        return self.kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")

    @property
    def api_client(self) -> Any:
        """The ``kubernetes.client.ApiClient`` (built on first use)."""
        if self._api_client is None:
            from kubernetes import client, config

            if self._use_in_cluster():
                configuration = client.Configuration()
                config.load_incluster_config(client_configuration=configuration)
                self._api_client = client.ApiClient(configuration)
            else:
                self._api_client = config.new_client_from_config(
                    config_file=self._kubeconfig_file(), context=self.context, persist_config=False
                )
        return self._api_client

    @property
    def namespace(self) -> str:
        """The namespace calls use when none is given."""
        if self._namespace is None:
            self._namespace = self._default_namespace()
        return self._namespace

    def _default_namespace(self) -> str:
        if self._use_in_cluster():
            if _SERVICE_ACCOUNT_NAMESPACE.exists():
                return _SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip() or "default"
            return "default"
        from kubernetes import config

        try:
            contexts, active = config.list_kube_config_contexts(config_file=self._kubeconfig_file())
        except Exception:  # noqa: BLE001 - no kubeconfig: the API call will say so
            return "default"
        chosen = (
            next((c for c in contexts if c.get("name") == self.context), None) if self.context else active
        )
        return str(((chosen or {}).get("context") or {}).get("namespace") or "default")

    def custom_objects(self) -> Any:
        """``CustomObjectsApi`` on :attr:`api_client`."""
        from kubernetes import client

        return client.CustomObjectsApi(self.api_client)

    def core(self) -> Any:
        """``CoreV1Api`` on :attr:`api_client`."""
        from kubernetes import client

        return client.CoreV1Api(self.api_client)

    def call(self, what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` with API errors turned into SDK errors about ``what``."""
        from kubernetes.client.exceptions import ApiException

        try:
            return function(*args, **kwargs)
        except ApiException as exc:
            raise from_api_exception(exc, what) from None

    # -- S3 ------------------------------------------------------------------------------------------

    def s3_client_for(self, job_s3: Mapping[str, Any] | None = None) -> Any:
        """A boto3 S3 client: the one given, else built from ``s3`` (or the job's ``spec.s3``) and
        the AWS environment; cached per settings."""
        if self._s3_client is not None:
            return self._s3_client
        from .. import storage

        settings = self.s3 or S3Settings.model_validate(
            {k: v for k, v in (job_s3 or {}).items() if k in ("endpoint", "region", "addressingStyle")}
        )
        key = (settings.endpoint, settings.region, settings.addressingStyle)
        if key not in self._s3_clients:
            self._s3_clients[key] = storage.make_s3_client(settings, max_attempts=3)
        return self._s3_clients[key]


class Jobs:
    """``client.jobs``: create, read, list, delete and wait for jobs; ``results`` for outputs."""

    def __init__(self, client: SafeSynthesizerClient) -> None:
        self.client = client
        self.results = Results(client)

    def _ns(self, namespace: str | None) -> str:
        return namespace or self.client.namespace

    def create(
        self,
        name: str | None = None,
        spec: Mapping[str, Any] | SafeSynthesizerJobSpec | None = None,
        *,
        project: str | None = None,
        description: str | None = None,
        namespace: str | None = None,
        data: Any = None,
        upload: bool = False,
        labels: Mapping[str, str] | None = None,
        validate: bool = True,
    ) -> Job:
        """Create a job from the seeds' REST request (``create(**request)``: ``name``, ``project``,
        ``description``, ``spec={data_source, config}``) or from our CR spec.

        ``data``: a pandas DataFrame or a local file, uploaded under :attr:`upload_prefix
        <SafeSynthesizerClient>` and used as the data source; ``upload=True`` uploads the spec's own
        local data source the same way. The spec is validated first (``InvalidSpec`` lists every
        problem and nothing is uploaded or created); ``validate=False`` leaves it to the API
        server's schema (its 422 also becomes ``InvalidSpec``). Raises ``AlreadyExists`` (409),
        ``Forbidden`` (403)."""
        ns = self._ns(namespace)
        manifest = build_manifest(
            name,
            spec,
            namespace=ns,
            project=project,
            description=description,
            labels=labels,
            validate=False,
        )
        upload_source: Any = None
        if data is not None:
            upload_source = data
        elif upload:
            source = manifest["spec"].get("dataSource")
            if not source or "://" in str(source).replace("file://", ""):
                raise InvalidSpec(
                    [FieldError("spec.dataSource", "upload=True needs a local file as data source")]
                )
            upload_source = Path(str(source).removeprefix("file://"))
        staged: tuple[Path, str, tempfile.TemporaryDirectory[str] | None] | None = None
        if upload_source is not None:
            staged = self._stage_upload(upload_source, ns, manifest["metadata"].get("name"))
            manifest["spec"]["dataSource"] = staged[1]
        try:
            if validate:
                validate_manifest(manifest)
            if staged is not None:
                self._upload(staged[0], staged[1])
        finally:
            if staged is not None and staged[2] is not None:
                staged[2].cleanup()
        api = self.client.custom_objects()
        created = self.client.call(
            f"create {ns}/{manifest['metadata'].get('name')}",
            api.create_namespaced_custom_object,
            GROUP,
            VERSION,
            ns,
            PLURAL,
            manifest,
        )
        return Job.from_resource(created, self.client)

    def _stage_upload(
        self, source: Any, namespace: str, name: str | None
    ) -> tuple[Path, str, tempfile.TemporaryDirectory[str] | None]:
        """The local file to upload (a DataFrame written to a temporary CSV) and its destination."""
        from .. import storage

        prefix = self.client.upload_prefix
        if not prefix:
            raise InvalidSpec(
                [FieldError("spec.dataSource", "uploading data needs the client's upload_prefix")]
            )
        if not name:
            raise InvalidSpec([FieldError("metadata.name", "required: give the job a name")])
        holder: tempfile.TemporaryDirectory[str] | None = None
        if isinstance(source, str | os.PathLike):
            local = Path(source)
            if not local.is_file():
                raise InvalidSpec([FieldError("spec.dataSource", f"{local} is not a file")])
        elif hasattr(source, "to_csv") and hasattr(source, "columns"):
            from ..data_io import write_table

            holder = tempfile.TemporaryDirectory(prefix="safe-synth-sdk-")
            local = write_table(source, Path(holder.name) / "data.csv")
        else:
            raise InvalidSpec(
                [
                    FieldError(
                        "spec.dataSource", f"data must be a DataFrame or a file, got {type(source).__name__}"
                    )
                ]
            )
        url = storage.join_url(prefix, f"{namespace}/{name}/input/{local.name}")
        return local, url, holder

    def _upload(self, local: Path, url: str) -> None:
        from .. import storage

        try:
            storage.upload_file(local, url, self.client.s3_client_for() if "://" in url else None)
        except DataSourceError as exc:
            raise SafeSynthesizerSdkError(f"cannot upload the data to {url}: {exc}") from None
        log.info("uploaded the data to %s", url)

    def retrieve(self, job_id: str, namespace: str | None = None) -> Job:
        """The job ``job_id`` (its name); raises ``NotFound``."""
        ns = self._ns(namespace)
        api = self.client.custom_objects()
        resource = self.client.call(
            f"job {ns}/{job_id}", api.get_namespaced_custom_object, GROUP, VERSION, ns, PLURAL, job_id
        )
        return Job.from_resource(resource, self.client)

    def get_status(self, job_id: str, namespace: str | None = None) -> JobStatus:
        """Phase, seeds' status word, progress, message and failure reason of ``job_id``."""
        job = self.retrieve(job_id, namespace)
        return JobStatus(job.phase, job.status, job.progress, job.message, job.reason)

    def list(
        self, namespace: str | None = None, project: str | None = None, label_selector: str | None = None
    ) -> list[Job]:
        """The jobs of the namespace (of ``project`` only, when given), oldest first."""
        ns = self._ns(namespace)
        selectors = [s for s in (label_selector, f"{PROJECT_LABEL}={project}" if project else None) if s]
        api = self.client.custom_objects()
        listing = self.client.call(
            f"jobs in {ns}",
            api.list_namespaced_custom_object,
            GROUP,
            VERSION,
            ns,
            PLURAL,
            label_selector=",".join(selectors) or None,
        )
        jobs = [Job.from_resource(item, self.client) for item in listing.get("items") or []]
        return sorted(jobs, key=lambda j: (j.created_at or "", j.name))

    def delete(
        self, job_id: str, namespace: str | None = None, wait: bool = False, timeout: float = 60.0
    ) -> None:
        """Delete ``job_id`` (its Job, pods and ConfigMap are garbage-collected); with ``wait``,
        return only once it is gone (``Timeout`` otherwise). Raises ``NotFound``."""
        ns = self._ns(namespace)
        api = self.client.custom_objects()
        self.client.call(
            f"delete {ns}/{job_id}",
            api.delete_namespaced_custom_object,
            GROUP,
            VERSION,
            ns,
            PLURAL,
            job_id,
            propagation_policy="Background",
        )
        if not wait:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.retrieve(job_id, ns)
            except NotFound:
                return
            time.sleep(0.5)
        raise Timeout(f"{ns}/{job_id} still exists {timeout:.0f}s after its deletion")

    def wait(
        self,
        job_id: str,
        namespace: str | None = None,
        timeout: float = 3600.0,
        on_progress: Callable[[Job], None] | None = None,
        poll_interval: float = 2.0,
        raise_on_failure: bool = False,
    ) -> Job:
        """Poll until ``job_id`` is Succeeded, Failed or Cancelled; returns it.

        ``on_progress(job)`` is called with the first state seen and on every change of phase or
        progress. Raises ``Timeout`` (with the last state) after ``timeout`` seconds, and
        ``JobFailed`` for a Failed or Cancelled job when ``raise_on_failure``."""
        return wait_until_done(
            lambda: self.retrieve(job_id, namespace),
            timeout=timeout,
            on_progress=on_progress,
            poll_interval=poll_interval,
            raise_on_failure=raise_on_failure,
        )

    def logs(self, job_id: str, namespace: str | None = None, tail_lines: int | None = None) -> str:
        """The log of the job's newest runner pod (the runner's progress lines and messages; it
        never prints record values). Raises ``NotFound`` when no pod exists (yet, or any more)."""
        job = self.retrieve(job_id, namespace)
        if not job.job_name:
            raise NotFound(f"{job.namespace}/{job_id} has no runner Job yet (phase {job.phase})")
        core = self.client.core()
        pods = self.client.call(
            f"pods of {job.job_name}",
            core.list_namespaced_pod,
            job.namespace,
            label_selector=f"batch.kubernetes.io/job-name={job.job_name}",
        )
        items = sorted(pods.items or [], key=lambda p: str(p.metadata.creation_timestamp or ""))
        if not items:
            raise NotFound(f"{job.namespace}/{job_id}: Job {job.job_name} has no pod (any more)")
        kwargs: dict[str, Any] = {}
        if tail_lines is not None:
            kwargs["tail_lines"] = tail_lines
        return str(
            self.client.call(
                f"log of pod {items[-1].metadata.name}",
                core.read_namespaced_pod_log,
                items[-1].metadata.name,
                job.namespace,
                **kwargs,
            )
        )


def wait_until_done(
    fetch: Callable[[], Job],
    timeout: float,
    on_progress: Callable[[Job], None] | None = None,
    poll_interval: float = 2.0,
    raise_on_failure: bool = False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Job:
    """The loop behind :meth:`Jobs.wait`: ``fetch()`` until the job is done or time is up."""
    deadline = clock() + timeout
    seen: tuple[Any, ...] | None = None
    while True:
        job = fetch()
        state = (job.phase, job.progress.model_dump() if job.progress else None)
        if on_progress is not None and state != seen:
            on_progress(job)
        seen = state
        if job.done:
            if raise_on_failure and job.phase != "Succeeded":
                raise JobFailed(
                    f"{job.namespace}/{job.name} ended {job.phase}: {job.message or job.reason or ''}".rstrip(
                        ": "
                    ),
                    job,
                    job.reason,
                )
            return job
        left = deadline - clock()
        if left <= 0:
            raise Timeout(f"{job.namespace}/{job.name} is still {job.phase} after {timeout:.0f}s", job)
        sleep(min(poll_interval, left))


class Results:
    """``client.jobs.results``: what a job published."""

    def __init__(self, client: SafeSynthesizerClient) -> None:
        self.client = client

    def _job(self, job: str | Job, namespace: str | None) -> Job:
        return job if isinstance(job, Job) else self.client.jobs.retrieve(job, namespace)

    def _s3(self, job: Job) -> Any:
        return self.client.s3_client_for(job.spec.get("s3"))

    def index_url(self, job: str | Job, namespace: str | None = None) -> str | None:
        """Where the job's ``results.json`` is: next to its ``summary.json``; None before it exists."""
        found = self._job(job, namespace)
        summary = next((r for r in found.result_refs if r.id == "summary"), None)
        if summary is None or not summary.url.endswith(contract.SUMMARY_FILE):
            return None
        return summary.url[: -len(contract.SUMMARY_FILE)] + contract.RESULTS_INDEX_FILE

    def index(self, job: str | Job, namespace: str | None = None) -> ResultsIndex | None:
        """The job's results index (``results.json``), or None when it has none (yet)."""
        from .. import storage

        found = self._job(job, namespace)
        url = self.index_url(found)
        if url is None:
            return None
        s3 = self._s3(found) if "://" in url and not url.startswith("file://") else None
        try:
            data = storage.read_bytes(url, s3)
        except DataSourceError as exc:
            log.warning("cannot read the results index %s: %s", url, exc)
            return None
        return ResultsIndex.model_validate_json(data)

    def list(self, job: str | Job, namespace: str | None = None) -> list[Result]:
        """Every result of ``job`` (a name or a :class:`Job`): from its results index
        (``results.json``), else (no index readable) from the references on its status."""
        found = self._job(job, namespace)
        index = self.index(found)
        if index is None:
            return list(found.result_refs)
        return [Result.from_ref(ref) for ref in index.results]

    def _find(self, job: Job, result_id: str) -> Result:
        found = next((r for r in job.result_refs if r.id == result_id), None)
        found = found or next((r for r in self.list(job) if r.id == result_id), None)
        if found is None:
            raise NotFound(f"{job.namespace}/{job.name} has no result {result_id!r}")
        return found

    def download(
        self,
        result_id: str,
        job_id: str | Job,
        path: str | os.PathLike[str] | None = None,
        namespace: str | None = None,
    ) -> bytes | Path:
        """The result ``result_id`` of ``job_id``: its bytes, or, with ``path``, written there
        (a directory result such as ``adapter`` needs ``path``: every file under it is copied).
        Raises ``NotFound`` for an unknown id or a missing object."""
        from .. import storage

        job = self._job(job_id, namespace)
        result = self._find(job, result_id)
        s3 = self._s3(job) if storage.is_s3_url(result.url) else None
        try:
            if result.format == "directory":
                if path is None:
                    raise SafeSynthesizerSdkError(
                        f"{result_id} is a directory: give a path to download it to"
                    )
                storage.download_prefix(result.url, path, s3, use_cache=False)
                return Path(path)
            if path is not None:
                return storage.download_to(result.url, path, s3)
            return storage.read_bytes(result.url, s3)
        except DataSourceError as exc:
            raise NotFound(f"{result_id} of {job.namespace}/{job.name}: {exc}") from None

    def to_pandas(
        self, job_id: str | Job, result_id: str | None = None, namespace: str | None = None
    ) -> pd.DataFrame:
        """The canonical table (``synthetic_data``) of ``job_id``, or ``result_id``, as a DataFrame."""
        from ..data_io import parse_table, table_format

        job = self._job(job_id, namespace)
        if result_id is None:
            canonical = next((r for r in job.result_refs if r.canonical), None)
            canonical = canonical or next((r for r in self.list(job) if r.canonical), None)
            if canonical is None:
                raise NotFound(f"{job.namespace}/{job.name} has no canonical table (phase {job.phase})")
            result_id = canonical.id
        result = self._find(job, result_id)
        data = self.download(result_id, job)
        if not isinstance(data, bytes):
            raise SafeSynthesizerSdkError(f"{result_id} is not a table")
        return parse_table(data, table_format(result.url), result.url)
