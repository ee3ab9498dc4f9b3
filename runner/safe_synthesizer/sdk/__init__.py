"""Python SDK for Safe Synthesizer on Kubernetes (torch-free; needs the ``operator`` extra's
``kubernetes`` client and the ``data`` extra for S3 and tables).

    from safe_synthesizer.sdk import SafeSynthesizerClient, SafeSynthesizerJobBuilder

    client = SafeSynthesizerClient(namespace="data-team")
    job = client.jobs.create(**seeds_job_request)   # {name, project, spec: {data_source, config}}
    job.wait(timeout=3600, on_progress=print)
    for result in client.jobs.results.list(job.id):
        print(result.id, result.format, result.size_bytes)
    df = job.results.to_pandas()

See :mod:`safe_synthesizer.sdk.client` and the README's "Python SDK" section.
"""

from .builder import SafeSynthesizerJobBuilder
from .client import (
    SEED_STATUS,
    TERMINAL_PHASES,
    Job,
    JobResults,
    Jobs,
    JobStatus,
    Result,
    Results,
    SafeSynthesizerClient,
)
from .errors import (
    AlreadyExists,
    ApiError,
    FieldError,
    Forbidden,
    InvalidSpec,
    JobFailed,
    NotFound,
    SafeSynthesizerSdkError,
    Timeout,
)
from .spec import DESCRIPTION_ANNOTATION, PROJECT_LABEL, build_manifest

__all__ = [
    "DESCRIPTION_ANNOTATION",
    "PROJECT_LABEL",
    "SEED_STATUS",
    "TERMINAL_PHASES",
    "AlreadyExists",
    "ApiError",
    "FieldError",
    "Forbidden",
    "InvalidSpec",
    "Job",
    "JobFailed",
    "JobResults",
    "JobStatus",
    "Jobs",
    "NotFound",
    "Result",
    "Results",
    "SafeSynthesizerClient",
    "SafeSynthesizerJobBuilder",
    "SafeSynthesizerSdkError",
    "Timeout",
    "build_manifest",
]
