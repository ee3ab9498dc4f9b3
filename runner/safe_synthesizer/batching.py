"""Batches and learning-rate schedules shared by plain and DP-SGD training.

One home for what both training loops need (``training.py`` for plain LoRA/full training,
``privacy/dp.py`` for DP-SGD, ``tabular/train.py`` for the field-token engine), so that neither
imports the other.
"""

from __future__ import annotations

from typing import Any

# Label id that the loss ignores (prompt tokens, padding): the value torch's cross-entropy skips.
IGNORE_INDEX = -100


def collate(batch_ids: list[list[int]], batch_labels: list[list[int]], pad_id: int) -> dict[str, Any]:
    """Right-pad a batch; padding is masked out of attention and loss."""
    import torch

    width = max(len(x) for x in batch_ids)
    ids = torch.full((len(batch_ids), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch_ids), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(batch_ids), width), dtype=torch.long)
    for row, (x, y) in enumerate(zip(batch_ids, batch_labels, strict=True)):
        ids[row, : len(x)] = torch.tensor(x)
        labels[row, : len(y)] = torch.tensor(y)
        mask[row, : len(x)] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def lr_scheduler(optimizer: Any, schedule: str, warmup_ratio: float, total_steps: int) -> Any:
    """transformers' named schedule with ``warmup_ratio`` of ``total_steps`` as warm-up."""
    from transformers import get_scheduler

    return get_scheduler(
        schedule,
        optimizer,
        num_warmup_steps=int(warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
