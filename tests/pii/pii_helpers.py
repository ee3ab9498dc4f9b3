"""Helpers of the PII tests (imported as a top-level module; pytest puts this folder on sys.path)."""

from __future__ import annotations

from typing import Any

from safe_synthesizer.config.replace_pii import PiiReplacerConfig

KEY = b"test-key-0123456789abcdef-000001"
OTHER_KEY = b"test-key-0123456789abcdef-000002"


class RecordingProgress:
    """Collects progress updates."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int | None, int | None, str, dict[str, Any]]] = []

    def update(
        self, stage: str, step: int | None = None, total: int | None = None, message: str = "", **metrics: Any
    ) -> None:
        self.events.append((stage, step, total, message, metrics))


def config(data: dict[str, Any] | None = None) -> PiiReplacerConfig:
    """A config from a NeMo-style dict."""
    return PiiReplacerConfig.model_validate(data or {})
