"""Static checks of a ``replace_pii`` config: templates, filters, Faker methods, locales, entities.

Errors (raised together as one :class:`~safe_synthesizer.pii.errors.PiiConfigError`, each with its
config path): malformed template, unknown filter or test, unknown Faker method, unknown locale.
Warnings (returned): unknown entity or column type in a selector, ``label_entities`` (keeps the
original values), a ``rows.drop`` rule without condition (drops every row it selects).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from jinja2 import TemplateSyntaxError, nodes

from safe_synthesizer.config.replace_pii import PiiReplacerConfig, StepDefinition

from ..entities import COLUMN_TYPES, ENTITY_FAKER_METHOD, KNOWN_ENTITIES
from ..errors import PiiConfigError
from .context import faker_method_exists
from .sandbox import is_full_template, template_source, validation_environment

ROOT = "replace_pii"


def _did_you_mean(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def check_template(source: str, path: str, locales: list[str]) -> tuple[list[str], list[str]]:
    """Errors and warnings for one template."""
    env = validation_environment()
    errors: list[str] = []
    warnings: list[str] = []
    try:
        ast = env.parse(template_source(source))
    except TemplateSyntaxError as exc:
        return [f"{path}: malformed template ({exc.message})"], []
    filters = sorted(env.filters)
    tests = sorted(env.tests)
    for node in ast.find_all(nodes.Filter):
        if node.name not in env.filters:
            errors.append(f"{path}: unknown filter '{node.name}'{_did_you_mean(node.name, filters)}")
            continue
        if node.name == "label_entities":
            warnings.append(f"{path}: label_entities keeps the original values in the output")
        if node.name == "fake" and isinstance(node.node, nodes.Const) and isinstance(node.node.value, str):
            method = ENTITY_FAKER_METHOD.get(node.node.value, node.node.value)
            errors.extend(_faker_errors(method, path, locales))
    for node in ast.find_all(nodes.Test):
        if node.name not in env.tests:
            errors.append(f"{path}: unknown test '{node.name}'{_did_you_mean(node.name, tests)}")
    for node in ast.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == "fake":
            errors.extend(_faker_errors(node.attr, path, locales))
    if not errors:
        try:
            if is_full_template(source):
                env.from_string(source)
            else:
                env.compile_expression(source)
        except TemplateSyntaxError as exc:
            errors.append(f"{path}: malformed template ({exc.message})")
    return errors, warnings


def _faker_errors(method: str, path: str, locales: list[str]) -> list[str]:
    missing = [loc for loc in locales if not faker_method_exists(loc, method)]
    if not missing:
        return []
    from .context import _probe_faker

    options = [m for m in dir(_probe_faker(locales[0])) if not m.startswith("_")]
    where = "" if len(missing) == len(locales) else f" for locale {missing[0]}"
    return [f"{path}: unknown Faker method '{method}'{where}{_did_you_mean(method, options)}"]


def _selectors(path: str, entity: object, type_: object) -> list[str]:
    warnings = []
    for value in entity if isinstance(entity, list) else ([entity] if entity else []):
        if value not in KNOWN_ENTITIES:
            hint = _did_you_mean(str(value), sorted(KNOWN_ENTITIES))
            warnings.append(
                f"{path}.entity: unknown entity '{value}' selects nothing unless NER emits it{hint}"
            )
    for value in type_ if isinstance(type_, list) else ([type_] if type_ else []):
        if value not in COLUMN_TYPES:
            hint = _did_you_mean(str(value), list(COLUMN_TYPES))
            warnings.append(f"{path}.type: unknown column type '{value}' selects nothing{hint}")
    return warnings


def _step_templates(step: StepDefinition, path: str) -> Iterator[tuple[str, str]]:
    for name, value in step.vars.items():
        if isinstance(value, str) and is_full_template(value):
            yield f"{path}.vars.{name}", value
    if step.columns is not None:
        for kind in ("add", "drop", "rename"):
            for j, rule in enumerate(getattr(step.columns, kind)):
                rpath = f"{path}.columns.{kind}[{j}]"
                if rule.condition is not None:
                    yield f"{rpath}.condition", rule.condition
                if rule.value is not None and (kind == "add" or is_full_template(rule.value)):
                    yield f"{rpath}.value", rule.value
    if step.rows is not None:
        for kind in ("update", "drop"):
            for j, rule in enumerate(getattr(step.rows, kind)):
                rpath = f"{path}.rows.{kind}[{j}]"
                for attr in ("condition", "foreach", "value"):
                    source = getattr(rule, attr)
                    if source is not None:
                        yield f"{rpath}.{attr}", source


def validate_config(config: PiiReplacerConfig) -> list[str]:
    """Warnings for ``config``; raises :class:`PiiConfigError` listing every error with its path."""
    from faker.config import AVAILABLE_LOCALES

    errors: list[str] = []
    warnings: list[str] = []
    locales = list(config.globals.locales)
    for i, locale in enumerate(locales):
        if locale not in AVAILABLE_LOCALES:
            errors.append(
                f"{ROOT}.globals.locales[{i}]: unknown locale '{locale}'"
                f"{_did_you_mean(locale, sorted(AVAILABLE_LOCALES))}"
            )
    good_locales = [loc for loc in locales if loc in AVAILABLE_LOCALES] or ["en_US"]
    for k, entity in enumerate(config.globals.classify.entities or []):
        if entity not in KNOWN_ENTITIES:
            warnings.append(
                f"{ROOT}.globals.classify.entities[{k}]: no column classifier for entity '{entity}'"
            )
    for i, step in enumerate(config.steps or []):
        spath = f"{ROOT}.steps[{i}]"
        for tpath, source in _step_templates(step, spath):
            errs, warns = check_template(source, tpath, good_locales)
            errors.extend(errs)
            warnings.extend(warns)
        if step.columns is not None:
            for kind in ("add", "drop", "rename"):
                for j, rule in enumerate(getattr(step.columns, kind)):
                    warnings.extend(_selectors(f"{spath}.columns.{kind}[{j}]", rule.entity, rule.type))
        if step.rows is not None:
            for kind in ("update", "drop"):
                for j, rule in enumerate(getattr(step.rows, kind)):
                    rpath = f"{spath}.rows.{kind}[{j}]"
                    warnings.extend(_selectors(rpath, rule.entity, rule.type))
                    if kind == "update" and rule.value is None:
                        errors.append(f"{rpath}.value: rows.update needs a value")
                    if kind == "drop" and rule.condition is None:
                        warnings.append(
                            f"{rpath}: no condition; drops every row where a selected column has a value"
                        )
    if errors:
        raise PiiConfigError(errors)
    return warnings
