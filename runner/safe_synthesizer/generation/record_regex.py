"""The record grammar as a regular expression, for engines that constrain decoding by regex.

Tokenizers that are not one-token-per-byte (SmolLM2, TinyLlama, any BPE model) cannot use the
byte-level processor of :mod:`.grammar`; they get the same grammar as a regex instead: xgrammar
compiles it against the tokenizer on the transformers path, vLLM's structured outputs on the vLLM
path. Per column (``|`` between fields, ``\\n`` after the last; 1 to ``max_records`` records)::

    categorical   (?:v1|v2|...)                  the escaped allowed values
    boolean       (?:true|false)
    integer       the exact range [minimum, maximum] as digit patterns (no leading zeros)
    number        integer part in [trunc(minimum), trunc(maximum)], then up to ``decimals`` decimals
    string        (?:[^|\\\\\\n\\r]|\\\\[\\\\pnr]){min_length,max_length}   (unbounded above 512)
    empty         nothing
    nullable      (?:field)?

A number whose integer part sits on a bound can still overshoot it by its decimals (``maximum`` 9.5
allows ``9.7``): as with the byte grammar, every record is validated afterwards and such a record is
counted invalid, never trusted.
"""

from __future__ import annotations

import math
import re

from ..schema import ColumnSchema, TableSchema
from ..serialization import escape_field

UNBOUNDED_DIGITS = 15  # an unbounded numeric column: at most this many integer digits
STRING_REPEAT_LIMIT = 512  # above this a string's length bound is left to validation
DEFAULT_DECIMALS = 6
STRING_UNIT = r"(?:[^|\\\n\r]|\\[\\pnr])"


def _same_length_blocks(low: int, high: int) -> list[tuple[int, int]]:
    """Split ``[low, high]`` (same digit count, >= 0) into blocks ``p[x-y][0-9]{k}``."""
    blocks = []
    start = low
    while start <= high:
        k = 0
        while start % 10 ** (k + 1) == 0 and start + 10 ** (k + 1) - 1 <= high:
            k += 1
        step = 10**k
        end = start + step - 1
        while (end + 1) % 10 ** (k + 1) != 0 and end + step <= high:
            end += step
        blocks.append((start, end))
        start = end + 1
    return blocks


def _block_pattern(low: int, high: int) -> str:
    a, b = str(low), str(high)
    i = next((j for j in range(len(a)) if a[j] != b[j]), len(a))
    if i == len(a):
        return a
    rest = len(a) - i - 1
    head = a[:i] + (f"[{a[i]}-{b[i]}]" if a[i] != b[i] else a[i])
    return head + (f"[0-9]{{{rest}}}" if rest > 1 else "[0-9]" if rest == 1 else "")


def nonnegative_range_regex(low: int, high: int) -> str:
    """Alternatives matching exactly the decimal texts of the integers in ``[low, high]`` (``low >= 0``)."""
    parts = []
    for digits in range(len(str(low)), len(str(high)) + 1):
        lo = max(low, 10 ** (digits - 1) if digits > 1 else 0)
        hi = min(high, 10**digits - 1)
        if lo <= hi:
            parts.extend(_block_pattern(a, b) for a, b in _same_length_blocks(lo, hi))
    return "|".join(parts)


def int_range_regex(low: int, high: int) -> str:
    """A group matching exactly the integers in ``[low, high]`` as ``format_value`` writes them."""
    if low > high:
        raise ValueError(f"empty range [{low}, {high}]")
    parts = []
    if low < 0:
        parts.append(f"-(?:{nonnegative_range_regex(max(1, -high), -low)})")
    if high >= 0:
        parts.append(nonnegative_range_regex(max(0, low), high))
    return "(?:" + "|".join(parts) + ")"


def _numeric(column: ColumnSchema) -> str:
    unbounded = f"-?(?:0|[1-9][0-9]{{0,{UNBOUNDED_DIGITS - 1}}})"
    low, high = column.minimum, column.maximum
    if column.kind == "integer":
        if low is None or high is None:
            return unbounded
        return int_range_regex(math.ceil(low), math.floor(high))
    places = DEFAULT_DECIMALS if column.decimals is None else column.decimals
    decimals = f"(?:\\.[0-9]{{1,{places}}})?" if places > 0 else ""
    if low is None or high is None:
        return unbounded + decimals
    integer_part = int_range_regex(math.trunc(low), math.trunc(high))
    if places > 0 and low < 0 < 1 + low:  # values in (-1, 0) are written "-0.x"
        return f"(?:{integer_part}{decimals}|-0\\.[0-9]{{1,{places}}})"
    return integer_part + decimals


def field_regex(column: ColumnSchema) -> str:
    """The regex of one field's text (see the module docstring)."""
    if column.kind == "empty":
        return ""
    if column.kind == "categorical":
        values = sorted({escape_field(str(c)) for c in column.categories or []}, key=lambda v: (-len(v), v))
        body = "(?:" + "|".join(re.escape(v) for v in values) + ")" if values else ""
    elif column.kind == "boolean":
        body = "(?:true|false)"
    elif column.kind in ("integer", "number"):
        body = _numeric(column)
    else:
        low = column.min_length or 0
        high = column.max_length
        if high is not None and high <= STRING_REPEAT_LIMIT:
            body = f"{STRING_UNIT}{{{low},{high}}}"
        else:
            body = f"{STRING_UNIT}{{{low},}}" if low else f"{STRING_UNIT}*"
    if not body:
        return ""
    return f"(?:{body})?" if column.nullable else body


def record_regex(schema: TableSchema, max_records: int, grouped: bool = False) -> str:
    """One to ``max_records`` records, each ending with a newline; ``grouped``: one or more groups
    of records, each closed by a blank line (the token limit bounds their number)."""
    record = r"\|".join(field_regex(c) for c in schema.columns) + r"\n"
    if grouped:
        return f"(?:(?:{record})+\\n)+"
    return f"(?:{record}){{1,{max(1, max_records)}}}"
