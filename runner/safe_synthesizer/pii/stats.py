"""Results of the PII stage: per-column statistics (no raw values), summary, and PII-replay input."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd


@dataclass
class ColumnPiiStats:
    """One input column: how it was classified and what was done to it. Never holds values."""

    column: str
    column_type: str
    entity: str | None = None
    detection_method: str = "none"  # column_name+values | values | free_text | none
    match_share: float = 0.0  # share of sampled distinct values matching the entity
    sampled_values: int = 0
    free_text: bool = False
    protected: bool = False
    cells: int = 0  # non-missing cells
    cells_detected: int = 0  # cells holding PII (whole cell for entity columns; >= 1 span for text)
    cells_replaced: int = 0  # cells whose value changed
    entity_counts: dict[str, int] = field(default_factory=dict)  # free text: spans per entity
    transforms: list[str] = field(default_factory=list)
    renamed_to: str | None = None
    dropped: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class ReplayInput:
    """What PII replay needs. In memory only: holds original PII strings; never log or persist it.

    ``column_entities``: input column -> entity for the structured PII columns (the evaluation reads the
    original values from the pre-PII training split). ``text_values``: entity -> original strings found
    in free-text cells. ``column_renames``: input column -> output column where a rule renamed it.
    """

    column_entities: dict[str, str]
    text_values: dict[str, set[str]]
    column_renames: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never print the values
        counts = {k: len(v) for k, v in self.text_values.items()}
        return f"ReplayInput(column_entities={self.column_entities!r}, text_values_counts={counts!r})"


@dataclass
class PiiResult:
    """Output of :func:`safe_synthesizer.pii.replace_pii`."""

    data: pd.DataFrame = field(repr=False)
    column_stats: dict[str, ColumnPiiStats]
    warnings: list[str] = field(default_factory=list)
    plan: str = "default"  # default | custom
    ner_backend: str = ""
    gliner: str = ""
    rows_in: int = 0
    rows_out: int = 0
    columns_added: list[str] = field(default_factory=list)
    seconds: float = 0.0
    _replay: ReplayInput = field(default_factory=lambda: ReplayInput({}, {}), repr=False)

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary for the report and ``summary.json`` (counts and names only, no values)."""
        columns = {name: stats.to_dict() for name, stats in self.column_stats.items()}
        pii_columns = {n: s.entity for n, s in self.column_stats.items() if s.entity}
        text_spans: dict[str, int] = {}
        for stats in self.column_stats.values():
            for entity, count in stats.entity_counts.items():
                text_spans[entity] = text_spans.get(entity, 0) + count
        return {
            "plan": self.plan,
            "ner_backend": self.ner_backend,
            "gliner": self.gliner,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "pii_columns": pii_columns,
            "free_text_columns": [n for n, s in self.column_stats.items() if s.free_text],
            "protected_columns": [n for n, s in self.column_stats.items() if s.protected],
            "columns_added": list(self.columns_added),
            "columns_dropped": [n for n, s in self.column_stats.items() if s.dropped],
            "cells_replaced": sum(s.cells_replaced for s in self.column_stats.values()),
            "text_entity_counts": text_spans,
            "columns": columns,
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
        }

    def replay_input(self) -> ReplayInput:
        """Column entities and the original PII strings found in free text (in memory only)."""
        return self._replay
