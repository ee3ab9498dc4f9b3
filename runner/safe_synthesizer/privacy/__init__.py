"""Differential privacy: DP-SGD training (:mod:`.dp`), accounting and the budget split
(:mod:`.accounting`), and the DP generation schema (:mod:`.schema`).

End to end, a DP run releases the schema and the adapter under one ``(ε, δ)`` budget: the schema
spends a reserved share (``SCHEMA_EPSILON_FRACTION``, ``SCHEMA_DELTA_FRACTION``), DP-SGD the rest,
and basic composition adds them up (stated in :mod:`.accounting`). The ledger goes to
``summary.json`` under ``privacy``. Heavy imports (torch, opacus, dp-accounting) happen on use.
"""

from __future__ import annotations

from .accounting import (
    ACCOUNTANT,
    SCHEMA_DELTA_FRACTION,
    SCHEMA_EPSILON_FRACTION,
    Budget,
    epsilon_for,
    find_noise_multiplier,
    split_budget,
)

__all__ = [
    "ACCOUNTANT",
    "SCHEMA_DELTA_FRACTION",
    "SCHEMA_EPSILON_FRACTION",
    "Budget",
    "epsilon_for",
    "find_noise_multiplier",
    "split_budget",
]
