"""The engine interface: sample ``n`` continuations of one prompt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..autoconfig import DEFAULT_SEED


@dataclass(frozen=True)
class SamplingSettings:
    """Decoding settings (from ``config.generation``) and, with structured generation, the grammar.

    An engine constrains decoding with ``grammar`` (a ``RecordGrammar``, byte-level tokenizers) when
    it ``supports_grammar()``, else with ``regex`` (the same record grammar as a regular expression)
    when it ``supports_regex()``; with neither, records are validated after generation.
    """

    temperature: float = 0.9
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    max_new_tokens: int = 512
    seed: int = DEFAULT_SEED
    regex: str | None = None
    grammar: Any = None


class GenerationEngine(Protocol):
    """Anything that turns a prompt into ``n`` sampled texts (the prompt excluded)."""

    name: str

    def generate(self, prompt: str, n: int, settings: SamplingSettings) -> list[str]:
        """Return ``n`` continuations of ``prompt``."""
        ...

    def max_batch(self) -> int:
        """How many sequences one call should carry at most."""
        ...

    def supports_grammar(self) -> bool:
        """Whether ``settings.grammar`` (byte-level record grammar) constrains decoding."""
        ...

    def supports_regex(self) -> bool:
        """Whether ``settings.regex`` constrains decoding."""
        ...

    def prompt_tokens(self, prompt: str) -> int:
        """Tokens ``prompt`` takes (an upper bound where the tokenizer is not at hand)."""
        ...
