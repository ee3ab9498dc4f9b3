"""Typed errors of the SDK: every failure a caller may want to handle has its own class.

Kubernetes API answers are translated by :func:`from_api_exception`: 404 -> :class:`NotFound`,
401/403 -> :class:`Forbidden`, 422 (the CRD's OpenAPI schema rejected the object) ->
:class:`InvalidSpec` with one :class:`~safe_synthesizer.config.FieldError` per ``details.causes``
entry, 409 -> :class:`AlreadyExists`, anything else -> :class:`ApiError`. The SDK's own validation
(the same pydantic models the operator uses) raises :class:`InvalidSpec` before anything is sent.
"""

from __future__ import annotations

import json
from typing import Any

from ..config import FieldError

__all__ = [
    "AlreadyExists",
    "ApiError",
    "FieldError",
    "Forbidden",
    "InvalidSpec",
    "JobFailed",
    "NotFound",
    "SafeSynthesizerSdkError",
    "Timeout",
    "from_api_exception",
]


class SafeSynthesizerSdkError(Exception):
    """Base of every SDK error; ``status`` is the HTTP status when the API server answered."""

    status: int | None = None

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class ApiError(SafeSynthesizerSdkError):
    """The API server answered with an error the SDK has no finer class for."""


class NotFound(SafeSynthesizerSdkError):
    """The job (or its pod, or a result) does not exist."""

    status = 404


class Forbidden(SafeSynthesizerSdkError):
    """The caller's credentials may not do this (HTTP 401/403)."""

    status = 403


class AlreadyExists(SafeSynthesizerSdkError):
    """A job of that name already exists in the namespace (HTTP 409)."""

    status = 409


class InvalidSpec(SafeSynthesizerSdkError):
    """The job request is invalid; :attr:`errors` lists every problem (path and message)."""

    status = 422

    def __init__(self, errors: list[FieldError], source: str = "") -> None:
        self.errors = list(errors)
        self.source = source
        lines = "\n".join(f"  {e}" for e in self.errors)
        where = f"{source}: " if source else ""
        super().__init__(f"{where}invalid job spec, {len(self.errors)} error(s)\n{lines}")

    @property
    def paths(self) -> list[str]:
        """The field path of every error, in order."""
        return [e.path for e in self.errors]


class Timeout(SafeSynthesizerSdkError):
    """:meth:`wait` ran out of time; :attr:`job` is the last state seen."""

    def __init__(self, message: str, job: Any = None) -> None:
        super().__init__(message)
        self.job = job


class JobFailed(SafeSynthesizerSdkError):
    """The job ended Failed or Cancelled (raised by ``wait(raise_on_failure=True)``)."""

    def __init__(self, message: str, job: Any = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.job = job
        self.reason = reason


def _status_body(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except json.JSONDecodeError:
            return {"message": body}
    return body if isinstance(body, dict) else {}


def _cause_path(field: str) -> str:
    """``spec.config.generation.num_records`` from the API server's ``spec.config...`` or
    ``.spec.x`` spellings (leading dots and ``[0]`` indices kept readable)."""
    return field.lstrip(".")


def from_api_exception(exc: Any, what: str = "") -> SafeSynthesizerSdkError:
    """The SDK error for a ``kubernetes.client.ApiException`` (anything with ``status`` and
    ``body``): the API server's ``Status`` message, and for a 422 every field cause."""
    status = getattr(exc, "status", None)
    body = _status_body(getattr(exc, "body", None))
    message = str(body.get("message") or getattr(exc, "reason", None) or exc)
    prefix = f"{what}: " if what else ""
    if status == 404:
        return NotFound(f"{prefix}{message}", status)
    if status in (401, 403):
        return Forbidden(f"{prefix}{message}", status)
    if status == 409:
        return AlreadyExists(f"{prefix}{message}", status)
    if status == 422:
        causes = (body.get("details") or {}).get("causes") or []
        errors = [
            FieldError(_cause_path(str(c.get("field") or "")), str(c.get("message") or c.get("reason") or ""))
            for c in causes
            if isinstance(c, dict)
        ]
        return InvalidSpec(errors or [FieldError("", message)], what)
    return ApiError(f"{prefix}{message}", status)
