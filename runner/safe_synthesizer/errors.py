"""The project's exception hierarchy and the exit code each kind maps to.

* :class:`UserInputError`: the input or the configuration is wrong (missing object, bad file, too few
  rows, wrong credentials). Exit code 1; retrying the same job cannot help, so it is never retried.
* :class:`TransientError`: something outside the job failed and may work on a retry (endpoint
  unreachable, throttling, a 5xx from S3). Exit code 3.
* :class:`DataSourceError`: a :class:`UserInputError` about reading or writing data (local or S3).

Messages say what to do and never contain raw data values: at most column names, row or line
numbers, URLs and error codes.
"""

from __future__ import annotations

EXIT_USER_INPUT = 1
EXIT_TRANSIENT = 3


class SafeSynthesizerError(Exception):
    """Base of every error the pipeline raises on purpose; ``exit_code`` is what the CLI returns."""

    exit_code: int = EXIT_TRANSIENT
    retryable: bool = True


class UserInputError(SafeSynthesizerError):
    """Bad input data or configuration: exit code 1, never retried."""

    exit_code = EXIT_USER_INPUT
    retryable = False


class TransientError(SafeSynthesizerError):
    """A failure outside the job that may go away on a retry: exit code 3."""

    exit_code = EXIT_TRANSIENT
    retryable = True


class DataSourceError(UserInputError):
    """The data (or model) location cannot be read or written as given: missing, forbidden, malformed."""


def exit_code_for(exc: BaseException) -> int:
    """The process exit code for ``exc``: its ``exit_code`` for project errors, else 3 (internal, retry)."""
    if isinstance(exc, SafeSynthesizerError):
        return exc.exit_code
    return EXIT_TRANSIENT
