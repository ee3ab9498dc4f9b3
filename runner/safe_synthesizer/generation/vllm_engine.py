"""The vLLM engine (GPU): the base model with the LoRA adapter per request.

Kept thin on purpose: prompts, parsing, validation, stopping and batching live in shared code
(:mod:`.records`) that the transformers engine exercises on CPU. vLLM needs a CUDA GPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .engine import SamplingSettings


def vllm_available() -> bool:
    """True when vllm imports and a GPU is visible."""
    try:
        import torch
        import vllm  # noqa: F401
    except ImportError:
        return False
    return torch.cuda.is_available()


class VllmEngine:
    """Samples with ``vllm.LLM`` and a ``LoRARequest`` (or a fully trained model directory)."""

    name = "vllm"

    def __init__(
        self,
        base_model_dir: str,
        adapter_dir: Path | None,
        *,
        lora_rank: int,
        max_model_len: int,
        gpu_memory_utilization: float = 0.8,
        rope_scaling_factor: int | None = None,
    ) -> None:
        from vllm import LLM

        self.adapter_dir = adapter_dir
        extra: dict[str, Any] = {}
        if rope_scaling_factor and rope_scaling_factor > 1:  # the base as it was trained (linear RoPE)
            import transformers

            key = "rope_parameters" if int(transformers.__version__.split(".")[0]) >= 5 else "rope_scaling"
            extra["hf_overrides"] = {key: {"rope_type": "linear", "factor": float(rope_scaling_factor)}}
        self.llm = LLM(
            model=str(base_model_dir),
            tokenizer=str(adapter_dir) if adapter_dir else None,
            enable_lora=adapter_dir is not None,
            max_lora_rank=max(8, lora_rank),
            max_model_len=max_model_len,
            gpu_memory_utilization=gpu_memory_utilization,
            **extra,
        )

    def supports_grammar(self) -> bool:
        """The byte-level grammar is a transformers logits processor: vLLM takes the regex form."""
        return False

    def prompt_tokens(self, prompt: str) -> int:
        """An upper bound: one token per byte."""
        return len(prompt.encode())

    def supports_regex(self) -> bool:
        """vLLM's structured outputs follow ``settings.regex`` (the record grammar)."""
        return True

    def max_batch(self) -> int:
        """Sequences per call: vLLM schedules them itself."""
        return 256

    def _lora_request(self) -> Any:
        if self.adapter_dir is None:
            return None
        from vllm.lora.request import LoRARequest

        return LoRARequest("adapter", 1, str(self.adapter_dir))

    def generate(self, prompt: str, n: int, settings: SamplingSettings) -> list[str]:
        """``n`` continuations of ``prompt``; guided by ``settings.regex`` when given."""
        from vllm import SamplingParams

        extra: dict[str, Any] = {}
        if settings.regex:
            from vllm.sampling_params import StructuredOutputsParams

            extra["structured_outputs"] = StructuredOutputsParams(regex=settings.regex)
        params = SamplingParams(
            n=n,
            temperature=settings.temperature,
            top_p=settings.top_p,
            repetition_penalty=settings.repetition_penalty,
            max_tokens=settings.max_new_tokens,
            seed=settings.seed,
            **extra,
        )
        outputs = self.llm.generate([prompt], params, lora_request=self._lora_request(), use_tqdm=False)
        texts = []
        for completion in outputs[0].outputs:
            text = completion.text
            if completion.finish_reason == "stop" and not text.endswith("\n"):
                text += "\n"
            texts.append(text)
        return texts
