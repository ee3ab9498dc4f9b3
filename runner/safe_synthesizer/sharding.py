"""Sharded generation (the ``generation.shards`` extension): sizes, seeds, shard folders, merging.

A sharded run is three steps, each a ``safe-synthesizer run`` (on Kubernetes: a training Job, an
Indexed Job with one pod per shard, a merge Job):

1. ``run train``: trains and publishes the adapter to ``<output>/adapter/``;
2. ``run generate --shards N --shard-index i`` (``i`` defaults to ``$JOB_COMPLETION_INDEX``):
   generates shard ``i``'s share of ``generation.num_records`` (:func:`shard_sizes`: the sizes differ
   by at most 1 and add up to ``num_records``) from the same adapter with its own seed
   (:func:`shard_seed`: distinct for every index), and publishes ``synthetic_data.*``,
   ``summary.json`` (``shard``: index, count, seed, records) and ``results.json`` to
   ``<output>/shards/<i>/``. No PII replacement (nothing is trained) and no evaluation there;
3. ``run merge``: reads every shard's summary and data (refuses, exit code 1, when one is missing or
   failed), concatenates their valid records in index order (:func:`merge_frames`: exactly
   ``num_records`` when every shard made its share, ``partial`` with the shortfall otherwise),
   evaluates them against the holdout and publishes the canonical outputs at ``<output>/`` like a
   one-pod run: synthetic data, report, metrics, ``summary.json`` (``shards``: each shard's seed,
   records and URL; ``training``/``privacy``/``engine`` carried over from the training step's summary)
   and ``results.json``.

The functions here are pure; the pipeline calls them (``pipeline._run`` for a shard,
``pipeline._run_merge`` for the merge).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import storage

SHARDS_DIR = "shards"
#: Set by Kubernetes in every pod of an Indexed Job: the pod's completion index (= the shard).
ENV_COMPLETION_INDEX = "JOB_COMPLETION_INDEX"
_GOLDEN = 0x9E3779B1  # odd, so index -> base + (index + 1) * _GOLDEN is one-to-one modulo 2**32
_SEED_MODULUS = 2**32  # numpy's seed range


def shard_sizes(total: int, shards: int) -> list[int]:
    """How many records each shard generates: the first ``total % shards`` shards one more, so the
    sizes differ by at most 1 and add up to ``total``."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    if total < shards:
        raise ValueError(f"{total} records cannot be split into {shards} non-empty shards")
    base, extra = divmod(total, shards)
    return [base + (1 if i < extra else 0) for i in range(shards)]


def shard_seed(base_seed: int, index: int) -> int:
    """Shard ``index``'s generation seed: ``(base + (index + 1) * 0x9E3779B1) mod 2**32``.

    One-to-one in ``index`` for any base (the multiplier is odd), so every shard of a run samples with
    its own seed, none equal to another's, and the same run gives the same seeds again."""
    if index < 0:
        raise ValueError(f"shard index must be >= 0, got {index}")
    return (int(base_seed) + (index + 1) * _GOLDEN) % _SEED_MODULUS


@dataclass(frozen=True)
class Shard:
    """One generation shard of a run."""

    index: int
    count: int
    num_records: int
    seed: int

    def to_summary(self) -> dict[str, Any]:
        """The ``shard`` block of the shard's ``summary.json``."""
        return {"index": self.index, "count": self.count, "num_records": self.num_records, "seed": self.seed}


def plan_shard(total: int, count: int, index: int, base_seed: int) -> Shard:
    """Shard ``index`` of ``count`` for a run of ``total`` records with seed ``base_seed``."""
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} is outside 0..{count - 1} (generation.shards is {count})")
    return Shard(index, count, shard_sizes(total, count)[index], shard_seed(base_seed, index))


def shard_output(output: str, index: int) -> str:
    """Where shard ``index`` publishes: ``<output>/shards/<index>/``."""
    return storage.join_url(output, f"{SHARDS_DIR}/{index}/")


def merge_frames(frames: list[pd.DataFrame], num_records: int) -> tuple[pd.DataFrame, int]:
    """The shards' records concatenated in index order and cut to ``num_records``; returns the
    table and the shortfall (records missing to ``num_records``, 0 when complete)."""
    present = [f for f in frames if len(f.columns)]
    if not present:
        return pd.DataFrame(), num_records
    merged = pd.concat(present, ignore_index=True, sort=False)
    merged = merged.iloc[:num_records].reset_index(drop=True)
    return merged, max(0, num_records - len(merged))


def duplicate_seeds(seeds: list[int]) -> list[int]:
    """Seeds used by more than one shard (empty for a correct run)."""
    return sorted({s for s in seeds if seeds.count(s) > 1})
