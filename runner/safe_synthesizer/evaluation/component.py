"""The result of one metric component."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Component:
    """One metric: a 0–10 score (None when skipped), its raw value and JSON-ready details."""

    name: str
    score: float | None
    raw: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> bool:
        """True when the component produced no score."""
        return self.score is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"score": self.score, "raw": self.raw, **self.details, "notes": list(self.notes)}


def skipped(name: str, reason: str) -> Component:
    """A component that did not run, with the reason."""
    return Component(name, None, None, {}, [f"skipped: {reason}"])
