"""PII detection and replacement, fully offline (NeMo Safe Synthesizer's ``replace_pii`` rule language).

Public API::

    replace_pii(df, config, *, key, protected_columns=(), progress=None) -> PiiResult
    validate_pii_config(config) -> list[str]          # warnings; raises PiiConfigError
    PiiResult.data / .column_stats / .summary() / .replay_input()

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
