"""Local PII detection (nothing leaves the process): the public names of the detection modules.

* :mod:`.column_names` - the entity a column's name suggests (naming styles, languages);
* :mod:`.values` - whole-value recognisers (:class:`ValueChecker`), :mod:`.national_ids` - national
  identifiers by country with their check digits;
* :mod:`.columns` - column classification (name hint, fail closed, values, free text, identifiers);
* :mod:`.text` - free-text scanning (:class:`TextScanner`);
* :mod:`.presidio_backend` - presidio and spaCy plumbing;
* :mod:`.formats` - date formats, checksums and other constants shared with the pseudonymizer.
"""

from __future__ import annotations

from .column_names import hint_is_weak, name_hint, normalise_column_name
from .columns import ColumnDetection, classify_columns, column_type
from .formats import card_issuer_known, damaged_card_digits, luhn_valid, parse_date
from .national_ids import national_id_kind
from .presidio_backend import SPACY_MODEL, spacy_model_available
from .text import KnownValues, Span, TextScanner, build_known_values, resolve_overlaps
from .values import ValueChecker

__all__ = [
    "SPACY_MODEL",
    "ColumnDetection",
    "KnownValues",
    "Span",
    "TextScanner",
    "ValueChecker",
    "build_known_values",
    "card_issuer_known",
    "classify_columns",
    "column_type",
    "damaged_card_digits",
    "hint_is_weak",
    "luhn_valid",
    "name_hint",
    "national_id_kind",
    "normalise_column_name",
    "parse_date",
    "resolve_overlaps",
    "spacy_model_available",
]
