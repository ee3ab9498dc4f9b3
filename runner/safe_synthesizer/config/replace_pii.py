"""PII replacement configuration, compatible with NeMo Safe Synthesizer's rule language.

Shape: ``{globals: {...}, steps: [{vars, columns: {add, drop, rename}, rows: {update, drop}}]}``.
Older forms accepted and normalised: ``globals.ner.enable_gliner`` → ``globals.ner.gliner.enable_gliner``
and ``globals.ner.entities`` → ``globals.ner.ner_entities``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from .base import Parameters

DEFAULT_ENTITIES: tuple[str, ...] = (
    "first_name",
    "last_name",
    "name",
    "street_address",
    "city",
    "state",
    "postcode",
    "address",
    "phone_number",
    "fax_number",
    "email",
    "ssn",
    "national_id",
    "tax_id",
    "credit_debit_card",
)

_LOCALE_SHAPE = re.compile(r"^[a-z]{2,3}(_[A-Z][A-Za-z]{1,3})?$")


def _faker_locales() -> frozenset[str] | None:
    try:
        from faker.config import AVAILABLE_LOCALES
    except ImportError:  # faker is a base dependency; this guards odd installs only
        return None
    return frozenset(AVAILABLE_LOCALES)


class ClassifyConfig(Parameters):
    """Column classification. Ours runs locally (names + value recognisers); nothing leaves the pod."""

    enable_classify: bool = Field(True, description="Classify columns into PII entity types.")
    entities: list[str] | None = Field(
        None, description="Entity types to classify columns into; default: the 15 default entities."
    )
    num_samples: int = Field(3, gt=0, le=1000, description="Values sampled per column for classification.")
    classify_model_provider: str | None = Field(
        None,
        description="Accepted for NeMo compatibility, no effect: column classification never calls a "
        "remote model here.",
    )


class GlinerConfig(Parameters):
    """GLiNER NER settings; GLiNER runs only when its model is available locally."""

    enable_gliner: bool = Field(True, description="Use GLiNER for free-text NER when its model is installed.")
    enable_batch_mode: bool = Field(
        True, description="Accepted for NeMo compatibility, no effect: GLiNER predicts one chunk at a time."
    )
    batch_size: int = Field(8, gt=0, le=1024, description="GLiNER batch size.")
    chunk_length: int = Field(512, gt=0, le=100000, description="Characters per text chunk.")
    gliner_model: str = Field("nvidia/gliner-PII", description="GLiNER model id or local path.")


class NerConfig(Parameters):
    """Named-entity recognition over free-text cells."""

    ner_threshold: float = Field(0.3, ge=0.0, le=1.0, description="Minimum NER confidence to accept a span.")
    enable_regexps: bool = Field(
        False, description="Also run the pattern (regex + checksum) recognisers on text."
    )
    gliner: GlinerConfig = Field(default_factory=GlinerConfig, description="GLiNER settings.")
    ner_entities: list[str] | None = Field(
        None, description="Entity types to detect in free text; default: the default entities."
    )

    enable_gliner: bool | None = Field(
        None, exclude=True, description="Deprecated older place of gliner.enable_gliner."
    )
    entities: list[str] | None = Field(
        None, exclude=True, description="Deprecated older name of ner_entities."
    )

    @model_validator(mode="after")
    def _normalize_older_forms(self) -> NerConfig:
        if self.enable_gliner is not None:
            if "enable_gliner" not in self.gliner.model_fields_set:
                object.__setattr__(self.gliner, "enable_gliner", self.enable_gliner)
                self.gliner.model_fields_set.add("enable_gliner")
            object.__setattr__(self, "enable_gliner", None)
        if self.entities is not None:
            if "ner_entities" not in self.model_fields_set:
                object.__setattr__(self, "ner_entities", self.entities)
                self.model_fields_set.add("ner_entities")
            object.__setattr__(self, "entities", None)
        return self


class GlobalsConfig(Parameters):
    """Settings shared by every step."""

    locales: list[str] = Field(
        default_factory=lambda: ["en_US"], min_length=1, max_length=20, description="Faker locales."
    )
    seed: int | None = Field(
        None,
        ge=-(2**31),
        le=2**31 - 1,
        description="Seed for fake values. Replacement consistency is keyed by the per-job secret key.",
    )
    classify: ClassifyConfig = Field(default_factory=ClassifyConfig, description="Column classification.")
    ner: NerConfig = Field(default_factory=NerConfig, description="Free-text entity recognition.")
    lock_columns: list[str] = Field(
        default_factory=list, description="Columns never rewritten unless a rule names them explicitly."
    )

    @field_validator("locales")
    @classmethod
    def _known_locales(cls, locales: list[str]) -> list[str]:
        available = _faker_locales()
        for locale in locales:
            if not _LOCALE_SHAPE.match(locale) or (available is not None and locale not in available):
                raise ValueError(f"unknown locale {locale!r}; use a Faker locale such as 'en_US' or 'de_DE'")
        return locales


StrOrList = str | list[str]


class ColumnRule(Parameters):
    """Selects columns (by name, position, condition, entity or type) for add/drop/rename."""

    name: StrOrList | None = Field(None, description="Column name(s).")
    position: int | list[int] | None = Field(None, description="Column position(s), 0-based.")
    condition: str | None = Field(None, description="Template expression that must be true for the column.")
    entity: StrOrList | None = Field(None, description="Detected entity type(s).")
    type: StrOrList | None = Field(None, description="Column type(s): numeric, categorical, text, ...")
    value: str | None = Field(None, description="New column name (rename) or value template (add).")

    @model_validator(mode="after")
    def _has_selector(self) -> ColumnRule:
        if all(getattr(self, f) is None for f in ("name", "position", "condition", "entity", "type")):
            raise ValueError("a column rule needs one of name, position, condition, entity or type")
        return self


class RowRule(Parameters):
    """Selects cells (by column name, entity, type or condition) and sets their value from a template."""

    name: StrOrList | None = Field(None, description="Column name(s) the rule applies to.")
    entity: StrOrList | None = Field(None, description="Entity type(s) the rule applies to.")
    type: StrOrList | None = Field(None, description="Column type(s) the rule applies to.")
    condition: str | None = Field(None, description="Template expression selecting rows.")
    value: str | None = Field(None, description="Template for the new value, e.g. 'column.entity | fake'.")
    fallback_value: Any = Field(None, description="Value used when the template fails.")
    foreach: str | None = Field(None, description="Template yielding items; `value` is applied per item.")
    description: str | None = Field(None, description="Free text for humans.")

    @model_validator(mode="after")
    def _has_selector(self) -> RowRule:
        if all(getattr(self, f) is None for f in ("name", "entity", "type", "condition")):
            raise ValueError("a row rule needs one of name, entity, type or condition")
        if self.foreach is not None and self.value is None:
            raise ValueError("foreach needs a value")
        return self


class ColumnsStep(Parameters):
    """Column-level edits of one step."""

    add: list[ColumnRule] = Field(default_factory=list, max_length=1000, description="Columns to add.")
    drop: list[ColumnRule] = Field(default_factory=list, max_length=1000, description="Columns to drop.")
    rename: list[ColumnRule] = Field(default_factory=list, max_length=1000, description="Columns to rename.")


class RowsStep(Parameters):
    """Row-level edits of one step."""

    update: list[RowRule] = Field(default_factory=list, max_length=1000, description="Cell updates.")
    drop: list[RowRule] = Field(default_factory=list, max_length=1000, description="Rows to drop.")


class StepDefinition(Parameters):
    """One transform step: variables, then column edits, then row edits."""

    vars: dict[str, Any] = Field(default_factory=dict, description="Template variables for this step.")
    columns: ColumnsStep | None = Field(None, description="Column edits.")
    rows: RowsStep | None = Field(None, description="Row edits.")


class PiiReplacerConfig(Parameters):
    """PII detection and replacement. With no steps, a default plan replaces every detected entity."""

    globals: GlobalsConfig = Field(default_factory=GlobalsConfig, description="Global options.")
    steps: list[StepDefinition] | None = Field(
        None,
        min_length=1,
        max_length=10,
        description="1 to 10 transform steps. Omit for the default plan (replace every detected entity).",
    )
