"""Column profiling, sampling and encoding shared by every metric.

Each training column gets one *kind*, decided on the training split and applied to the other tables:

* ``numeric`` — numbers (also object columns where >= 95% of values parse as numbers; the rest
  count as missing);
* ``datetime`` — datetime dtype, or strings where >= 95% parse as dates; used as seconds since the
  epoch, i.e. as a number;
* ``binary`` — exactly two distinct values (booleans included); treated as nominal;
* ``categorical`` — other nominal values;
* ``text`` — free text (mean >= 5 words per cell, or long mostly-unique strings);
* ``identifier`` — non-numeric, >= 50% unique (IDs, names): skipped by the tabular metrics;
* ``constant`` — one distinct value: scored by the distribution metric only;
* ``empty`` — no values at all: skipped everywhere.

Nominal values are compared as canonical labels: numbers as ``%.10g`` (so ``1`` equals ``1.0``),
booleans as ``true``/``false``, missing as one extra category.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

NUMERIC = "numeric"
DATETIME = "datetime"
BINARY = "binary"
CATEGORICAL = "categorical"
TEXT = "text"
IDENTIFIER = "identifier"
CONSTANT = "constant"
EMPTY = "empty"

NOMINAL_KINDS = (BINARY, CATEGORICAL, CONSTANT)
NUMBER_KINDS = (NUMERIC, DATETIME)
# Kinds the tabular metrics (correlation, deep structure, privacy distances) use.
TABULAR_KINDS = (NUMERIC, DATETIME, BINARY, CATEGORICAL)
MISSING_LABEL = "<missing>"

_WORD = re.compile(r"\w+")


@dataclass
class ColumnProfile:
    """What one training column is and how it is summarised (aggregates only)."""

    name: str
    kind: str
    n_rows: int
    n_missing: int
    n_unique: int
    note: str | None = None

    @property
    def missing_fraction(self) -> float:
        """Share of missing cells."""
        return self.n_missing / self.n_rows if self.n_rows else 0.0

    @property
    def is_nominal(self) -> bool:
        """True for binary, categorical and constant columns."""
        return self.kind in NOMINAL_KINDS

    @property
    def is_number(self) -> bool:
        """True for numeric and datetime columns."""
        return self.kind in NUMBER_KINDS

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "name": self.name,
            "kind": self.kind,
            "missing_fraction": round(self.missing_fraction, 4),
            "n_unique": self.n_unique,
            "note": self.note,
        }


def _parse_datetime(values: pd.Series) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(values, errors="coerce")
        if parsed.notna().mean() < 0.95:
            parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def profile_column(series: pd.Series) -> ColumnProfile:
    """Decide a column's kind from the training values."""
    name = str(series.name)
    n_rows = len(series)
    nonnull = series.dropna()
    if pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype):
        nonnull = nonnull[nonnull.astype(str).str.strip() != ""]
    n_missing = n_rows - len(nonnull)
    if len(nonnull) == 0:
        return ColumnProfile(name, EMPTY, n_rows, n_missing, 0, "skipped because the column has no values")
    try:
        n_unique = int(nonnull.nunique())
    except TypeError:  # unhashable cells (lists, dicts)
        nonnull = nonnull.astype(str)
        n_unique = int(nonnull.nunique())
    prof = ColumnProfile(name, CATEGORICAL, n_rows, n_missing, n_unique)
    if n_unique == 1:
        prof.kind = CONSTANT
        prof.note = "constant column: distribution only; skipped for correlation and deep structure"
        return prof
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        prof.kind = BINARY
        return prof
    if pd.api.types.is_numeric_dtype(dtype):
        prof.kind = BINARY if n_unique == 2 else NUMERIC
        return prof
    if pd.api.types.is_datetime64_any_dtype(dtype):
        prof.kind = DATETIME
        return prof
    as_str = nonnull.astype(str).str.strip()
    if n_unique == 2:
        prof.kind = BINARY
        return prof
    numbers = pd.to_numeric(as_str, errors="coerce")
    share_numeric = float(numbers.notna().mean())
    if share_numeric >= 0.95:
        prof.kind = NUMERIC
        if share_numeric < 1.0:
            prof.note = f"{1 - share_numeric:.1%} non-numeric values treated as missing"
        return prof
    sample = as_str.sample(min(len(as_str), 200), random_state=0)
    looks_dateish = sample.str.contains(r"\d", regex=True).mean() > 0.95 and sample.str.len().max() <= 40
    if looks_dateish and share_numeric < 0.5 and _parse_datetime(sample).notna().mean() >= 0.95:
        prof.kind = DATETIME
        return prof
    words = sample.map(lambda s: len(_WORD.findall(s)))
    unique_ratio = n_unique / len(nonnull)
    if words.mean() >= 5 or (sample.str.len().mean() >= 40 and unique_ratio >= 0.5):
        prof.kind = TEXT
        return prof
    if unique_ratio >= 0.5 and len(nonnull) >= 20:
        prof.kind = IDENTIFIER
        prof.note = f"skipped because it looks like an identifier ({unique_ratio:.0%} unique values)"
        return prof
    return prof


def numbers_of(series: pd.Series, kind: str) -> np.ndarray:
    """A column as float64 (datetimes as seconds since the epoch); unparseable values become NaN."""
    if kind == DATETIME:
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            parsed = series
            if getattr(parsed.dt, "tz", None) is not None:
                parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        else:
            parsed = _parse_datetime(series.astype("string"))
        out = parsed.astype("datetime64[ns]").to_numpy().astype("int64").astype(np.float64) / 1e9
        out[pd.isna(parsed).to_numpy()] = np.nan
        return out
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float).to_numpy()
    if pd.api.types.is_numeric_dtype(series.dtype):
        return pd.to_numeric(series, errors="coerce").astype(np.float64).to_numpy()
    out = pd.to_numeric(series.astype("string").str.strip(), errors="coerce")
    return out.astype(np.float64).to_numpy(na_value=np.nan)


def labels_of(series: pd.Series) -> np.ndarray:
    """Canonical nominal labels (object array of str); missing becomes :data:`MISSING_LABEL`."""
    values = series.to_numpy(dtype=object)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
            out[i] = MISSING_LABEL
        elif isinstance(v, bool | np.bool_):
            out[i] = "true" if v else "false"
        elif isinstance(v, int | float | np.integer | np.floating):
            out[i] = f"{float(v):.10g}"
        else:
            s = str(v).strip()
            if s == "":
                out[i] = MISSING_LABEL
            elif s.lower() in ("true", "false"):
                out[i] = s.lower()
            else:
                try:
                    out[i] = f"{float(s):.10g}" if s[0].isdigit() or s[0] in "+-." else s
                except ValueError:
                    out[i] = s
    return out


def texts_of(series: pd.Series) -> list[str | None]:
    """Free-text cells as str, missing as None."""
    return [None if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v) for v in series]


@dataclass
class EncodedFrame:
    """One table encoded for the metrics: floats for numbers, int codes for nominal, str for text."""

    n_rows: int
    numbers: dict[str, np.ndarray] = field(default_factory=dict)
    codes: dict[str, np.ndarray] = field(default_factory=dict)
    texts: dict[str, list[str | None]] = field(default_factory=dict)

    def take(self, idx: np.ndarray) -> EncodedFrame:
        """Rows ``idx`` (with repeats, for the bootstrap)."""
        return EncodedFrame(
            len(idx),
            {k: v[idx] for k, v in self.numbers.items()},
            {k: v[idx] for k, v in self.codes.items()},
            {k: [v[i] for i in idx] for k, v in self.texts.items()},
        )


@dataclass
class Encoding:
    """Shared vocabulary of the nominal columns (codes are comparable across tables)."""

    categories: dict[str, list[str]] = field(default_factory=dict)


def encode_frames(
    profiles: list[ColumnProfile], frames: dict[str, pd.DataFrame | None]
) -> tuple[dict[str, EncodedFrame | None], Encoding]:
    """Encode several tables over the same columns with one shared nominal vocabulary."""
    enc = Encoding()
    out: dict[str, EncodedFrame | None] = {
        key: (EncodedFrame(len(df)) if df is not None else None) for key, df in frames.items()
    }
    for prof in profiles:
        if prof.kind in (EMPTY, IDENTIFIER):
            continue
        col = prof.name
        if prof.is_number:
            for key, df in frames.items():
                if df is not None:
                    out[key].numbers[col] = numbers_of(df[col], prof.kind)  # type: ignore[union-attr]
        elif prof.is_nominal:
            labels = {key: labels_of(df[col]) for key, df in frames.items() if df is not None}
            # Vocabulary ordered by frequency in the first table (the training data), then the rest.
            first = next(iter(labels.values()))
            vocab = list(pd.Series(first).value_counts().index)
            seen = set(vocab)
            for arr in labels.values():
                for v in pd.unique(arr):
                    if v not in seen:
                        vocab.append(v)
                        seen.add(v)
            index = {v: i for i, v in enumerate(vocab)}
            enc.categories[col] = [str(v) for v in vocab]
            for key, arr in labels.items():
                out[key].codes[col] = np.fromiter(  # type: ignore[union-attr]
                    (index[v] for v in arr), dtype=np.int64, count=len(arr)
                )
        elif prof.kind == TEXT:
            for key, df in frames.items():
                if df is not None:
                    out[key].texts[col] = texts_of(df[col])  # type: ignore[union-attr]
    return out, enc


def sample_rows(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """At most ``n`` rows, drawn without replacement (the frame itself when it is small enough)."""
    if len(df) <= n:
        return df.reset_index(drop=True)
    return df.sample(n=n, random_state=seed).reset_index(drop=True)


def select_columns(columns: list[str], max_columns: int, mandatory: int | None, seed: int) -> list[str]:
    """Keep the first ``mandatory`` columns, fill up to ``max_columns`` at random; original order."""
    if len(columns) <= max_columns:
        return list(columns)
    keep = list(columns[: min(mandatory or 0, max_columns)])
    rest = [c for c in columns if c not in keep]
    rng = np.random.default_rng(seed)
    picked = set(rng.choice(len(rest), size=max_columns - len(keep), replace=False).tolist())
    chosen = set(keep) | {rest[i] for i in picked}
    return [c for c in columns if c in chosen]
