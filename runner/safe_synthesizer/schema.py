"""The table schema inferred from the training split, and record validation against it.

Column kinds (first matching rule wins):

* ``empty``: every value missing (generated as missing);
* ``boolean``: values are booleans, or exactly the strings true/false;
* ``integer`` / ``number``: numeric dtype → ``minimum``/``maximum`` and, for floats, the decimals seen;
* ``categorical``: ``n_distinct <= sqrt(n)`` and ``n_singletons <= n^(1/3)`` (NeMo's rule) → the
  observed values are the allowed set;
* ``string``: everything else → length bounds ``[min_len / 1.5, 1.5 * max_len]`` (NeMo's rule).

A column is ``nullable`` when the training split has missing values in it. A column that another
determines one to one in the training split (a code and its label: an airline's code and its name)
records that map (:func:`mark_exact_determined_pairs`); generation then sets it from its
determinant, so the pair agrees in every synthetic row. The schema is saved next
to the adapter (``dataset_schema.json``) and drives validation and structured decoding. With DP the
categories and ranges come from DP estimates or a declared domain instead (privacy stage).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

KINDS = ("empty", "boolean", "integer", "number", "categorical", "string")


@dataclass
class ColumnSchema:
    """What one column may hold."""

    name: str
    kind: str
    nullable: bool = False
    categories: list[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    decimals: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    value_type: str = "str"  # categorical values parse back to this type: "str" or "int"
    # A column that another one determines (a code and its label): after generation its value is
    # ``determined_map[str(row[determined_by])]`` where the map has the row's value (DP schema: a
    # noisy joint histogram decides; plain schema: :func:`mark_exact_determined_pairs`)
    determined_by: str | None = None
    determined_map: dict[str, Any] | None = None
    # DP schema only: the released noisy counts its bounds and categories came from (already paid
    # for), which generation matches the column's marginal to (post-processing). Categorical:
    # ``[[value or None, count], ...]`` of the kept values; numeric: ``[[low, high, count], ...]``
    # of the magnitude buckets in range (values in ``[low, high)``; ``[0, 0, c]`` is exactly 0) and,
    # when the integer trim released one, ``[[value, count], ...]`` of the integers in range.
    noisy_counts: list[list[Any]] | None = None
    noisy_buckets: list[list[float]] | None = None
    noisy_integers: list[list[float]] | None = None


@dataclass
class TableSchema:
    """The columns in order."""

    columns: list[ColumnSchema] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return [c.name for c in self.columns]

    def to_json(self) -> str:
        """Serialise (``dataset_schema.json``)."""
        return json.dumps({"columns": [asdict(c) for c in self.columns]}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> TableSchema:
        """Inverse of :meth:`to_json`."""
        return cls([ColumnSchema(**c) for c in json.loads(text)["columns"]])


def decimals_needed(values: pd.Series) -> int:
    """Largest number of decimals needed to print the values (capped at 6)."""
    most = 0
    for value in values.head(2000):
        text = f"{float(value):.6f}".rstrip("0")
        most = max(most, len(text.split(".")[1]) if "." in text else 0)
    return most


def infer_column(name: str, series: pd.Series) -> ColumnSchema:
    """Infer the schema of one column (rules in the module docstring)."""
    present = series.dropna()
    nullable = bool(series.isna().any())
    n = len(present)
    if n == 0:
        return ColumnSchema(name, "empty", nullable=True)
    if pd.api.types.is_bool_dtype(present) or set(present.astype(str).str.lower().unique()) <= {
        "true",
        "false",
    }:
        return ColumnSchema(name, "boolean", nullable=nullable)
    if pd.api.types.is_numeric_dtype(present):
        values = present.astype(float)
        is_int = pd.api.types.is_integer_dtype(present) or bool(np.all(np.mod(values, 1) == 0))
        distinct = present.nunique()
        singletons = int((present.value_counts() == 1).sum())
        if is_int and distinct <= math.sqrt(n) and singletons <= n ** (1 / 3) and distinct <= 20:
            cats = sorted({str(int(v)) for v in values})
            return ColumnSchema(name, "categorical", nullable=nullable, categories=cats, value_type="int")
        return ColumnSchema(
            name,
            "integer" if is_int else "number",
            nullable=nullable,
            minimum=float(values.min()),
            maximum=float(values.max()),
            decimals=0 if is_int else decimals_needed(values),
        )
    text = present.astype(str)
    counts = text.value_counts()
    distinct = len(counts)
    singletons = int((counts == 1).sum())
    if distinct <= math.sqrt(n) and singletons <= n ** (1 / 3):
        return ColumnSchema(name, "categorical", nullable=nullable, categories=sorted(counts.index.tolist()))
    lengths = text.str.len()
    return ColumnSchema(
        name,
        "string",
        nullable=nullable,
        min_length=int(round(lengths.min() / 1.5)),
        max_length=max(1, int(round(lengths.max() * 1.5))),
    )


def infer_schema(df: pd.DataFrame) -> TableSchema:
    """Infer the schema of a table."""
    return TableSchema([infer_column(str(c), df[c]) for c in df.columns])


@dataclass
class FieldProblem:
    """Why a generated value is invalid (a reason category and the column; never the value)."""

    column: str
    reason: str


def coerce_value(column: ColumnSchema, raw: str | None) -> tuple[Any, str | None]:
    """Parse one decoded field; returns ``(value, problem_reason_or_None)``."""
    if raw is None or raw == "":
        if column.nullable or column.kind == "empty":
            return None, None
        return None, "missing_value"
    if column.kind == "empty":
        return None, "value_in_empty_column"
    if column.kind == "boolean":
        lowered = raw.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true", None
        return None, "not_boolean"
    if column.kind in ("integer", "number"):
        try:
            number = float(raw)
        except ValueError:
            return None, "not_a_number"
        if not math.isfinite(number):
            return None, "not_a_number"
        if column.kind == "integer":
            if number != int(number):
                return None, "not_an_integer"
            number = int(number)
        if column.minimum is not None and number < column.minimum:
            return None, "below_minimum"
        if column.maximum is not None and number > column.maximum:
            return None, "above_maximum"
        return number, None
    if column.kind == "categorical":
        if column.categories is not None and raw not in column.categories:
            return None, "unknown_category"
        return (int(raw) if column.value_type == "int" else raw), None
    if column.min_length is not None and len(raw) < column.min_length:
        return None, "too_short"
    if column.max_length is not None and len(raw) > column.max_length:
        return None, "too_long"
    return raw, None


def validate_fields(
    schema: TableSchema, fields: list[str | None]
) -> tuple[dict[str, Any] | None, str | None]:
    """Validate a decoded record's fields; returns ``(record, None)`` or ``(None, reason)``.

    Reasons are categories such as ``wrong_field_count`` or ``age:above_maximum``: they name the
    column, never the value, so they are safe to log.
    """
    if len(fields) != len(schema.columns):
        return None, "wrong_field_count"
    record: dict[str, Any] = {}
    for column, raw in zip(schema.columns, fields, strict=True):
        value, problem = coerce_value(column, raw)
        if problem:
            return None, f"{column.name}:{problem}"
        record[column.name] = value
    return record, None


EXACT_PAIR_SHARE = 0.995  # rows on their level's top cell, by row and by column, for a 1:1 pair
EXACT_PAIR_MIN_ROWS = 5  # a level is mapped only when this many training rows hold it
EXACT_PAIR_MAX_LEVELS = 5_000
EXACT_PAIR_MAX_DISTINCT_SHARE = 0.2  # more distinct values than this share of rows: identifier-like


def _pair_keys(series: pd.Series) -> pd.Series:
    return series.map(lambda v: None if pd.isna(v) else str(v))


def exact_determined_pairs(
    train: pd.DataFrame, exclude: Iterable[str] = ()
) -> list[tuple[str, str, dict[str, Any]]]:
    """``(determinant, dependent, {determinant value: dependent value})`` for the column pairs that
    are one thing coded twice in ``train``.

    A pair qualifies when both columns have 3..``EXACT_PAIR_MAX_LEVELS`` distinct values, at most
    ``EXACT_PAIR_MAX_DISTINCT_SHARE`` of the rows (two identifier-like columns are trivially 1:1 and
    mapping them would copy training values), level counts within 1 %, the levels' top cells hold
    ``>= EXACT_PAIR_SHARE`` of the rows where both are present by row and by column, and the map is
    one to one. The determinant is a text column (the earlier of two); only levels held by at least
    ``EXACT_PAIR_MIN_ROWS`` rows are mapped, to values the model is trained on anyway. A column is
    dependent in at most one pair and never also a determinant. ``exclude``: columns never paired
    (replaced PII, filled after generation).
    """
    n = len(train)
    skip = set(exclude)
    keys: dict[str, pd.Series] = {}
    sizes: dict[str, int] = {}
    for column in train.columns:
        name = str(column)
        if name in skip or n == 0:
            continue
        size = int(train[column].nunique(dropna=True))
        if 3 <= size <= EXACT_PAIR_MAX_LEVELS and size <= EXACT_PAIR_MAX_DISTINCT_SHARE * n:
            keys[name], sizes[name] = _pair_keys(train[column]), size
    names = list(keys)
    text = {c: not pd.api.types.is_numeric_dtype(train[c]) for c in names}
    found: list[tuple[str, str, dict[str, Any]]] = []
    dependents: set[str] = set()
    determinants: set[str] = set()
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = (first, second) if text[first] else (second, first)
            if not text[a] or b in dependents or a in dependents or b in determinants:
                continue
            if abs(sizes[a] - sizes[b]) > max(1, 0.01 * max(sizes[a], sizes[b])):
                continue
            both = keys[a].notna() & keys[b].notna()
            if int(both.sum()) < n // 2:
                continue
            counts = pd.DataFrame({"a": keys[a][both], "b": keys[b][both]}).value_counts()
            total = float(counts.sum())
            by_a = counts.groupby(level="a")
            if (
                min(float(by_a.max().sum()), float(counts.groupby(level="b").max().sum()))
                < EXACT_PAIR_SHARE * total
            ):
                continue
            rows_per_level = by_a.sum()
            best = by_a.idxmax()
            first_value = train[b][both].groupby(keys[b][both]).first()  # the dependent's typed value
            mapping: dict[str, Any] = {}
            for level, (_, dependent_key) in best.items():
                if int(rows_per_level[level]) >= EXACT_PAIR_MIN_ROWS:
                    value = first_value[dependent_key]
                    mapping[str(level)] = value.item() if hasattr(value, "item") else value
            if not mapping or len(set(map(str, mapping.values()))) < len(mapping):
                continue
            found.append((a, b, mapping))
            dependents.add(b)
            determinants.add(a)
    return found


def mark_exact_determined_pairs(
    schema: TableSchema, train: pd.DataFrame, exclude: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """Record :func:`exact_determined_pairs` in ``schema`` (in place); returns the pairs marked."""
    columns = {c.name: c for c in schema.columns}
    marked = []
    for determinant, dependent, mapping in exact_determined_pairs(train, exclude):
        if dependent in columns and determinant in columns:
            columns[dependent].determined_by = determinant
            columns[dependent].determined_map = mapping
            marked.append((determinant, dependent))
    return marked


def apply_determined_columns(frame: pd.DataFrame, schema: TableSchema) -> tuple[pd.DataFrame, dict[str, int]]:
    """Set each determined column from its determinant's value (post-processing of the schema).

    Rows whose determinant has no entry in the map keep the generated value. Returns the frame and,
    per determined column, how many values changed.
    """
    changed: dict[str, int] = {}
    out = frame
    for column in schema.columns:
        source = column.determined_by
        if not source or not column.determined_map or source not in frame.columns or column.name not in frame:
            continue
        if out is frame:
            out = frame.copy()
        keys = out[source].map(lambda v: None if pd.isna(v) else str(v))
        mapped = keys.map(column.determined_map)
        before = out[column.name]
        if column.kind == "integer":
            mapped = pd.to_numeric(mapped, errors="coerce")
        merged = mapped.where(mapped.notna(), before)
        if pd.api.types.is_numeric_dtype(before):
            merged = pd.to_numeric(merged, errors="coerce")
            if pd.api.types.is_integer_dtype(before.dtype) and merged.notna().all():
                merged = merged.astype(before.dtype)
        differs = ~((merged == before) | (merged.isna() & before.isna()))
        changed[column.name] = int(differs.sum())
        out[column.name] = merged
    return out, changed
