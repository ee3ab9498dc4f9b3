"""The engine interface: sample ``n`` continuations of one prompt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SamplingSettings:
    """Decoding settings (from ``config.generation``)."""

    temperature: float = 0.9
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    max_new_tokens: int = 512
    seed: int = 42
    regex: str | None = None  # record grammar for guided decoding, when structured generation is on


class GenerationEngine(Protocol):
    """Anything that turns a prompt into ``n`` sampled texts (the prompt excluded)."""

    name: str

    def generate(self, prompt: str, n: int, settings: SamplingSettings) -> list[str]:
        """Return ``n`` continuations of ``prompt``."""
        ...

    def max_batch(self) -> int:
        """How many sequences one call should carry at most."""
        ...
