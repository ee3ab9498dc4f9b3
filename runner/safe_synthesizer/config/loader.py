"""Loading job documents and turning validation failures into clear, complete error lists.

A document is one of:

* a ``SafeSynthesizerJob`` manifest (``kind: SafeSynthesizerJob``),
* a NeMo REST job request (``{name, spec: {data_source, config}}``), normalised into a manifest,
* a bare config (``SafeSynthesizerParameters``: ``training``, ``generation``, ...).

Every error is reported at once with its path, e.g.
``spec.config.training.lora_r: must be > 0, got -3``; unknown fields get a "did you mean".
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .job import KIND, SafeSynthesizerJob, normalize_rest_job_request
from .parameters import SafeSynthesizerParameters


@dataclass(frozen=True)
class FieldError:
    """One validation problem at one path."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(ValueError):
    """A document failed validation; ``errors`` lists every problem."""

    def __init__(self, errors: list[FieldError], source: str = "") -> None:
        self.errors = errors
        self.source = source
        lines = "\n".join(f"  {e}" for e in errors)
        super().__init__(f"{source + ': ' if source else ''}{len(errors)} error(s)\n{lines}")


def _unwrap_models(annotation: Any) -> list[type[BaseModel]]:
    """The BaseModel classes reachable from a field annotation (through Optional, Union, list, dict)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap_models(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, dict, tuple):
        found: list[type[BaseModel]] = []
        for arg in typing.get_args(annotation):
            found.extend(_unwrap_models(arg))
        return found
    return []


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Follow ``loc`` through nested models; the model class that owns the last element."""
    current: type[BaseModel] | None = root
    for part in loc[:-1]:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        models = _unwrap_models(field.annotation)
        current = models[0] if models else None
    return current


def suggest_field(name: str, candidates: list[str]) -> str | None:
    """The closest valid field name, if any is close enough."""
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower().replace("_", ""): c for c in candidates}
        key = name.lower().replace("_", "").replace("-", "")
        return lowered.get(key)
    return matches[0]


def _describe(error: dict[str, Any], root: type[BaseModel]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    got = f", got {given!r}" if not isinstance(given, dict | list) else ""
    if kind == "extra_forbidden":
        owner = _model_at(root, tuple(error["loc"]))
        name = str(error["loc"][-1])
        hint = ""
        if owner is not None:
            match = suggest_field(name, list(owner.model_fields))
            if match:
                hint = f"; did you mean {match!r}?"
            else:
                hint = f"; valid fields: {', '.join(sorted(owner.model_fields))}"
        return f"unknown field{hint}"
    if kind == "missing":
        return "required field is missing"
    simple = {
        "greater_than": "must be > {gt}",
        "greater_than_equal": "must be >= {ge}",
        "less_than": "must be < {lt}",
        "less_than_equal": "must be <= {le}",
        "too_short": "must have at least {min_length} item(s)",
        "too_long": "must have at most {max_length} item(s)",
        "string_too_short": "must be at least {min_length} character(s)",
        "string_too_long": "must be at most {max_length} characters",
        "string_pattern_mismatch": "must match {pattern}",
        "literal_error": "must be one of {expected}",
    }
    if kind in simple:
        return simple[kind].format(**ctx) + got
    message = str(error.get("msg", kind))
    message = message.removeprefix("Value error, ")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"{message[0].lower()}{message[1:]}{got}"
    return message


_UNION_TAG = re.compile(r"^(literal\[|function-|constrained-|list\[|dict\[|tuple\[|(int|float|bool|str)$)")


def _dedupe_union_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic reports one error per union branch (e.g. ``'auto'`` and ``int``); keep one per path.

    When one of the branches was the ``"auto"`` literal, the kept error says "'auto' or ...".
    """
    by_path: dict[tuple[Any, ...], dict[str, Any]] = {}
    order: list[tuple[Any, ...]] = []
    for error in errors:
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and _UNION_TAG.match(p)))
        error = {**error, "loc": loc}
        if loc not in by_path:
            by_path[loc] = error
            order.append(loc)
            continue
        kept = by_path[loc]
        auto = _is_auto_literal_error(kept) or _is_auto_literal_error(error)
        other = error if _is_auto_literal_error(kept) else kept
        by_path[loc] = {**other, "or_auto": auto or other.get("or_auto", False)}
    return [by_path[loc] for loc in order]


def _is_auto_literal_error(error: dict[str, Any]) -> bool:
    return error["type"] == "literal_error" and "'auto'" in str((error.get("ctx") or {}).get("expected"))


def errors_from_validation(exc: ValidationError, root: type[BaseModel], prefix: str = "") -> list[FieldError]:
    """Translate a pydantic ``ValidationError`` into path-qualified ``FieldError``s."""
    result: list[FieldError] = []
    for error in _dedupe_union_errors(exc.errors(include_url=False)):
        parts = [prefix] if prefix else []
        for part in error["loc"]:
            if isinstance(part, int):
                parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
            else:
                parts.append(str(part))
        message = _describe(error, root)
        if error.get("or_auto"):
            if message.startswith("must be "):
                message = "must be 'auto' or " + message.removeprefix("must be ")
            else:
                expected = {"int": "an integer", "float": "a number", "bool": "true or false"}
                word = expected.get(error["type"].split("_")[0], "a valid value")
                given = error.get("input")
                message = f"must be 'auto' or {word}, got {given!r}"
        result.append(FieldError(".".join(parts), message))
    return result


def is_manifest(doc: dict[str, Any]) -> bool:
    """A ``SafeSynthesizerJob`` manifest (as opposed to a bare config)."""
    return doc.get("kind") == KIND or "apiVersion" in doc


def is_rest_request(doc: dict[str, Any]) -> bool:
    """A NeMo REST job request: ``{name?, project?, spec: {data_source?, config?}}`` without apiVersion."""
    spec = doc.get("spec")
    return "apiVersion" not in doc and isinstance(spec, dict) and ("data_source" in spec or "config" in spec)


def parse_document(doc: Any, source: str = "") -> SafeSynthesizerJob | SafeSynthesizerParameters:
    """Validate one document; raises :class:`ConfigError` listing every problem."""
    if not isinstance(doc, dict):
        raise ConfigError([FieldError("", f"expected a mapping, got {type(doc).__name__}")], source)
    if is_rest_request(doc):
        doc = normalize_rest_job_request(doc)
    if is_manifest(doc):
        errors: list[FieldError] = []
        if doc.get("kind") != KIND:
            errors.append(FieldError("kind", f"must be {KIND!r}, got {doc.get('kind')!r}"))
        try:
            job = SafeSynthesizerJob.model_validate(doc)
        except ValidationError as exc:
            errors.extend(e for e in errors_from_validation(exc, SafeSynthesizerJob) if e.path != "kind")
            raise ConfigError(errors, source) from None
        if errors:
            raise ConfigError(errors, source)
        return job
    try:
        return SafeSynthesizerParameters.model_validate(doc)
    except ValidationError as exc:
        raise ConfigError(errors_from_validation(exc, SafeSynthesizerParameters), source) from None


def read_documents(path: str | Path) -> list[tuple[str, Any]]:
    """Read YAML (multi-document) or JSON; returns ``(label, document)`` pairs; skips empty documents."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return [(str(path), json.loads(text))]
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    if len(docs) == 1:
        return [(str(path), docs[0])]
    return [(f"{path}#{i + 1}", d) for i, d in enumerate(docs)]


def load_job_or_config(path: str | Path) -> SafeSynthesizerJob | SafeSynthesizerParameters:
    """Load the single document in ``path`` (the first one, if several)."""
    docs = read_documents(path)
    if not docs:
        raise ConfigError([FieldError("", "the file holds no document")], str(path))
    label, doc = docs[0]
    return parse_document(doc, label)
