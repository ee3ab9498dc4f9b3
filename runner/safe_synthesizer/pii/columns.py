"""Column classification: which PII entity a column holds, from its name and a sample of its values.

Algorithm, per column (values: up to ``max(classify.num_samples, 200)`` distinct non-placeholder
values; float columns without their ``.0``):

1. **Name hint** (:mod:`.column_names`). If at least :data:`HINT_SHARE` of the values pass the hinted
   entity's check (or an alternative's: an ``address`` column of street lines), the column is that
   entity (method ``column_name+values``).
2. **Fail closed.** Otherwise, unless the hint is weak (``state``, a lone ``card``) or the column is
   a row index, the column is still the hinted entity when at least :data:`PLAUSIBLE_SHARE` of the
   values could hold it (:meth:`.ValueChecker.plausible`: a phone column has digits, a name column
   letters); method ``column_name``, and the result carries a warning with the column, the entity
   and why the values failed (never the values). A name that says PII is not overruled by values
   we cannot parse.
3. **Values alone** (no usable hint): the first entity of :data:`VALUE_ONLY_ENTITIES` matched by at
   least :data:`VALUE_SHARE` of the values, confirmed by presidio where it has a recogniser.
4. **Free text**: NeMo's ``text`` type, repeated texts, or short values with emails/phones inside.
5. **Identifiers**: a string column that is mostly unique (:data:`IDENTIFIER_UNIQUE` of its
   non-missing cells distinct) whose values are codes, not words (:func:`.is_identifier_token`),
   is ``unique_identifier`` (method ``identifier``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from safe_synthesizer.config.replace_pii import GlobalsConfig

from .column_names import hint_is_weak, name_hint
from .entities import DETECTED_BY_DEFAULT
from .formats import PLACEHOLDERS
from .lexicons import detection_lexicon
from .values import ValueChecker, is_identifier_token

VALUE_SHARE = 0.8  # share of sampled values that must match without a name hint
HINT_SHARE = 0.6  # share needed when the column name already suggests the entity
PLAUSIBLE_SHARE = 0.5  # fail closed: share of values that could hold the hinted entity
IDENTIFIER_UNIQUE = 0.9  # distinct / non-missing cells for an identifier column
IDENTIFIER_TOKENS = 0.9  # share of sampled values that are codes
MIN_SAMPLE = 200  # distinct values sampled per column (at least classify.num_samples)
MAX_VALIDATE = 60  # values per column passed to the (slower) presidio validators
_TYPE_SAMPLE = 5000

#: Tried in this order for columns without a name hint (most specific first).
VALUE_ONLY_ENTITIES: tuple[str, ...] = (
    "email",
    "iban",
    "credit_debit_card",
    "ssn",
    "ip_address",
    "url",
    "device_identifier",
    "vehicle_identifier",
    "national_id",
    "phone_number",
    "domain_name",
    "address",
    "street_address",
    "name",
    "first_name",
    "last_name",
)
#: Also tried under a name hint when the hinted entity's values do not fit ("address" holding streets).
HINT_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "address": ("street_address",),
    "street_address": ("address",),
    "phone_number": ("fax_number",),
    "ssn": ("tax_id", "national_id"),
    "tax_id": ("national_id",),
    "national_id": ("tax_id", "ssn"),
    "first_name": ("name",),
    "last_name": ("name",),
    "name": ("last_name", "first_name"),
    "user_name": ("email",),
    "domain_name": ("url",),
    "url": ("domain_name",),
    "iban": ("account_number",),
    "account_number": ("iban",),
    "drivers_license": ("national_id",),
    "passport_number": ("national_id",),
}
# Shape checks that need presidio confirmation (sampled, capped at MAX_VALIDATE).
_NEEDS_VALIDATION = frozenset(
    {"email", "phone_number", "fax_number", "ssn", "credit_debit_card", "iban", "ip_address", "url"}
)


def column_type(series: pd.Series, values: pd.Series | None = None, n_unique: int | None = None) -> str:
    """NeMo's ``describe_field`` types: empty, binary, numeric, categorical, text, other.

    ``values`` (the non-missing cells) and ``n_unique`` may be passed when already computed.
    """
    values = series.dropna() if values is None else values
    if values.empty:
        return "empty"
    n_unique = values.nunique() if n_unique is None else n_unique
    if n_unique == 2:
        return "binary"
    if pd.api.types.is_bool_dtype(series):
        return "binary"
    if pd.api.types.is_float_dtype(series):
        return "numeric"
    if pd.api.types.is_integer_dtype(series):
        return "numeric" if n_unique > 10 or (values < 0).any() else "categorical"
    duplicate_ratio = 1.0 - n_unique / len(values)
    if duplicate_ratio >= (0.7 if len(values) <= 50 else 0.9):
        return "categorical"
    if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
        if len(values) > _TYPE_SAMPLE:  # the mean word gap of a fixed-seed sample decides large columns
            values = values.sample(_TYPE_SAMPLE, random_state=0)
        if values.astype(str).str.count(" ").mean() > 2:
            return "text"
    return "other"


@dataclass
class ColumnDetection:
    """How one column was classified (no values)."""

    column: str
    column_type: str
    entity: str | None = None
    method: str = "none"  # column_name+values | column_name | values | identifier | free_text | none
    share: float = 0.0  # share of sampled values matching the entity
    sampled: int = 0
    hint: str | None = None
    free_text: bool = False
    warning: str | None = None  # why a column was replaced although its values failed (no values)


def _sample_values(series: pd.Series, size: int, seed: int, uniques: np.ndarray | None = None) -> list[str]:
    if uniques is None:
        values = series.dropna()
        if values.empty:
            return []
        uniques = pd.unique(values.to_numpy(dtype=object))  # distinct raw values first (a C hash pass)
    if not len(uniques):
        return []
    if len(uniques) > 20 * size:  # a random subset of them is as good a pool to draw ``size`` from
        uniques = uniques[np.sort(np.random.default_rng(seed).choice(len(uniques), 20 * size, replace=False))]
    uniques = pd.unique(pd.Series(uniques, dtype=object).astype(str).str.strip())
    uniques = [u for u in uniques if u.casefold() not in PLACEHOLDERS]
    if len(uniques) <= size:
        return list(uniques)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(uniques), size=size, replace=False)
    return [uniques[i] for i in sorted(idx)]


def _share(checker: ValueChecker, entity: str, values: Sequence[str], hinted: bool) -> float:
    if not values:
        return 0.0
    shaped = [v for v in values if checker.shape(entity, v, hinted)]
    share = len(shaped) / len(values)
    if share == 0 or entity not in _NEEDS_VALIDATION:
        return share
    if hinted:
        # The column name is evidence already; presidio also rejects valid layouts (phone extensions)
        # and well-known sample values, so with a hint the shape (with our checksums) decides.
        return share
    probe = shaped[:MAX_VALIDATE]
    confirmed = sum(checker.validated(entity, v) for v in probe) / len(probe)
    return share * confirmed


def _mixed_pii_share(values: Sequence[str]) -> float:
    """Share of values containing an email, phone, SSN, card, IBAN, IP or URL somewhere inside."""
    if not values:
        return 0.0
    pattern = re.compile(
        r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}|\b\d{3}-\d{2}-\d{4}\b|\(?\b\d{3}\)?[-. ]\d{3}[-. ]\d{4}\b|"
        r"\b(?:\d[ -]?){13,19}\b|\bhttps?://\S+|\b\d{1,3}(?:\.\d{1,3}){3}\b"
    )
    return sum(bool(pattern.search(v)) for v in values) / len(values)


def _is_row_index(series: pd.Series) -> bool:
    """Integer-valued, distinct and nearly consecutive (1, 2, 3 ...): a row number, not an identifier."""
    if not (pd.api.types.is_integer_dtype(series) or pd.api.types.is_float_dtype(series)):
        return False
    values = series.dropna()
    if len(values) < 10 or (pd.api.types.is_float_dtype(series) and not np.all(np.mod(values, 1) == 0)):
        return False
    n_unique = values.nunique()
    return n_unique == len(values) and float(values.max() - values.min() + 1) <= 1.5 * n_unique


def _identifier_like(n_cells: int, n_unique: int, values: Sequence[str]) -> bool:
    if n_cells < 20 or len(values) < 10:
        return False
    if n_unique < IDENTIFIER_UNIQUE * n_cells:
        return False
    return sum(is_identifier_token(v) for v in values) >= IDENTIFIER_TOKENS * len(values)


def classify_columns(
    df: pd.DataFrame,
    globals_config: GlobalsConfig,
    *,
    seed: int = 0,
) -> dict[str, ColumnDetection]:
    """Classify every column of ``df``: entity (or none), column type, and free-text flag."""
    classify = globals_config.classify
    allowed = set(classify.entities or DETECTED_BY_DEFAULT)
    checker = ValueChecker(detection_lexicon(globals_config.locales))
    sample_size = max(classify.num_samples, MIN_SAMPLE)
    out: dict[str, ColumnDetection] = {}
    for position, column in enumerate(df.columns):
        series = df[column]
        non_missing = series.dropna()
        uniques = (
            pd.unique(non_missing.to_numpy(dtype=object)) if len(non_missing) else np.array([], dtype=object)
        )
        n_unique = len(uniques)
        det = ColumnDetection(column=str(column), column_type=column_type(series, non_missing, n_unique))
        out[str(column)] = det
        if det.column_type == "empty" or pd.api.types.is_bool_dtype(series):
            continue
        is_stringy = pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)
        is_dates = pd.api.types.is_datetime64_any_dtype(series)
        values = _sample_values(series, sample_size, seed + position, uniques)
        det.sampled = len(values)
        hint = name_hint(str(column))
        det.hint = hint
        if classify.enable_classify:
            if hint and is_dates and hint in ("date_of_birth", "card_expiry") and hint in allowed:
                det.entity, det.method, det.share = hint, "column_name+values", 1.0
                continue
            if hint and values:
                if pd.api.types.is_float_dtype(series):
                    values = [v[:-2] if v.endswith(".0") else v for v in values]
                _classify_hinted(det, str(column), series, values, hint, allowed, checker)
                if det.entity:
                    continue
            if is_stringy or pd.api.types.is_integer_dtype(series):
                for entity in VALUE_ONLY_ENTITIES if is_stringy else ("credit_debit_card",):
                    if entity not in allowed:
                        continue
                    if entity in ("first_name", "last_name") and len(values) < 10:
                        continue
                    share = _share(checker, entity, values, hinted=False)
                    if share >= VALUE_SHARE:
                        det.entity, det.method, det.share = entity, "values", round(share, 4)
                        break
        # Free text: NeMo's "text" type, but also repeated texts (typed categorical) and short columns
        # that carry emails, phones, cards ... inside their values.
        texty = bool(values) and sum(v.count(" ") for v in values) / len(values) > 2
        if (
            det.entity is None
            and is_stringy
            and (det.column_type == "text" or texty or _mixed_pii_share(values) >= 0.2)
        ):
            det.free_text = True
            det.method = "free_text"
        elif (
            det.entity is None
            and is_stringy
            and classify.enable_classify
            and "unique_identifier" in allowed
            and _identifier_like(len(non_missing), n_unique, values)
        ):
            det.entity, det.method = "unique_identifier", "identifier"
            det.share = round(sum(is_identifier_token(v) for v in values) / len(values), 4)
    return out


def _classify_hinted(
    det: ColumnDetection,
    column: str,
    series: pd.Series,
    values: list[str],
    hint: str,
    allowed: set[str],
    checker: ValueChecker,
) -> None:
    """Steps 1 and 2 of the module docstring: the hint confirmed by values, else fail closed."""
    for candidate in (hint, *HINT_ALTERNATIVES.get(hint, ())):
        if candidate not in allowed:
            continue
        share = _share(checker, candidate, values, hinted=True)
        if share >= HINT_SHARE:
            det.entity, det.method, det.share = candidate, "column_name+values", round(share, 4)
            return
    if hint not in allowed or hint_is_weak(column) or _is_row_index(series):
        return
    plausible = sum(checker.plausible(hint, v) for v in values) / len(values)
    if plausible < PLAUSIBLE_SHARE:
        return
    share = _share(checker, hint, values, hinted=True)
    det.entity, det.method, det.share = hint, "column_name", round(share, 4)
    det.warning = (
        f"column '{column}': the name says {hint} but only {share:.0%} of {len(values)} sampled values pass "
        f"the {hint} check ({checker.failure_reason(hint, values)}); replaced anyway (fail closed)"
    )
