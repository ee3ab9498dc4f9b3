"""Field tokenizer: every column gets its own small vocabulary (one slice of the model's vocabulary).

A record is encoded as ``[BOS] + fields`` where the fields, in column order with free-text columns
last, are:

* **categorical** (strings, booleans, integers with few distinct values): one token per level. Levels
  seen fewer than ``rare_min_count`` times are pooled into one *rare* token, decoded as one of the
  pooled levels drawn by its training frequency. Missing values have their own token.
* **numeric** (and datetimes, as seconds since the epoch): two tokens, a *coarse* token and a *fine*
  token. Values holding at least ``point_mass_share`` of the column (e.g. the 0 of a capital-gain
  column) get their own coarse token (reproduced exactly); the rest fall in ``coarse_bins`` quantile
  bins, each split into ``fine_bins`` quantile bins; a fine bin decodes to a uniform draw between its
  edges, rounded to the column's decimals (integers stay integers) and clipped to the column's range.
  A column with at most ``max_exact_levels`` distinct values is exact instead: one coarse token per
  value. Missing is a coarse token; its fine token is a fixed filler.
  Under DP the edges are equal-width between the DP schema's bounds (data-independent).
* **text** (natural language, or identifier-like strings): ``max_tokens + 1`` positions (the 98th
  percentile length × 1.2, at most ``max_text_tokens``) holding the pieces, then the column's end
  token repeated. Natural-language columns use word pieces (a word with its leading space, a
  punctuation mark) seen in at least ``text_min_rows`` rows, plus single characters; a word seen in
  fewer rows is dropped, so rare words (often names) are never learned or replayed. Identifier-like
  columns use characters only. Under DP the vocabulary is the printable ASCII characters only
  (data-independent).

The encoding is a pure function of the fitted tokenizer; ``to_dict``/``from_dict`` round-trip it
through JSON (saved next to the model). Round trip ``decode(encode(x)) == x`` is exact for
categorical levels kept, exact numeric columns, point masses, missing values and text built from
the vocabulary; continuous values come back inside their fine bin.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..schema import decimals_needed

BOS = 0
PAD = 1
FIRST_FIELD_TOKEN = 2
NA_LABEL = "<NA>"
RARE_LABEL = "<RARE>"
FILLER_LABEL = "<FILL>"
END_LABEL = "<END>"
TEXT_PIECE = re.compile(r"\s?\w+|\s?[^\w\s]|\s+")
PRINTABLE = [chr(c) for c in range(32, 127)]
DATETIME_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%Y%m%d",
)


@dataclass
class TokenizerSettings:
    """Knobs of :func:`fit_tokenizer` (defaults measured on UCI Adult and two other public tables)."""

    coarse_bins: int = 48
    fine_bins: int = 48
    max_exact_levels: int = 128
    # DP: integer columns whose DP range holds at most this many values get one token per value; the
    # generated marginal is matched to the DP counts per token (tabular.marginals), so a point mass
    # such as Adult's 40 hours a week comes out exact (KS 0.96 -> 0.986 at 128 instead of 64)
    dp_max_exact_levels: int = 128
    point_mass_share: float = 0.01
    rare_min_count: int = 3
    max_levels: int = 2000
    text_min_rows: int = 5
    max_text_tokens: int = 32
    max_text_pieces: int = 400  # word pieces per text column (the most frequent; rarer words are dropped)
    text_words_min: float = 2.5  # mean words per value from which a string column is natural language


@dataclass
class Position:
    """One token position of the fixed part of a record: which column, which vocabulary slice."""

    column: int
    start: int
    end: int


@dataclass
class ColumnCodec:
    """How one column is tokenized (``kind``: categorical | numeric | text). JSON-serialisable."""

    name: str
    kind: str
    start: int = 0  # first token id of this column's slice
    labels: list[str] = field(default_factory=list)  # categorical / text pieces
    value_type: str = "str"  # categorical: str | int | float | bool
    rare_levels: list[str] = field(default_factory=list)
    rare_weights: list[float] = field(default_factory=list)
    # numeric
    exact_values: list[float] = field(default_factory=list)  # exact mode, or the point masses
    coarse_edges: list[float] = field(default_factory=list)
    fine_edges: list[list[float]] = field(default_factory=list)
    fine_bins: int = 0
    decimals: int = 0
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    datetime_format: str | None = None
    step: float = 0.0  # the grid values are drawn on (0: 10^-decimals); datetimes: 1 s, 60 s or a day
    nullable: bool = False
    # text
    char_level: bool = False
    max_tokens: int = 0

    # ------------------------------------------------------------------ layout
    @property
    def coarse_size(self) -> int:
        """Tokens of the first (or only) position."""
        if self.kind == "numeric":
            return len(self.exact_values) + max(0, len(self.coarse_edges) - 1) + 1  # +1: missing
        return len(self.labels)

    @property
    def size(self) -> int:
        """All tokens of this column's slice."""
        if self.kind == "numeric":
            return self.coarse_size + max(self.fine_bins, 1)
        return len(self.labels)

    @property
    def positions(self) -> int:
        """Token positions of this column in every record (text: its token cap plus the end token)."""
        if self.kind == "numeric":
            return 2
        return 1 if self.kind == "categorical" else self.max_tokens + 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def _is_missing(value: Any) -> bool:
    return (
        value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT
    )


def detect_datetime(series: pd.Series) -> str | None:
    """The strftime format that parses at least 98 % of the non-missing strings, or None."""
    present = series.dropna()
    if len(present) == 0 or pd.api.types.is_numeric_dtype(present):
        return None
    if pd.api.types.is_datetime64_any_dtype(present):
        return "%Y-%m-%d %H:%M:%S"
    sample = present.astype(str).head(500)
    if not sample.str.contains(r"\d", regex=True).all():
        return None
    for fmt in DATETIME_FORMATS:
        parsed = pd.to_datetime(sample, format=fmt, errors="coerce")
        if parsed.notna().mean() >= 0.98:
            return fmt
    return None


def is_natural_language(series: pd.Series, settings: TokenizerSettings) -> bool:
    """Mean whitespace-separated words per value at least ``text_words_min``."""
    present = series.dropna().astype(str).head(2000)
    if len(present) == 0:
        return False
    return float(present.str.split().str.len().mean()) >= settings.text_words_min


def _quantile_edges(values: np.ndarray, bins: int) -> np.ndarray:
    edges = np.quantile(values, np.linspace(0, 1, bins + 1))
    edges = np.unique(edges)
    if len(edges) == 1:
        edges = np.array([edges[0], edges[0]])
    return edges


def _fit_numeric(
    name: str,
    numbers: np.ndarray,
    nullable: bool,
    settings: TokenizerSettings,
    integer: bool,
    decimals: int,
    bounds: tuple[float, float] | None,
) -> ColumnCodec:
    codec = ColumnCodec(name=name, kind="numeric", integer=integer, decimals=decimals, nullable=nullable)
    present = numbers[~np.isnan(numbers)]
    if bounds is not None:
        # DP: a data-independent vocabulary from the DP bounds: every integer when there are few
        # (few tokens: each gets more of the noisy gradient's signal), else zero exact when
        # the range holds it (a common point mass: capital gains are 0 in 92 % of Adult's rows)
        # and equal-width edges.
        low, high = bounds
        codec.minimum, codec.maximum = float(low), float(high)
        if integer and high - low + 1 <= settings.dp_max_exact_levels:
            codec.exact_values = [float(v) for v in np.arange(math.ceil(low), math.floor(high) + 1)]
            codec.fine_bins = 1
            codec.fine_edges = []
            return codec
        if low <= 0.0 <= high:
            codec.exact_values = [0.0]
        codec.coarse_edges = list(np.linspace(low, high, settings.coarse_bins + 1))
        codec.fine_bins = settings.fine_bins
        codec.fine_edges = [
            list(np.linspace(a, b, settings.fine_bins + 1))
            for a, b in zip(codec.coarse_edges[:-1], codec.coarse_edges[1:], strict=True)
        ]
        return codec
    if len(present) == 0:
        codec.fine_bins = 1
        return codec
    codec.minimum, codec.maximum = float(present.min()), float(present.max())
    distinct, counts = np.unique(present, return_counts=True)
    if len(distinct) <= settings.max_exact_levels:
        codec.exact_values = [float(v) for v in distinct]
        codec.fine_bins = 1
        return codec
    masses = distinct[counts >= settings.point_mass_share * len(present)]
    codec.exact_values = [float(v) for v in masses]
    rest = present[~np.isin(present, masses)]
    if len(rest) == 0:
        codec.fine_bins = 1
        return codec
    coarse = _quantile_edges(rest, settings.coarse_bins)
    codec.coarse_edges = [float(e) for e in coarse]
    codec.fine_bins = settings.fine_bins
    which = np.clip(np.searchsorted(coarse, rest, side="right") - 1, 0, len(coarse) - 2)
    fine: list[list[float]] = []
    for b in range(len(coarse) - 1):
        inside = rest[which == b]
        if len(inside) == 0:
            inside = np.array([coarse[b], coarse[b + 1]])
        edges = np.quantile(inside, np.linspace(0, 1, settings.fine_bins + 1))
        edges[0], edges[-1] = coarse[b], max(coarse[b + 1], edges[-1])
        fine.append([float(e) for e in edges])
    codec.fine_edges = fine
    return codec


def _fit_categorical(
    name: str, series: pd.Series, settings: TokenizerSettings, levels: list[str] | None
) -> ColumnCodec:
    present = series.dropna()
    value_type = "str"
    if pd.api.types.is_bool_dtype(present):
        value_type = "bool"
    elif pd.api.types.is_integer_dtype(present):
        value_type = "int"
    elif pd.api.types.is_float_dtype(present):
        value_type = "float"
    text = present.map(_to_label)
    counts = text.value_counts()
    rare: list[str] = []
    weights: list[float] = []
    if levels is not None:
        kept = list(levels)
    else:
        kept = [str(v) for v, c in counts.items() if c >= settings.rare_min_count][: settings.max_levels]
        kept_set = set(kept)
        rare_counts = counts[[v not in kept_set for v in counts.index]]
        rare = [str(v) for v in rare_counts.index]
        total = float(rare_counts.sum())
        weights = [float(c) / total for c in rare_counts.to_numpy()] if total else []
    labels = kept + [NA_LABEL] + ([RARE_LABEL] if rare else [])
    return ColumnCodec(
        name=name,
        kind="categorical",
        labels=labels,
        value_type=value_type,
        rare_levels=rare,
        rare_weights=weights,
        nullable=bool(series.isna().any()),
    )


def _to_label(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _fit_text(name: str, series: pd.Series, settings: TokenizerSettings, dp: bool) -> ColumnCodec:
    present = series.dropna().astype(str)
    natural = is_natural_language(series, settings)
    pieces: list[str] = []
    if natural and not dp:
        rows_per_piece: dict[str, int] = {}
        for value in present.to_numpy():
            for piece in set(TEXT_PIECE.findall(value)):
                if len(piece) > 1:
                    rows_per_piece[piece] = rows_per_piece.get(piece, 0) + 1
        frequent = sorted((c, p) for p, c in rows_per_piece.items() if c >= settings.text_min_rows)
        # the most frequent pieces only: every text position has an output slice over the whole
        # vocabulary, and those logits (positions x vocabulary) are the cost of a text column
        pieces = sorted(p for _, p in frequent[-settings.max_text_pieces :]) if frequent else []
    chars = sorted(set(PRINTABLE) | ({c for v in present.head(20000) for c in v} if not dp else set()))
    labels = [END_LABEL, NA_LABEL] + chars + pieces
    lengths = present.map(lambda v: len(_text_pieces(v, set(pieces)))) if len(present) else pd.Series([1])
    cap = int(min(settings.max_text_tokens, max(4, math.ceil(float(lengths.quantile(0.98)) * 1.2))))
    return ColumnCodec(
        name=name,
        kind="text",
        labels=labels,
        char_level=not pieces,
        max_tokens=cap,
        nullable=bool(series.isna().any()),
    )


def _text_pieces(value: str, pieces: set[str]) -> list[str]:
    """Word pieces (natural language: a multi-character piece outside the vocabulary is dropped, so
    rare words are never learned) or characters (identifier-like columns, or DP)."""
    out: list[str] = []
    for piece in TEXT_PIECE.findall(value):
        if len(piece) > 1 and piece in pieces:
            out.append(piece)
        elif len(piece) == 1 or not pieces:
            out.extend(piece)
    return out


@dataclass
class FieldTokenizer:
    """The fitted per-column vocabularies (see module docstring)."""

    columns: list[ColumnCodec]
    order: list[int]  # encoding order: column indexes, text columns last
    vocab_size: int = 0

    # ------------------------------------------------------------------ layout
    @property
    def positions(self) -> list[Position]:
        """Every position after BOS, in encoding order (a text column repeats its slice)."""
        out: list[Position] = []
        for index in self.order:
            codec = self.columns[index]
            if codec.kind == "numeric":
                out.append(Position(index, codec.start, codec.start + codec.coarse_size))
                out.append(Position(index, codec.start + codec.coarse_size, codec.start + codec.size))
            elif codec.kind == "categorical":
                out.append(Position(index, codec.start, codec.start + codec.size))
            else:
                out += [Position(index, codec.start, codec.start + codec.size)] * codec.positions
        return out

    def forbidden(self, position: Position) -> list[int]:
        """Local indexes never to generate at ``position``: the missing token of a column that had no
        missing value, and the fine tokens a coarse bin does not use."""
        codec = self.columns[position.column]
        if codec.nullable:
            return []
        if codec.kind == "categorical":
            return [codec.labels.index(NA_LABEL)]
        if codec.kind == "numeric" and position.start == codec.start:
            return [codec.coarse_size - 1]
        if codec.kind == "text" and position.start == codec.start:
            return [codec.labels.index(NA_LABEL)]
        return []

    @property
    def fixed_positions(self) -> list[Position]:
        """The positions of the non-text columns."""
        return [p for p in self.positions if self.columns[p.column].kind != "text"]

    @property
    def text_columns(self) -> list[int]:
        """Indexes of the text columns, in encoding order."""
        return [i for i in self.order if self.columns[i].kind == "text"]

    @property
    def max_length(self) -> int:
        """Length of every encoded record including BOS."""
        return 1 + len(self.positions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "columns": [c.to_dict() for c in self.columns],
            "order": self.order,
            "vocab_size": self.vocab_size,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldTokenizer:
        """Inverse of :meth:`to_dict`."""
        return cls([ColumnCodec(**c) for c in data["columns"]], list(data["order"]), int(data["vocab_size"]))

    # ------------------------------------------------------------------ encode
    def encode(self, frame: pd.DataFrame) -> list[list[int]]:
        """Token ids of every row (BOS first); rows differ in length only through text columns."""
        n = len(frame)
        fixed = [np.full(n, BOS, dtype=np.int64)]
        for index in self.order:
            codec = self.columns[index]
            if codec.kind == "numeric":
                coarse, fine = _encode_numeric(codec, frame[codec.name])
                fixed += [coarse, fine]
            elif codec.kind == "categorical":
                fixed.append(_encode_categorical(codec, frame[codec.name]))
        matrix = np.stack(fixed, axis=1)
        rows = matrix.tolist()
        for index in self.text_columns:
            codec = self.columns[index]
            lookup = {label: codec.start + i for i, label in enumerate(codec.labels)}
            pieces = {p for p in codec.labels if len(p) > 1 and not p.startswith("<")}
            end, na = lookup[END_LABEL], lookup[NA_LABEL]
            for row, value in zip(rows, frame[codec.name].to_numpy(dtype=object), strict=True):
                if _is_missing(value):
                    row += [na] + [end] * codec.max_tokens
                    continue
                ids = [lookup[p] for p in _text_pieces(str(value), pieces) if p in lookup]
                ids = ids[: codec.max_tokens]
                row += ids + [end] * (codec.max_tokens + 1 - len(ids))
        return rows

    # ------------------------------------------------------------------ decode
    def decode(self, sequences: list[list[int]], rng: np.random.Generator) -> pd.DataFrame:
        """Records from token ids (BOS first, as :meth:`encode` writes them and generation samples)."""
        n = len(sequences)
        n_fixed = len(self.fixed_positions)
        fixed = np.array([s[1 : 1 + n_fixed] for s in sequences], dtype=np.int64).reshape(n, n_fixed)
        data: dict[str, Any] = {}
        col = 0
        for index in self.order:
            codec = self.columns[index]
            if codec.kind == "numeric":
                data[codec.name] = _decode_numeric(codec, fixed[:, col], fixed[:, col + 1], rng)
                col += 2
            elif codec.kind == "categorical":
                data[codec.name] = _decode_categorical(codec, fixed[:, col], rng)
                col += 1
        for index in self.text_columns:
            codec = self.columns[index]
            data[codec.name] = [None] * n
        for row, sequence in enumerate(sequences):
            cursor = 1 + n_fixed
            for index in self.text_columns:
                codec = self.columns[index]
                parts: list[str] = []
                missing = False
                block = sequence[cursor : cursor + codec.positions]
                cursor += codec.positions
                for position, token_id in enumerate(block):
                    token = token_id - codec.start
                    if not 0 <= token < len(codec.labels):
                        continue
                    label = codec.labels[token]
                    if label == END_LABEL:
                        break
                    if label == NA_LABEL:
                        missing = position == 0
                        break
                    parts.append(label)
                text = re.sub(r"\s{2,}", " ", "".join(parts)).strip()
                data[codec.name][row] = None if missing or not text else text
        names = [c.name for c in self.columns]
        return pd.DataFrame({name: data[name] for name in names})


def _encode_categorical(codec: ColumnCodec, series: pd.Series) -> np.ndarray:
    lookup = {label: codec.start + i for i, label in enumerate(codec.labels)}
    na = lookup[NA_LABEL]
    rare = lookup.get(RARE_LABEL, na)
    out = np.empty(len(series), dtype=np.int64)
    for i, value in enumerate(series.to_numpy(dtype=object)):
        out[i] = na if _is_missing(value) else lookup.get(_to_label(value), rare)
    return out


def _decode_categorical(codec: ColumnCodec, tokens: np.ndarray, rng: np.random.Generator) -> list[Any]:
    labels = np.array(codec.labels, dtype=object)
    local = np.clip(tokens - codec.start, 0, len(labels) - 1)
    values = labels[local].astype(object)
    rare_mask = values == RARE_LABEL
    if rare_mask.any() and codec.rare_levels:
        values[rare_mask] = rng.choice(
            np.array(codec.rare_levels, dtype=object),
            size=int(rare_mask.sum()),
            p=np.array(codec.rare_weights),
        )
    out: list[Any] = []
    for value in values:
        if value in (NA_LABEL, RARE_LABEL):
            out.append(None)
        elif codec.value_type == "int":
            out.append(int(value))
        elif codec.value_type == "float":
            out.append(float(value))
        elif codec.value_type == "bool":
            out.append(value == "true")
        else:
            out.append(value)
    return out


def _numbers(codec: ColumnCodec, series: pd.Series) -> np.ndarray:
    if codec.datetime_format:
        parsed = pd.to_datetime(series, format=codec.datetime_format, errors="coerce")
        seconds = (parsed - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)
        return seconds.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _encode_numeric(codec: ColumnCodec, series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    x = _numbers(codec, series)
    n = len(x)
    n_exact = len(codec.exact_values)
    n_bins = max(0, len(codec.coarse_edges) - 1)
    missing_token = codec.start + n_exact + n_bins
    fine_start = codec.start + codec.coarse_size
    coarse = np.full(n, missing_token, dtype=np.int64)
    fine = np.full(n, fine_start, dtype=np.int64)
    present = ~np.isnan(x)
    exact = np.array(codec.exact_values, dtype=float)
    is_exact = np.zeros(n, dtype=bool)
    if n_exact:
        pos = np.clip(np.searchsorted(exact, x), 0, n_exact - 1)
        is_exact = present & (exact[pos] == x)
        if n_bins == 0:  # exact mode: the nearest value
            left = np.clip(pos - 1, 0, n_exact - 1)
            nearest = np.where(np.abs(exact[left] - x) < np.abs(exact[pos] - x), left, pos)
            coarse[present] = codec.start + nearest[present]
            return coarse, fine
        coarse[is_exact] = codec.start + pos[is_exact]
    binned = present & ~is_exact
    if n_bins and binned.any():
        edges = np.array(codec.coarse_edges)
        which = np.clip(np.searchsorted(edges, x[binned], side="right") - 1, 0, n_bins - 1)
        coarse[binned] = codec.start + n_exact + which
        fine_edges = np.array(codec.fine_edges)
        rows = fine_edges[which]
        sub = (rows[:, 1:-1] <= x[binned][:, None]).sum(axis=1)
        fine[binned] = fine_start + np.clip(sub, 0, codec.fine_bins - 1)
    return coarse, fine


def _decode_numeric(
    codec: ColumnCodec, coarse: np.ndarray, fine: np.ndarray, rng: np.random.Generator
) -> list[Any]:
    n = len(coarse)
    n_exact = len(codec.exact_values)
    n_bins = max(0, len(codec.coarse_edges) - 1)
    local = coarse - codec.start
    values = np.full(n, np.nan)
    is_exact = (local >= 0) & (local < n_exact)
    if n_exact:
        values[is_exact] = np.array(codec.exact_values)[local[is_exact]]
    binned = (local >= n_exact) & (local < n_exact + n_bins)
    if binned.any():
        which = local[binned] - n_exact
        sub = np.clip(fine[binned] - codec.start - codec.coarse_size, 0, codec.fine_bins - 1)
        edges = np.array(codec.fine_edges)
        low, high = edges[which, sub], edges[which, sub + 1]
        step = codec.step or 10.0 ** (-codec.decimals)
        # a uniform draw on the column's grid (step) inside [low, high); the last bin includes high
        first = np.ceil(low / step - 1e-9) * step
        count = np.floor((high - first) / step + 1e-9)
        last = (which == n_bins - 1) & (sub == codec.fine_bins - 1)
        count = np.maximum(1, count + last)
        values[binned] = first + step * np.floor(rng.random(len(which)) * count)
    if codec.minimum is not None and codec.maximum is not None:
        values = np.clip(values, codec.minimum, codec.maximum)
    if not codec.datetime_format:
        values = np.round(values, codec.decimals)
    if codec.datetime_format:
        out: list[Any] = []
        for v in values:
            out.append(
                None
                if np.isnan(v)
                else (pd.Timestamp("1970-01-01") + pd.Timedelta(seconds=float(v))).strftime(
                    codec.datetime_format
                )
            )
        return out
    if codec.integer:
        return [None if np.isnan(v) else int(v) for v in values]
    return [None if np.isnan(v) else float(v) for v in values]


def fit_tokenizer(
    frame: pd.DataFrame,
    settings: TokenizerSettings | None = None,
    *,
    dp_domains: dict[str, dict[str, Any]] | None = None,
) -> FieldTokenizer:
    """Fit the per-column vocabularies on the training frame.

    ``dp_domains`` (DP runs): column -> ``{"categories": [...]}`` or ``{"minimum": a, "maximum": b}``
    from the DP schema; every vocabulary then comes from it (or is data-independent), never from
    the raw values.
    """
    settings = settings or TokenizerSettings()
    codecs: list[ColumnCodec] = []
    for name in frame.columns:
        series = frame[name]
        domain = (dp_domains or {}).get(str(name))
        codecs.append(_fit_column(str(name), series, settings, domain, dp=dp_domains is not None))
    tabular = [i for i, c in enumerate(codecs) if c.kind != "text"]
    if dp_domains is not None:
        # DP: small vocabularies first (sizes come from the DP schema, so the order is public). The
        # first position's distribution is its output bias alone, whose clipped, noisy gradient
        # is spread over its tokens: a 249-token age column first came out nearly uniform.
        tabular.sort(key=lambda i: codecs[i].size)
    order = tabular + [i for i, c in enumerate(codecs) if c.kind == "text"]
    start = FIRST_FIELD_TOKEN
    for index in order:
        codecs[index].start = start
        start += codecs[index].size
    return FieldTokenizer(codecs, order, start)


def _fit_column(
    name: str, series: pd.Series, settings: TokenizerSettings, domain: dict[str, Any] | None, dp: bool
) -> ColumnCodec:
    present = series.dropna()
    nullable = bool(series.isna().any()) or dp
    if dp and domain is not None and domain.get("categories") is not None:
        codec = _fit_categorical(name, series, settings, [str(c) for c in domain["categories"]])
        codec.value_type = domain.get("value_type", codec.value_type)
        # whether the column has a missing value is not released: the missing token stays allowed
        # (the DP schema's columns are all nullable) and its marginal target says how often
        codec.nullable = nullable
        return codec
    if pd.api.types.is_bool_dtype(present):
        codec = _fit_categorical(name, series, settings, ["true", "false"] if dp else None)
        codec.nullable = nullable
        return codec
    if pd.api.types.is_numeric_dtype(present) and len(present):
        numbers = present.to_numpy(dtype=float)
        if dp and domain is not None and "integer" in domain:
            integer = bool(domain["integer"])  # the DP schema's public kind: no look at the values
        else:
            integer = pd.api.types.is_integer_dtype(present) or bool(np.all(np.mod(numbers, 1) == 0))
        bounds = None
        if dp:
            if domain is None or domain.get("minimum") is None:
                # The DP schema found no bounds (too little budget for the data size): digits as
                # characters, a data-independent vocabulary, rather than raw quantiles.
                return _fit_text(name, series, settings, dp)
            bounds = (float(domain["minimum"]), float(domain["maximum"]))
        decimals = (
            0
            if integer
            else (int(domain.get("decimals") or 2) if dp and domain else decimals_needed(present))
        )
        return _fit_numeric(
            name, series.to_numpy(dtype=float, na_value=np.nan), nullable, settings, integer, decimals, bounds
        )
    fmt = None if dp else detect_datetime(series)
    if fmt is not None:
        probe = ColumnCodec(name=name, kind="numeric", datetime_format=fmt)
        seconds = _numbers(probe, series)
        codec = _fit_numeric(name, seconds, nullable, settings, True, 0, None)
        codec.datetime_format = fmt
        present_seconds = seconds[~np.isnan(seconds)]
        for unit in (86_400.0, 3_600.0, 60.0, 1.0):
            if np.all(np.mod(present_seconds, unit) == 0):
                codec.step = unit
                break
        return codec
    text = present.astype(str)
    if len(present) == 0:
        return _fit_categorical(name, series, settings, [])
    distinct = text.nunique()
    if not dp and distinct <= settings.max_levels and not is_natural_language(series, settings):
        counts = text.value_counts()
        covered = float(counts[counts >= settings.rare_min_count].sum()) / len(text)
        if covered >= 0.5:
            return _fit_categorical(name, series, settings, None)
    return _fit_text(name, series, settings, dp)
