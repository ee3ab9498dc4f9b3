"""PII Replay: training PII values that reappear in the synthetic data (reported beside DPS).

Inputs come from the PII stage (:class:`PiiReplayInput`): the entity type of each structured PII
column, and the PII strings found inside free-text cells of the training data.

* Structured column c with entity e: ``V_c`` = distinct non-missing training values (canonical
  labels). ``total_ref`` = training rows with a value, ``unique_ref = |V_c|``;
  ``total_synth`` = synthetic rows whose value ∈ V_c, ``unique_synth`` = distinct such values,
  ``replay_share = unique_synth / unique_ref``.
* Free text: for each entity e, ``V_e`` = its free-text strings plus the values of its structured
  columns (at least 3 characters); every synthetic text column t is searched for each string as a
  whole-word substring. ``unique_synth`` = distinct strings of V_e found in t, ``total_synth`` =
  synthetic cells of t containing at least one, ``replay_share = unique_synth / |V_e|``.

Filters: ``pii_replay_entities`` (entity types, case-insensitive) and ``pii_replay_columns``
(structured columns and text columns searched). Only counts and entity types are reported; never
the values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._frame import MISSING_LABEL, labels_of

MIN_TEXT_LENGTH = 3
_CHUNK = 300


@dataclass
class PiiReplayInput:
    """What the PII stage found in the training data (before replacement)."""

    column_entities: dict[str, str] = field(default_factory=dict)
    """Structured PII column → entity type (e.g. ``{"email": "email_address"}``)."""
    text_values: dict[str, set[str]] = field(default_factory=dict)
    """Entity type → PII strings found in free-text cells of the training data."""


def _find_in_texts(needles: list[str], texts: list[str | None]) -> tuple[set[str], int]:
    """Which needles occur (as whole words) in any text, and how many texts contain one."""
    cells = [t for t in texts if t]
    if not cells or not needles:
        return set(), 0
    sep = "\n\x00\n"
    blob = sep.join(cells)
    starts = np.cumsum([0] + [len(c) + len(sep) for c in cells[:-1]])
    found: set[str] = set()
    hit_cells: set[int] = set()
    ordered = sorted(set(needles), key=len, reverse=True)
    for i in range(0, len(ordered), _CHUNK):
        pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, ordered[i : i + _CHUNK])) + r")(?!\w)")
        for m in pattern.finditer(blob):
            found.add(m.group(0))
            hit_cells.add(int(np.searchsorted(starts, m.start(), side="right") - 1))
    return found, len(hit_cells)


def pii_replay(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    pii: PiiReplayInput | None,
    text_columns: list[str],
    *,
    entities: list[str] | None = None,
    columns: list[str] | None = None,
) -> dict:
    """The PII replay table (JSON-ready, counts only)."""
    if pii is None:
        return {"rows": [], "notes": ["skipped: PII stage did not run"], "skipped": True}
    want_entities = {e.lower() for e in entities} if entities else None
    want_columns = set(columns) if columns else None
    notes: list[str] = []
    rows: list[dict] = []
    per_entity_values: dict[str, set[str]] = {}
    for col, entity in pii.column_entities.items():
        if want_entities is not None and entity.lower() not in want_entities:
            continue
        if want_columns is not None and col not in want_columns:
            continue
        if col not in train.columns:
            notes.append(f"column {col!r} is not in the training data")
            continue
        ref = labels_of(train[col])
        ref = ref[ref != MISSING_LABEL]
        values = set(ref.tolist())
        per_entity_values.setdefault(entity, set()).update(v for v in values if len(v) >= MIN_TEXT_LENGTH)
        if col not in synthetic.columns:
            notes.append(f"column {col!r} is not in the synthetic data")
            continue
        syn = labels_of(synthetic[col])
        hit = np.fromiter((v in values for v in syn), dtype=bool, count=len(syn))
        unique_synth = len(set(syn[hit].tolist()))
        rows.append(
            {
                "column": col,
                "entity": entity,
                "source": "column",
                "total_ref": int(len(ref)),
                "unique_ref": len(values),
                "total_synth": int(hit.sum()),
                "unique_synth": unique_synth,
                "replay_share": round(unique_synth / len(values), 4) if values else 0.0,
            }
        )
    for entity, strings in pii.text_values.items():
        if want_entities is not None and entity.lower() not in want_entities:
            continue
        per_entity_values.setdefault(entity, set()).update(s for s in strings if len(s) >= MIN_TEXT_LENGTH)
    search_in = [
        c for c in text_columns if c in synthetic.columns and (want_columns is None or c in want_columns)
    ]
    if per_entity_values and not search_in:
        notes.append("no synthetic text columns to search for free-text PII")
    for col in search_in:
        texts = [None if pd.isna(v) else str(v) for v in synthetic[col]]
        for entity, needles in per_entity_values.items():
            if not needles:
                continue
            found, n_cells = _find_in_texts(sorted(needles), texts)
            rows.append(
                {
                    "column": col,
                    "entity": entity,
                    "source": "free_text",
                    "total_ref": None,
                    "unique_ref": len(needles),
                    "total_synth": n_cells,
                    "unique_synth": len(found),
                    "replay_share": round(len(found) / len(needles), 4),
                }
            )
    if not rows and not notes:
        notes.append("no PII columns or free-text PII matched the filters")
    return {
        "rows": rows,
        "notes": notes,
        "skipped": False,
        "total_unique_replayed": int(sum(r["unique_synth"] for r in rows)),
    }
