"""Load the input table and write tables: ``.csv``, ``.jsonl``, ``.json`` and ``.parquet``.

:func:`load_table` reads the bytes once (local path, ``file://`` or ``s3://``; see
:mod:`safe_synthesizer.storage`), parses them with pandas / pyarrow and checks the result. The input
is only ever opened for reading. Every problem raises a :class:`TableError` (a
:class:`~safe_synthesizer.errors.UserInputError`, exit code 1) whose message names the file, the
line or row and what to do. Messages never contain cell values, only column names and positions.

Parsing is pandas' usual inference with one exception: CSV columns whose values look like numbers
with leading zeros (ZIP codes, account numbers: ``"02134"``) are kept as text, so no digit is lost.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import UserInputError
from .storage import S3Client, S3Location, atomic_path, parse_location, read_bytes

SUPPORTED_EXTENSIONS = (".csv", ".jsonl", ".json", ".parquet")
WRITE_EXTENSIONS = (".csv", ".jsonl", ".parquet")
_MAX_LISTED = 10
_LEADING_ZERO = re.compile(r"^[+-]?0\d")


class TableError(UserInputError):
    """The input table cannot be used as it is."""


class UnsupportedFormatError(TableError):
    """The file extension is not one of :data:`SUPPORTED_EXTENSIONS`."""


class TableParseError(TableError):
    """The file is not valid CSV / JSON / JSONL / Parquet (message names the line or row)."""


class EmptyTableError(TableError):
    """No columns or no data rows."""


class TooFewRowsError(TableError):
    """Fewer data rows than the stage needs."""


class DuplicateColumnsError(TableError):
    """Two or more columns share a name."""


class EmptyColumnError(TableError):
    """A column has no value in any row."""


# --------------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------------


def table_format(url: str | os.PathLike[str]) -> str:
    """The format (``csv``, ``jsonl``, ``json``, ``parquet``) from the extension of ``url``."""
    loc = parse_location(url)
    name = loc.key if isinstance(loc, S3Location) else loc.name
    suffix = PurePosixPath(name.split("?", 1)[0]).suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise UnsupportedFormatError(
            f"{url}: unsupported file type {suffix or '(no extension)'!r}; "
            f"use one of {', '.join(SUPPORTED_EXTENSIONS)} (convert the file, or rename it if it already is one)"
        )
    return suffix[1:]


def _listing(names: Iterable[Any]) -> str:
    names = list(names)
    shown = ", ".join(repr(str(n)) for n in names[:_MAX_LISTED])
    return shown + (f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else "")


def _duplicates(names: Iterable[Any]) -> list[Any]:
    return [name for name, count in Counter(names).items() if count > 1]


def _check_duplicates(names: Iterable[Any], source: str) -> None:
    dups = _duplicates(names)
    if dups:
        raise DuplicateColumnsError(
            f"{source}: duplicate column name(s) {_listing(dups)}; every column needs a unique name, "
            "rename or drop the duplicates"
        )


def _is_blank(value: Any) -> bool:
    """True for None, NaN/NA/NaT, blank strings and empty containers."""
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict | set | np.ndarray):
        return len(value) == 0
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def empty_columns(df: pd.DataFrame) -> list[str]:
    """Columns with no value in any row (null, NaN, or a blank string everywhere)."""
    empty = []
    for position, name in enumerate(df.columns):
        column = df.iloc[:, position]
        textual = pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)
        if column.isna().all() or (textual and all(_is_blank(v) for v in column)):
            empty.append(name)
    return empty


def validate_table(df: pd.DataFrame, source: str, *, min_rows: int = 1, min_rows_reason: str = "") -> None:
    """Check a parsed table: columns exist, names unique, no all-empty column, at least ``min_rows`` rows."""
    if len(df.columns) == 0:
        raise EmptyTableError(f"{source}: the table has no columns; check that the file holds the data")
    _check_duplicates(df.columns, source)
    if len(df) == 0:
        raise EmptyTableError(
            f"{source}: the table has columns but no data rows; check that the file holds the data"
        )
    empty = empty_columns(df)
    if empty:
        raise EmptyColumnError(
            f"{source}: column(s) {_listing(empty)} are empty in every row; drop them from the input "
            "(they carry nothing to learn) and run again"
        )
    if len(df) < min_rows:
        why = f" ({min_rows_reason})" if min_rows_reason else ""
        raise TooFewRowsError(
            f"{source}: the table has {len(df)} data row(s); at least {min_rows} are needed{why}; "
            f"add {min_rows - len(df)} or more rows"
        )


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TableParseError(
            f"{source}: line {line}: not valid UTF-8 text; save the file with UTF-8 encoding"
        ) from None


# --------------------------------------------------------------------------------------------------
# Parsers (bytes -> DataFrame)
# --------------------------------------------------------------------------------------------------


def _scan_csv(text: str, source: str) -> list[str]:
    """Check the CSV record structure with the csv module; return the header.

    Gives exact line numbers (the line where the bad record starts), catches rows with too few
    fields (which pandas would silently pad) and duplicate header names (which pandas would rename).
    """
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    previous_line = 0
    try:
        for row in reader:
            start_line, previous_line = previous_line + 1, reader.line_num
            if not row:
                continue
            if header is None:
                header = row
                _check_duplicates(header, source)
                continue
            if len(row) != len(header):
                raise TableParseError(
                    f"{source}: line {start_line}: expected {len(header)} fields, saw {len(row)}; "
                    "fix the row (quote values that contain commas) or remove it"
                )
    except csv.Error as exc:
        raise TableParseError(f"{source}: line {reader.line_num}: malformed CSV ({exc})") from None
    if header is None:
        raise EmptyTableError(f"{source}: the file is empty; it needs a header row and data rows")
    return header


def _parse_csv(data: bytes, source: str) -> pd.DataFrame:
    text = _decode(data, source)
    _scan_csv(text, source)
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str)
        keep_text = {
            name: str for name in raw.columns if raw[name].dropna().str.strip().str.match(_LEADING_ZERO).any()
        }
        return pd.read_csv(io.StringIO(text), dtype=keep_text or None)
    except pd.errors.EmptyDataError:
        raise EmptyTableError(f"{source}: the file is empty; it needs a header row and data rows") from None
    except pd.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            expected, line, saw = match.groups()
            raise TableParseError(f"{source}: line {line}: expected {expected} fields, saw {saw}") from None
        match = re.search(r"EOF inside string starting at row (\d+)", str(exc))
        if match:
            raise TableParseError(
                f"{source}: row {match.group(1)}: a quoted field is never closed; fix the quotes"
            ) from None
        raise TableParseError(f"{source}: malformed CSV (pandas could not parse it)") from None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _json_loads(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_object_pairs)


def _parse_jsonl(text: str, source: str) -> pd.DataFrame:
    records: list[dict[str, Any]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = _json_loads(line)
        except json.JSONDecodeError as exc:
            raise TableParseError(
                f"{source}: line {number}: invalid JSON ({exc.msg} at column {exc.colno}); "
                "each line must be one JSON object"
            ) from None
        except _DuplicateKey as exc:
            raise DuplicateColumnsError(
                f"{source}: line {number}: key {exc.key!r} appears twice in one record; keep one"
            ) from None
        if not isinstance(value, dict):
            raise TableParseError(
                f"{source}: line {number}: expected a JSON object ({{...}}), got {type(value).__name__}"
            )
        records.append(value)
    if not records:
        raise EmptyTableError(f"{source}: the file holds no records")
    return pd.DataFrame.from_records(records)


def _parse_json(data: bytes, source: str) -> pd.DataFrame:
    text = _decode(data, source)
    if not text.strip():
        raise EmptyTableError(f"{source}: the file is empty")
    try:
        value = _json_loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and text.lstrip().startswith("{"):
            return _parse_jsonl(text, source)  # JSON Lines saved as .json
        raise TableParseError(
            f"{source}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})"
        ) from None
    except _DuplicateKey as exc:
        raise DuplicateColumnsError(
            f"{source}: key {exc.key!r} appears twice in one object; keep one"
        ) from None
    if isinstance(value, list):
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise TableParseError(
                    f"{source}: record {index + 1}: expected a JSON object ({{...}}), got {type(item).__name__}; "
                    "the file must be an array of records"
                )
        return pd.DataFrame.from_records(value)
    if isinstance(value, dict) and value and all(isinstance(v, list) for v in value.values()):
        lengths = {len(v) for v in value.values()}
        if len(lengths) != 1:
            raise TableParseError(f"{source}: the column arrays have different lengths ({sorted(lengths)})")
        return pd.DataFrame(value)
    raise TableParseError(
        f"{source}: expected an array of records ([{{...}}, ...]) or an object of equal-length column arrays"
    )


def _parse_parquet(data: bytes, source: str) -> pd.DataFrame:
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        _check_duplicates(parquet.schema_arrow.names, source)
        table = parquet.read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise TableParseError(
            f"{source}: not a readable Parquet file ({type(exc).__name__}: {str(exc)[:200]}); "
            "the file may be truncated or corrupt, export it again"
        ) from None
    df = table.to_pandas()
    if not isinstance(df.index, pd.RangeIndex):
        named = any(name is not None for name in df.index.names)
        df = df.reset_index(drop=not named)
    return df


_PARSERS = {
    "csv": _parse_csv,
    "jsonl": lambda data, source: _parse_jsonl(_decode(data, source), source),
    "json": _parse_json,
    "parquet": _parse_parquet,
}


def parse_table(data: bytes, fmt: str, source: str) -> pd.DataFrame:
    """Parse the bytes of a table in format ``fmt`` (``csv``/``jsonl``/``json``/``parquet``)."""
    if fmt not in _PARSERS:
        raise UnsupportedFormatError(
            f"{source}: unsupported format {fmt!r}; use one of {', '.join(_PARSERS)}"
        )
    return _PARSERS[fmt](data, source)


# --------------------------------------------------------------------------------------------------
# I/O
# --------------------------------------------------------------------------------------------------


def load_table(
    url: str | os.PathLike[str],
    s3: S3Client | None = None,
    *,
    min_rows: int = 1,
    min_rows_reason: str = "",
) -> pd.DataFrame:
    """Read and check the table at ``url`` (local path, ``file://`` or ``s3://``).

    ``min_rows``: the fewest data rows accepted; the holdout and privacy metrics need
    :data:`safe_synthesizer.holdout.MIN_ROWS_FOR_HOLDOUT` (200), see
    :func:`safe_synthesizer.holdout.min_rows_required`. ``min_rows_reason`` is added to the error.
    Raises :class:`TableError` subclasses or :class:`~safe_synthesizer.errors.DataSourceError`.
    """
    source = str(url)
    fmt = table_format(url)
    data = read_bytes(url, s3)
    df = parse_table(data, fmt, source)
    validate_table(df, source, min_rows=min_rows, min_rows_reason=min_rows_reason)
    return df


def _has_carriage_return(df: pd.DataFrame) -> bool:
    return any(
        df[column].map(lambda v: isinstance(v, str) and "\r" in v).any()
        for column in df.columns
        if df[column].dtype == object or pd.api.types.is_string_dtype(df[column])
    )


def write_table(df: pd.DataFrame, local_path: str | os.PathLike[str]) -> Path:
    """Write ``df`` (without its index) as ``.csv``, ``.jsonl`` or ``.parquet``, atomically."""
    path = Path(local_path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_EXTENSIONS:
        raise UnsupportedFormatError(
            f"{path}: cannot write {suffix or 'files without extension'!r}; use {WRITE_EXTENSIONS}"
        )
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            # csv's minimal quoting only quotes the line terminator (\n): a bare \r inside a value
            # would read back as a line break, so then every text field is quoted.
            quoting = csv.QUOTE_NONNUMERIC if _has_carriage_return(df) else csv.QUOTE_MINIMAL
            df.to_csv(tmp, index=False, quoting=quoting)
        elif suffix == ".jsonl":
            df.to_json(tmp, orient="records", lines=True, force_ascii=False, date_format="iso")
        else:
            df.to_parquet(tmp, index=False, engine="pyarrow")
    return path


__all__ = [
    "SUPPORTED_EXTENSIONS",
    "WRITE_EXTENSIONS",
    "DuplicateColumnsError",
    "EmptyColumnError",
    "EmptyTableError",
    "TableError",
    "TableParseError",
    "TooFewRowsError",
    "UnsupportedFormatError",
    "empty_columns",
    "load_table",
    "parse_table",
    "table_format",
    "validate_table",
    "write_table",
]
