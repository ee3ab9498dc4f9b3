"""Data Privacy Score (DPS, 0–10): the mean of the privacy components that ran.

``DPS = mean(MIA protection, AIA protection)`` over the enabled components with a score; a score of
exactly 0 counts (the reference dropped it, inflating DPS). Without a holdout the membership
attack cannot run and DPS is the AIA score alone (reported as a warning). PII replay and the DCR
share are reported beside DPS, not inside it.
"""

from __future__ import annotations


def aggregate_dps(scores: dict[str, float | None]) -> float | None:
    """Mean of the available scores (None when none is available)."""
    vals = [s for s in scores.values() if s is not None]
    return sum(vals) / len(vals) if vals else None
