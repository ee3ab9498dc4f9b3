"""Engine-independent generation: batching policy, parsing, validation and the stop rule.

* Batching: the first batch is ``max_batch`` sequences; later batches ask for
  ``ceil(remaining / valid records per sequence so far)`` sequences, capped at ``max_batch``.
* Parsing: each complete line of a sequence is a record (:mod:`safe_synthesizer.serialization`);
  a line cut off by the token limit is dropped, not counted as invalid.
* Validation: field count and each field against the schema (:mod:`safe_synthesizer.schema`);
  invalid records are counted by reason (column + category, never the value). With grouping,
  blank lines separate groups; a last group not closed by its blank line (the sequence ended, or
  the model never learned the separator) is dropped unless ``validation.group_by_accept_no_delineator``
  accepts its complete lines as a group; a group whose group column varies is invalid
  (``validation.group_by_fix_non_unique_value`` rewrites it to the first record's value), and an
  unordered group is invalid unless ``validation.group_by_fix_unordered_records`` sorts it.
* Stop rule (NeMo's): after each batch, the cumulative invalid fraction is compared with
  ``invalid_fraction_threshold``; ``patience`` consecutive batches at or above it stop the run.
  Unlike NeMo, the valid records made so far are kept and published with a warning.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..config import GenerateParameters
from ..progress import NullProgress, Progress
from ..schema import TableSchema, validate_fields
from ..serialization import split_fields
from .engine import GenerationEngine, SamplingSettings


@dataclass
class GenerationResult:
    """Valid records and the accounting of everything that was generated."""

    data: pd.DataFrame
    requested: int
    valid: int = 0
    invalid: int = 0
    invalid_reasons: dict[str, int] = field(default_factory=dict)
    sequences: int = 0
    batches: int = 0
    stopped_early: bool = False
    stop_reason: str | None = None
    seconds: float = 0.0
    engine: str = ""
    group_sizes: list[int] = field(default_factory=list)  # grouped: records per kept group, in order

    @property
    def valid_fraction(self) -> float:
        """Valid records over all parsed records."""
        total = self.valid + self.invalid
        return self.valid / total if total else 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-ready (no record values)."""
        return {
            "engine": self.engine,
            "requested": self.requested,
            "generated_valid": min(self.valid, len(self.data)),
            "valid_records_parsed": self.valid,
            "invalid_records": self.invalid,
            "valid_fraction": round(self.valid_fraction, 4),
            "invalid_reasons": dict(sorted(self.invalid_reasons.items(), key=lambda kv: -kv[1])),
            "sequences": self.sequences,
            "batches": self.batches,
            "stopped_early": self.stopped_early,
            "stop_reason": self.stop_reason,
            "seconds": round(self.seconds, 2),
            "valid_records_per_second": round(len(self.data) / self.seconds, 2) if self.seconds else None,
        }


class StopCondition:
    """``patience`` consecutive batches with cumulative invalid fraction >= ``threshold``."""

    def __init__(self, threshold: float, patience: int) -> None:
        self.threshold = threshold
        self.patience = patience
        self.valid = 0
        self.invalid = 0
        self.strikes = 0

    def add_batch(self, valid: int, invalid: int) -> bool:
        """Record a batch; True when generation should stop."""
        self.valid += valid
        self.invalid += invalid
        total = self.valid + self.invalid
        fraction = self.invalid / total if total else 1.0
        self.strikes = self.strikes + 1 if fraction >= self.threshold else 0
        return self.strikes >= self.patience


def next_batch_size(remaining: int, valid_per_sequence: float | None, cap: int) -> int:
    """Sequences to request for the next batch (policy in the module docstring)."""
    if valid_per_sequence is None:
        return cap
    wanted = math.ceil(remaining / max(valid_per_sequence, 0.05))
    return max(1, min(cap, wanted))


def _group_blocks(text: str, accept_no_delineator: bool = False) -> list[list[str]]:
    lines = text.split("\n")
    if accept_no_delineator:
        lines = lines[:-1]  # the piece after the last newline is a record cut off by the token limit
    blocks, current = [], []
    for line in lines:
        if line.strip():
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current and accept_no_delineator:
        blocks.append(current)  # its complete records, without the closing blank line
    return blocks  # otherwise a trailing block without its blank line was cut off: dropped


def parse_sequence(
    text: str,
    schema: TableSchema,
    params: GenerateParameters,
    group_by: str | None = None,
    order_by: str | None = None,
    group_sizes: list[int] | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Records and invalid reasons from one generated sequence (grouped: ``group_sizes``, when
    given, gets the record count of each kept group, so that callers know where groups end)."""
    records: list[dict[str, Any]] = []
    reasons: list[str] = []
    if not group_by:
        lines = text.split("\n")[:-1]  # the last piece has no newline: cut off by the token limit
        for line in lines:
            if not line.strip():
                continue
            record, reason = validate_fields(schema, split_fields(line))
            if record is None:
                reasons.append(reason or "invalid")
            else:
                records.append(record)
        return records, reasons
    validation = params.validation
    for block in _group_blocks(text, validation.group_by_accept_no_delineator):
        group: list[dict[str, Any]] = []
        bad: list[str] = []
        for line in block:
            record, reason = validate_fields(schema, split_fields(line))
            if record is None:
                bad.append(reason or "invalid")
            else:
                group.append(record)
        if bad and not validation.group_by_ignore_invalid_records:
            reasons.extend(bad)
            reasons.extend(["group_has_invalid_record"] * len(group))
            continue
        reasons.extend(bad)
        if not group:
            continue
        ids = {str(r[group_by]) for r in group}
        if len(ids) > 1:
            if validation.group_by_fix_non_unique_value:
                for r in group:
                    r[group_by] = group[0][group_by]
            else:
                reasons.extend(["group_not_unique"] * len(group))
                continue
        if order_by:
            keys = [r[order_by] for r in group]
            try:
                ordered = all(a <= b for a, b in zip(keys, keys[1:], strict=False))
            except TypeError:
                ordered = False
            if not ordered:
                if validation.group_by_fix_unordered_records:
                    group.sort(key=lambda r: (r[order_by] is None, str(r[order_by])))
                else:
                    reasons.extend(["group_unordered"] * len(group))
                    continue
        records.extend(group)
        if group_sizes is not None:
            group_sizes.append(len(group))
    return records, reasons


def generate_records(
    engine: GenerationEngine,
    schema: TableSchema,
    prompt: str,
    params: GenerateParameters,
    settings: SamplingSettings,
    *,
    group_by: str | None = None,
    order_by: str | None = None,
    progress: Progress | None = None,
    max_batches: int | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> GenerationResult:
    """Generate until ``params.num_records`` valid records exist or the stop rule fires.

    ``should_stop`` is asked after every batch (a termination request): the records so far are kept.
    """
    progress = progress or NullProgress()
    started = time.time()
    target = params.num_records
    result = GenerationResult(data=pd.DataFrame(columns=schema.names), requested=target, engine=engine.name)
    stop = StopCondition(params.invalid_fraction_threshold, params.patience)
    collected: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    valid_per_sequence: float | None = None
    batch_number = 0
    progress.update("generate", 0, target, "generating", engine=engine.name)
    while len(collected) < target:
        batch_number += 1
        n = next_batch_size(target - len(collected), valid_per_sequence, engine.max_batch())
        seeded = dataclasses.replace(settings, seed=settings.seed + batch_number)
        texts = engine.generate(prompt, n, seeded)
        batch_valid = batch_invalid = 0
        for text in texts:
            records, bad = parse_sequence(text, schema, params, group_by, order_by, result.group_sizes)
            collected.extend(records)
            reasons.update(bad)
            batch_valid += len(records)
            batch_invalid += len(bad)
        result.sequences += len(texts)
        result.valid += batch_valid
        result.invalid += batch_invalid
        valid_per_sequence = result.valid / max(result.sequences, 1)
        progress.update(
            "generate",
            min(len(collected), target),
            target,
            "generating",
            valid_fraction=round(result.valid_fraction, 3),
        )
        if stop.add_batch(batch_valid, batch_invalid):
            result.stopped_early = True
            result.stop_reason = (
                f"invalid fraction stayed >= {params.invalid_fraction_threshold} for {params.patience} "
                f"consecutive batches"
            )
            break
        if should_stop is not None and should_stop() and len(collected) < target:
            result.stopped_early = True
            result.stop_reason = "termination requested"
            break
        if max_batches is not None and batch_number >= max_batches:
            result.stopped_early = True
            result.stop_reason = f"stopped after {max_batches} batches"
            break
    result.batches = batch_number
    result.invalid_reasons = dict(reasons)
    frame = pd.DataFrame(collected[:target] if not group_by else collected, columns=schema.names)
    result.data = frame
    result.seconds = time.time() - started
    return result
