"""The transformers engine: ``model.generate`` on CPU (or a GPU without vLLM)."""

from __future__ import annotations

from typing import Any

from .engine import SamplingSettings


class TransformersEngine:
    """Samples continuations of one prompt with Hugging Face ``generate``.

    A sequence that ended with EOS gets a final newline, so its last record counts as complete.
    """

    name = "transformers"

    def __init__(self, model: Any, tokenizer: Any, device: str, batch_cap: int | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = device
        self.batch_cap = batch_cap or (128 if device == "cuda" else 32)
        self._compiled: tuple[str, Any] | None = None  # (regex, xgrammar CompiledGrammar)

    def supports_grammar(self) -> bool:
        """Structured generation works here only with a one-token-per-byte tokenizer."""
        from .grammar import byte_token_ids

        return byte_token_ids(self.tokenizer) is not None

    def prompt_tokens(self, prompt: str) -> int:
        """Tokens of ``prompt`` with this engine's tokenizer."""
        return len(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])

    def supports_regex(self) -> bool:
        """Regex-constrained decoding (any tokenizer) through xgrammar, when it is installed."""
        try:
            import xgrammar  # noqa: F401
        except ImportError:
            return False
        return True

    def _regex_processor(self, regex: str) -> Any:
        """A fresh xgrammar logits processor for ``regex`` (compiled once per regex and tokenizer)."""
        import xgrammar as xgr
        from xgrammar.contrib.hf import LogitsProcessor

        if self._compiled is None or self._compiled[0] != regex:
            info = xgr.TokenizerInfo.from_huggingface(
                self.tokenizer,
                vocab_size=int(self.model.config.vocab_size),
                stop_token_ids=[self.tokenizer.eos_token_id],
            )
            self._compiled = (regex, xgr.GrammarCompiler(info).compile_regex(regex))
        return LogitsProcessor(self._compiled[1])  # single use: one per generate call

    def max_batch(self) -> int:
        """Sequences per call."""
        return self.batch_cap

    def generate(self, prompt: str, n: int, settings: SamplingSettings) -> list[str]:
        """``n`` sampled continuations of ``prompt``."""
        import torch

        tokenizer = self.tokenizer
        prompt_ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"].to(
            self.device
        )
        torch.manual_seed(settings.seed)
        sample = settings.temperature > 0
        processors = None
        if settings.grammar is not None:
            from transformers import LogitsProcessorList

            from .grammar import GrammarLogitsProcessor, byte_token_ids

            byte_ids = byte_token_ids(tokenizer)
            if byte_ids is not None:
                processors = LogitsProcessorList(
                    [
                        GrammarLogitsProcessor(
                            settings.grammar, byte_ids, tokenizer.eos_token_id, prompt_ids.shape[1]
                        )
                    ]
                )
        elif settings.regex:
            from transformers import LogitsProcessorList

            processors = LogitsProcessorList([self._regex_processor(settings.regex)])
        with torch.no_grad():
            output = self.model.generate(
                input_ids=prompt_ids.expand(n, -1),
                attention_mask=torch.ones((n, prompt_ids.shape[1]), dtype=torch.long, device=self.device),
                do_sample=sample,
                temperature=settings.temperature if sample else None,
                top_p=settings.top_p if sample else None,
                top_k=0 if sample else None,
                repetition_penalty=settings.repetition_penalty,
                max_new_tokens=settings.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                logits_processor=processors,
            )
        eos = tokenizer.eos_token_id
        texts = []
        for row in output[:, prompt_ids.shape[1] :].tolist():
            finished = eos in row
            if finished:
                row = row[: row.index(eos)]
            text = tokenizer.decode(row, skip_special_tokens=True)
            if finished and not text.endswith("\n"):
                text += "\n"
            texts.append(text)
        return texts
