"""The project's exception hierarchy and the exit code each kind of failure maps to.

Exit codes of ``safe-synthesizer`` (the runner pod's Job retries only the transient one; its
``podFailurePolicy`` fails the Job at once on every code in :data:`NON_RETRYABLE_EXIT_CODES`):

==== ================ ===================================================================== =======
code reason          meaning                                                                retried
==== ================ ===================================================================== =======
0    (none)           succeeded, or partial results published (status ``partial``)           no
1    InvalidInput,    bad input data or configuration: missing object, wrong credentials,    no
     InvalidSpec      too few rows, unreachable ``privacy.epsilon``, invalid config
2    (usage)          wrong command line (argparse)                                           no
3    Transient,       infrastructure: S3 or network unreachable, throttling, 5xx, out of      yes
     OutOfMemory      memory, any :class:`TransientError`
4    NoValidRecords,  the run itself failed in a way a retry repeats: generation produced no  no
     RunFailed,       valid record, or an unexpected internal error (a bug)
     InternalError
==== ================ ===================================================================== =======

* :class:`UserInputError`: the input or the configuration is wrong. Exit code 1.
* :class:`DataSourceError`: a :class:`UserInputError` about reading or writing data (local or S3).
* :class:`TransientError`: something outside the job failed and may work on a retry. Exit code 3.
* :class:`SafeSynthesizerError` itself and :class:`NoValidRecordsError`: a deterministic failure of
  the run. Exit code 4.

Any other exception is classified by :func:`classify_failure`: memory exhaustion and connection
or timeout errors count as transient (3), everything else as an internal failure (4).

Messages say what to do and never contain raw data values: at most column names, row or line
numbers, URLs and error codes.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_USER_INPUT = 1
EXIT_USAGE = 2
EXIT_TRANSIENT = 3
EXIT_RUN_FAILED = 4

#: Exit codes the Job must not retry (the operator's ``podFailurePolicy`` FailJob rule).
NON_RETRYABLE_EXIT_CODES: tuple[int, ...] = (EXIT_USER_INPUT, EXIT_USAGE, EXIT_RUN_FAILED)


class SafeSynthesizerError(Exception):
    """Base of every error the pipeline raises on purpose; ``exit_code`` is what the CLI returns.

    Raised as is it means a deterministic failure of the run (exit code 4, never retried)."""

    exit_code: int = EXIT_RUN_FAILED
    retryable: bool = False
    reason: str = "RunFailed"


class UserInputError(SafeSynthesizerError):
    """Bad input data or configuration: exit code 1, never retried."""

    exit_code = EXIT_USER_INPUT
    retryable = False
    reason = "InvalidInput"


class TransientError(SafeSynthesizerError):
    """A failure outside the job that may go away on a retry: exit code 3."""

    exit_code = EXIT_TRANSIENT
    retryable = True
    reason = "Transient"


class DataSourceError(UserInputError):
    """The data (or model) location cannot be read or written as given: missing, forbidden, malformed."""


class NoValidRecordsError(SafeSynthesizerError):
    """Generation produced no valid record: exit code 4; the same adapter fails the same way again."""

    reason = "NoValidRecords"


@dataclass(frozen=True)
class Failure:
    """How a failed run ends: exit code, condition reason (CamelCase) and whether a retry may help."""

    exit_code: int
    reason: str
    retryable: bool


# Exception class names (anywhere in the MRO) that mean the network or an endpoint failed: builtins,
# socket, botocore, urllib3, requests and huggingface_hub's HTTP stack.
_NETWORK_ERRORS = frozenset(
    {
        "ConnectionError",
        "TimeoutError",
        "gaierror",
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "NewConnectionError",
        "MaxRetryError",
        "ProtocolError",
        "Timeout",
        "ConnectTimeout",
        "ReadTimeout",
    }
)
_MEMORY_ERRORS = frozenset({"MemoryError", "OutOfMemoryError"})


def _chain(exc: BaseException, limit: int = 8) -> list[BaseException]:
    """``exc`` and its explicit causes (``raise ... from``), at most ``limit``.

    Implicit context (an error raised while handling another) is not followed: a fallback that
    fails after a network error is not a network failure."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < limit and all(current is not e for e in seen):
        seen.append(current)
        current = current.__cause__
    return seen


def _is_out_of_memory(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & _MEMORY_ERRORS:
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _is_network(exc: BaseException) -> bool:
    return bool({cls.__name__ for cls in type(exc).__mro__} & _NETWORK_ERRORS)


def classify_failure(exc: BaseException) -> Failure:
    """The exit code and reason for a run that raised ``exc`` (table in the module docstring).

    Project errors carry their own; a configuration error is ``InvalidSpec`` (1); memory exhaustion
    (``MemoryError``, CUDA out of memory) and connection or timeout errors anywhere in the cause chain
    are transient (3); anything else is an internal failure that a retry would repeat (4)."""
    if isinstance(exc, SafeSynthesizerError):
        return Failure(exc.exit_code, exc.reason, exc.retryable)
    from .config import ConfigError  # lazy: the config models import pydantic

    if isinstance(exc, ConfigError):
        return Failure(EXIT_USER_INPUT, "InvalidSpec", False)
    chain = _chain(exc)
    if any(_is_out_of_memory(e) for e in chain):
        return Failure(EXIT_TRANSIENT, "OutOfMemory", True)
    if any(_is_network(e) for e in chain):
        return Failure(EXIT_TRANSIENT, "Transient", True)
    return Failure(EXIT_RUN_FAILED, "InternalError", False)


def exit_code_for(exc: BaseException) -> int:
    """The process exit code for ``exc`` (see :func:`classify_failure`)."""
    return classify_failure(exc).exit_code
