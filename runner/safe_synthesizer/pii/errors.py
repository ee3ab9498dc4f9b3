"""Errors of the PII stage."""

from __future__ import annotations


class PiiConfigError(ValueError):
    """The ``replace_pii`` configuration is wrong; every problem is listed with its config path.

    The pipeline maps it to its user-input error (exit code 1). Messages never contain raw values.
    """

    def __init__(self, errors: list[str] | str) -> None:
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(self.errors))
