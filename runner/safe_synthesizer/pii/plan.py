"""The default plan (used when ``replace_pii.steps`` is omitted), written in the rule language.

One ``rows.update`` step:

1. every column classified as a PII entity -> ``this | pseudonym(column.entity)``: a realistic value of
   the same type and format, consistent per original value (keyed), persons coherent within a row;
2. every free-text column -> ``this | fake_entities``: each entity found in the text is replaced by the
   same pseudonym it gets in structured columns.

Missing cells stay missing. The engine evaluates these templates through direct "fast paths" with
exactly the filters' semantics (a test checks both give the same output).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from safe_synthesizer.config.replace_pii import RowRule, RowsStep, StepDefinition

from .entities import DETECTED_BY_DEFAULT, ENTITY_FAKER_METHOD
from .rules.context import ColumnInfo, JobContext, is_na, to_python
from .rules.sandbox import PiiSandbox

PSEUDONYM_VALUE = "this | pseudonym(column.entity)"
NOT_MISSING = "not (this | isna)"
FREE_TEXT_CONDITION = "column.free_text and not (this | isna)"
FREE_TEXT_VALUE = "this | fake_entities"


def default_steps(entities: Iterable[str] | None = None) -> list[StepDefinition]:
    """The default plan for the given entity types (default: every entity detected by default)."""
    selected = sorted(set(entities or DETECTED_BY_DEFAULT))
    return [
        StepDefinition(
            rows=RowsStep(
                update=[
                    RowRule(
                        entity=selected,
                        condition=NOT_MISSING,
                        value=PSEUDONYM_VALUE,
                        description="Replace every detected PII column with consistent, format-preserving pseudonyms.",
                    ),
                    RowRule(
                        condition=FREE_TEXT_CONDITION,
                        value=FREE_TEXT_VALUE,
                        description="Replace entities found in free text with the same pseudonyms.",
                    ),
                ]
            )
        )
    ]


def fast_paths(job: JobContext, env: PiiSandbox) -> dict[str, Callable[[Any, ColumnInfo | None], Any]]:
    """Direct implementations of the default plan's templates (and common seed forms)."""
    pseudo = job.pseudonymizer
    fake_entities = env.filters["fake_entities"]

    def pseudonym(this: Any, column: ColumnInfo | None) -> Any:
        if is_na(this):
            return this
        return pseudo.replace(column.entity if column else None, to_python(this))

    def pseudonym_batch(values: Any, column: ColumnInfo | None) -> list[Any]:
        entity = column.entity if column else None
        texts = pseudo.replace_many(entity, values)
        return [
            out if type(value) is str else pseudonym(to_python(value), column)
            for value, out in zip(values, texts, strict=True)
        ]

    pseudonym.batch = pseudonym_batch  # type: ignore[attr-defined]

    def fake_for_entity(this: Any, column: ColumnInfo | None) -> Any:
        entity = column.entity if column else None
        if not entity:
            raise ValueError("fake needs an entity or Faker method name (is the column's entity set?)")
        method = ENTITY_FAKER_METHOD.get(entity, entity)
        scope = entity if entity in ENTITY_FAKER_METHOD else (column.entity or column.name)  # type: ignore[union-attr]
        return job.fake_call(scope, this, method, (), {})

    def free_text_condition(this: Any, column: ColumnInfo | None) -> bool:
        return bool(column is not None and column.free_text) and not is_na(this)

    # The column part of the condition decides for whole columns (the engine skips the rest).
    free_text_condition.column_guard = lambda column: bool(column.free_text)  # type: ignore[attr-defined]

    return {
        PSEUDONYM_VALUE: pseudonym,
        "this | pseudonym": pseudonym,
        NOT_MISSING: lambda this, column: not is_na(this),
        FREE_TEXT_CONDITION: free_text_condition,
        FREE_TEXT_VALUE: lambda this, column: fake_entities(this),
        "column.entity | fake": fake_for_entity,
    }
