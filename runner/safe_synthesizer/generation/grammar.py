"""Structured generation: decoding constrained to the record grammar, byte by byte.

For byte-level tokenizers (the offline tiny model: one token per byte) a logits processor walks the
record grammar while the model samples. At every step only bytes that can still complete a valid
record are allowed:

* categorical and boolean fields: a prefix of one of the allowed values (a trie walk);
* integer fields: digits (and a sign) only while some integer in ``[minimum, maximum]`` still has
  the typed prefix — numeric ranges are bounded in the grammar, not checked afterwards;
* number fields: the same bound on the integer part, then at most ``decimals`` decimals;
* string fields: any byte but an unescaped separator or newline, at most ``max_length`` characters,
  at least ``min_length`` before the field may end; escapes ``\\\\ \\p \\n \\r`` are allowed;
* the field separator ``|`` after each field, ``\\n`` after the last one, then another record or EOS
  (at most ``max_records`` records per sequence).

The resulting records still go through the same parser and validator as unconstrained output, so
a rare float that ends above its maximum is counted invalid rather than trusted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..schema import ColumnSchema, TableSchema
from ..serialization import FIELD_SEPARATOR, escape_field, split_fields

SEP = ord(FIELD_SEPARATOR)
NEWLINE = ord("\n")
BACKSLASH = ord("\\")
ESCAPABLE = (ord("\\"), ord("p"), ord("n"), ord("r"))
DIGITS = tuple(range(ord("0"), ord("9") + 1))
MINUS = ord("-")
DOT = ord(".")
STRING_BYTES = tuple(b for b in range(32, 256) if b not in (SEP, BACKSLASH, 127))


def _int_prefix_feasible(prefix: str, low: float, high: float, max_digits: int) -> bool:
    """Is there an integer in [low, high] whose decimal text starts with ``prefix``?"""
    negative = prefix.startswith("-")
    digits = prefix[1:] if negative else prefix
    if not digits:
        return (low < 0) if negative else (high >= 0)
    if digits[0] == "0":  # no leading zeros: "0" is complete or nothing
        return len(digits) == 1 and not negative and low <= 0 <= high
    base = int(digits)
    for total in range(len(digits), max_digits + 1):
        scale = 10 ** (total - len(digits))
        lo, hi = base * scale, (base + 1) * scale - 1
        if total == len(digits):
            lo = hi = base
        if negative:
            lo, hi = -hi, -lo
        if hi >= low and lo <= high:
            return True
    return False


def _decimal_feasible(text: str, places: int, low: float, high: float) -> bool:
    """Can ``text`` (digits, a dot, some decimals) be completed to at most ``places`` decimals in range?"""
    typed = text.split(".", 1)[1]
    value = float(text.rstrip(".") or "0")
    room = 10.0 ** -len(typed) - 10.0**-places  # what further decimals can still add in magnitude
    lo, hi = (value - room, value) if text.startswith("-") else (value, value + room)
    return hi >= low - 1e-12 and lo <= high + 1e-12


@dataclass
class FieldRule:
    """Allowed bytes for one column, as a function of the bytes typed so far."""

    column: ColumnSchema
    choices: list[bytes] = field(default_factory=list)
    max_digits: int = 1

    @classmethod
    def for_column(cls, column: ColumnSchema) -> FieldRule:
        rule = cls(column)
        if column.kind == "categorical":
            rule.choices = [escape_field(str(c)).encode() for c in column.categories or []]
        elif column.kind == "boolean":
            rule.choices = [b"true", b"false"]
        elif column.kind in ("integer", "number"):
            bound = max(abs(column.minimum or 0), abs(column.maximum or 0))
            rule.max_digits = max(1, len(str(int(bound))))
        return rule

    def allowed(self, typed: bytes) -> tuple[list[int], bool]:
        """(allowed next bytes, whether the field may end here)."""
        column = self.column
        empty_ok = column.nullable or column.kind == "empty"
        if column.kind == "empty":
            return [], True
        if self.choices:
            nxt = {c[len(typed)] for c in self.choices if len(c) > len(typed) and c.startswith(typed)}
            can_end = typed in self.choices or (not typed and empty_ok)
            return sorted(nxt), can_end
        if column.kind in ("integer", "number"):
            return self._numeric(typed.decode(errors="replace"), empty_ok)
        return self._string(typed, empty_ok)

    def _numeric(self, text: str, empty_ok: bool) -> tuple[list[int], bool]:
        column = self.column
        low = column.minimum if column.minimum is not None else -(10**12)
        high = column.maximum if column.maximum is not None else 10**12
        places = column.decimals or 0
        if "." in text:
            decimals = text.split(".", 1)[1]
            allowed = [
                d
                for d in DIGITS
                if len(decimals) < places and _decimal_feasible(text + chr(d), places, low, high)
            ]
            can_end = bool(decimals) and low <= float(text) <= high
            return allowed, can_end
        candidates: list[int] = []
        if not text and low < 0:
            candidates.append(MINUS)
        int_low, int_high = math.trunc(low), math.trunc(high)  # the integer part of any value in range
        for digit in DIGITS:
            if _int_prefix_feasible(text + chr(digit), int_low, int_high, self.max_digits):
                candidates.append(digit)
        digits = text.lstrip("-")
        can_end = bool(digits) and low <= int(text) <= high
        if (
            column.kind == "number"
            and digits
            and places > 0
            and _decimal_feasible(text + ".", places, low, high)
        ):
            candidates.append(DOT)
        if not text and empty_ok:
            can_end = True
        return candidates, can_end

    def _string(self, typed: bytes, empty_ok: bool) -> tuple[list[int], bool]:
        column = self.column
        if typed.endswith(b"\\") and not typed.endswith(b"\\\\"):
            return list(ESCAPABLE), False
        length = len(split_fields(typed.decode(errors="replace"))[0] or "")
        max_length = column.max_length or 10_000
        allowed = list(STRING_BYTES) + [BACKSLASH] if length < max_length else []
        can_end = length >= (column.min_length or 0) and (length > 0 or empty_ok)
        return allowed, can_end


class RecordGrammar:
    """The whole record: fields in order, separators, newline, then another record or EOS.

    ``grouped``: groups of records each closed by a blank line (the grouped training text); EOS only
    after a closed group, and ``max_records`` counts records over all groups."""

    def __init__(self, schema: TableSchema, max_records: int, grouped: bool = False) -> None:
        self.rules = [FieldRule.for_column(c) for c in schema.columns]
        self.max_records = max(1, max_records)
        self.grouped = grouped

    def allowed(self, generated: bytes) -> tuple[list[int], bool]:
        """(allowed next bytes, whether EOS is allowed) after ``generated`` (the text after the prompt)."""
        records = generated.split(b"\n")
        done, current = len(records) - 1, records[-1]
        if not current and self.grouped:
            done = sum(1 for r in records[:-1] if r)
            open_group = done > 0 and bool(records[-2])  # a record just ended: a blank line closes it
            if done >= self.max_records:
                return ([NEWLINE], False) if open_group else ([], True)
            first, _ = self._field_state(0, b"")
            return ([*first, NEWLINE] if open_group else first), done > 0 and not open_group
        if not current:
            if done >= self.max_records:
                return [], True
            first, _ = self._field_state(0, b"")
            return first, done > 0
        fields = _split_unescaped(current)
        index = len(fields) - 1
        if index >= len(self.rules):
            return [NEWLINE], False
        allowed, can_end = self._field_state(index, fields[-1])
        if can_end:
            allowed = [*allowed, NEWLINE if index == len(self.rules) - 1 else SEP]
        if not allowed:  # dead end (e.g. a float pushed over its maximum): end the field anyway
            allowed = [NEWLINE if index == len(self.rules) - 1 else SEP]
        return allowed, False

    def _field_state(self, index: int, typed: bytes) -> tuple[list[int], bool]:
        return self.rules[index].allowed(typed)


def _split_unescaped(line: bytes) -> list[bytes]:
    fields, current, escaped = [], bytearray(), False
    for byte in line:
        if escaped:
            current.append(byte)
            escaped = False
        elif byte == BACKSLASH:
            current.append(byte)
            escaped = True
        elif byte == SEP:
            fields.append(bytes(current))
            current = bytearray()
        else:
            current.append(byte)
    fields.append(bytes(current))
    return fields


def byte_token_ids(tokenizer: Any) -> list[int] | None:
    """Token id of each byte value for a byte-level tokenizer with one token per byte, else None."""
    from tokenizers import pre_tokenizers

    if len(tokenizer) > 300:
        return None
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    byte_to_char = _bytes_to_unicode()
    ids = [tokenizer.convert_tokens_to_ids(byte_to_char[b]) for b in range(256)]
    if any(i is None or i == tokenizer.unk_token_id for i in ids) or len(alphabet) != 256:
        return None
    return ids


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte → printable character table (what ByteLevel pre-tokenisation uses)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


class GrammarLogitsProcessor:
    """A transformers logits processor enforcing :class:`RecordGrammar` on byte-level models."""

    def __init__(self, grammar: RecordGrammar, byte_ids: list[int], eos_id: int, prompt_length: int) -> None:
        self.grammar = grammar
        self.byte_ids = byte_ids
        self.id_to_byte = {token: b for b, token in enumerate(byte_ids)}
        self.eos_id = eos_id
        self.prompt_length = prompt_length

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        mask = torch.full_like(scores, float("-inf"))
        for row, ids in enumerate(input_ids[:, self.prompt_length :].tolist()):
            if self.eos_id in ids:
                mask[row, self.eos_id] = 0.0
                continue
            generated = bytes(self.id_to_byte.get(i, 0) for i in ids)
            allowed, eos_ok = self.grammar.allowed(generated)
            if allowed:
                mask[row, [self.byte_ids[b] for b in allowed]] = 0.0
            if eos_ok or not allowed:
                mask[row, self.eos_id] = 0.0
        return scores + mask
