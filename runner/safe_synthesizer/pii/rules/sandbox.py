"""The template sandbox: a restricted jinja2 ``SandboxedEnvironment`` and the rule filters.

Rule values are expressions (NeMo wraps them as ``{{ <value> }}``); a value that already contains
``{{`` or ``{%`` is rendered as a full template (string result). Beyond jinja's sandbox we deny
pandas I/O and callable-taking methods, module objects and Faker plumbing, bound ``*`` and ``**``
(no giant strings/numbers), and undefined names are errors (``StrictUndefined``).
"""

from __future__ import annotations

import html
import operator
import types
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

import pandas as pd
from jinja2 import StrictUndefined, nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from ..entities import ENTITY_FAKER_METHOD
from .context import CellFaker, ColumnInfo, JobContext, is_na, to_python

MAX_SEQUENCE = 1_000_000
MAX_POWER = 4096

#: pandas attributes templates may read (``vars`` templates see the frame as ``data``).
SAFE_PANDAS_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "columns",
        "shape",
        "size",
        "ndim",
        "empty",
        "dtypes",
        "dtype",
        "name",
        "index",
        "mean",
        "median",
        "min",
        "max",
        "sum",
        "std",
        "var",
        "count",
        "nunique",
        "unique",
        "value_counts",
        "quantile",
        "mode",
        "head",
        "tail",
        "tolist",
        "to_list",
        "isna",
        "notna",
        "any",
        "all",
        "abs",
        "round",
        "astype",
        "str",
        "dt",
        "iloc",
        "loc",
        "at",
        "iat",
        "keys",
        "items",
        "get",
        "len",
        "lower",
        "upper",
        "strip",
        "contains",
        "startswith",
        "endswith",
        "year",
        "month",
        "day",
    }
)

_DENIED: frozenset[str] = frozenset(
    {"tofile", "ctypes", "system", "popen", "exec", "eval", "compile", "remove", "unlink", "rmdir", "mkdir"}
)

#: Filters every job provides (NeMo's names plus ``pseudonym``).
FILTER_NAMES: tuple[str, ...] = (
    "fake",
    "hash",
    "isna",
    "normalize",
    "partial_mask",
    "date_shift",
    "detect_entities",
    "redact_entities",
    "label_entities",
    "hash_entities",
    "fake_entities",
    "pseudonym",
)


class PiiSandbox(SandboxedEnvironment):
    """jinja2 sandbox with tighter attribute, call and operator rules."""

    intercepted_binops = frozenset({"*", "**"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if isinstance(value, types.ModuleType | type) or isinstance(obj, types.ModuleType):
            return False
        if isinstance(obj, pd.DataFrame) and attr in obj.columns:
            return True  # data.amount
        if isinstance(obj, pd.DataFrame | pd.Series | pd.Index):
            return attr in SAFE_PANDAS_ATTRIBUTES
        return not (
            attr.startswith(("to_", "read_", "write", "save", "dump", "load", "open")) or attr in _DENIED
        )

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > MAX_POWER:
                raise SecurityError("exponent too large")
            return operator.pow(left, right)
        if operator_name == "*":
            for seq, count in ((left, right), (right, left)):
                too_long = (
                    isinstance(seq, str | list | tuple)
                    and isinstance(count, int)
                    and len(seq) * count > MAX_SEQUENCE
                )
                if too_long:
                    raise SecurityError("sequence too large")
            return operator.mul(left, right)
        return super().call_binop(context, operator_name, left, right)


def is_full_template(source: str) -> bool:
    """True when ``source`` is a full template (contains tags) rather than a bare expression."""
    return "{{" in source or "{%" in source


def base_environment() -> PiiSandbox:
    """A sandbox with every filter registered as a stub (for parsing and validation)."""
    env = PiiSandbox(undefined=StrictUndefined, autoescape=False)
    env.globals.pop("lipsum", None)  # lipsum(n=10**9) would be a cheap denial of service
    for name in FILTER_NAMES:
        env.filters[name] = _stub
    return env


def _stub(*_args: Any, **_kwargs: Any) -> Any:  # pragma: no cover - never called
    raise RuntimeError("validation environment")


@lru_cache(maxsize=1)
def validation_environment() -> PiiSandbox:
    """Shared parse-only environment."""
    return base_environment()


def template_source(source: str) -> str:
    """The template text a rule value stands for."""
    return source if is_full_template(source) else "{{ " + source + " }}"


def referenced_names(source: str) -> frozenset[str]:
    """Names a rule template reads (``this``, ``row``, ``index`` ...)."""
    from jinja2 import meta

    ast = validation_environment().parse(template_source(source))
    return frozenset(meta.find_undeclared_variables(ast))


def used_functions(source: str) -> list[str]:
    """Filters and ``fake.<method>`` calls a template uses (for the transforms column of the report)."""
    ast = validation_environment().parse(template_source(source))
    found: list[str] = []
    for node in ast.find_all((nodes.Filter, nodes.Getattr)):
        if isinstance(node, nodes.Filter) and node.name not in found:
            found.append(node.name)
        elif (
            isinstance(node, nodes.Getattr)
            and isinstance(node.node, nodes.Name)
            and node.node.name == "fake"
            and f"fake.{node.attr}" not in found
        ):
            found.append(f"fake.{node.attr}")
    return found or ["template"]


def job_environment(job: JobContext) -> PiiSandbox:
    """A sandbox whose filters are bound to ``job`` (its key, pseudonyms and text scanner)."""
    env = base_environment()
    filters = _make_filters(job)
    env.filters.update(filters)
    return env


def _make_filters(job: JobContext) -> dict[str, Callable[..., Any]]:
    pseudo = job.pseudonymizer
    scanner = job.scanner

    def _column(ctx: Context) -> ColumnInfo | None:
        column = ctx.get("column")
        return column if isinstance(column, ColumnInfo) else None

    @pass_context
    def fake(ctx: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        """``"<entity or Faker method>" | fake``: that Faker method, seeded by the current cell's value."""
        if not isinstance(value, str) or not value:
            raise ValueError("fake needs an entity or Faker method name (is the column's entity set?)")
        method = ENTITY_FAKER_METHOD.get(value, value)
        column = _column(ctx)
        this = ctx.get("this")
        scope = value if value in ENTITY_FAKER_METHOD else ((column.entity or column.name) if column else "-")
        return job.fake_call(scope, this, method, args, kwargs)

    def hash_filter(value: Any, salt: str = "", length: int | None = None) -> str:
        """Keyed hash (HMAC-SHA256 with the job key) as hex; optional ``salt`` and ``length``."""
        return pseudo.digest_hex("" if value is None else str(to_python(value)), str(salt), length)

    def isna(value: Any) -> bool:
        return is_na(value)

    def normalize(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return " ".join(unicodedata.normalize("NFKC", value).split())

    def partial_mask(
        value: Any, prefix: int = 0, suffix: int = 4, char: str = "*", keep_separators: bool = True
    ) -> Any:
        """Mask letters and digits except the first ``prefix`` and last ``suffix`` of them."""
        if value is None:
            return value
        text = str(to_python(value))
        positions = [i for i, c in enumerate(text) if c.isalnum() or not keep_separators]
        keep = set(positions[: max(0, prefix)]) | set(
            positions[len(positions) - max(0, suffix) :] if suffix else []
        )
        return "".join(c if (i in keep or i not in set(positions)) else char for i, c in enumerate(text))

    @pass_context
    def date_shift(ctx: Context, value: Any, min_days: int = -30, max_days: int = 30) -> Any:
        """Shift a date by a keyed number of days in ``[min_days, max_days]`` (same value, same shift)."""
        if is_na(value):
            return value
        column = _column(ctx)
        family = "date_shift:" + ((column.entity or column.name) if column else "-")
        return pseudo.shift_date(to_python(value), int(min_days), int(max_days), family)

    def _spans(text: Any, entities: Iterable[str] | str | None) -> tuple[str, list[Any]]:
        if not isinstance(text, str):
            return ("" if text is None else str(text)), []
        wanted = {entities} if isinstance(entities, str) else (set(entities) if entities else None)
        spans = [s for s in scanner.scan(text) if wanted is None or s.entity in wanted]
        return text, spans

    def _rewrite(text: str, spans: list[Any], make: Callable[[Any, str], str]) -> str:
        out: list[str] = []
        last = 0
        for span in spans:
            out.append(text[last : span.start])
            out.append(make(span, text[span.start : span.end]))
            last = span.end
        out.append(text[last:])
        return "".join(out)

    def detect_entities(text: Any, entities: Any = None) -> list[dict[str, Any]]:
        text, spans = _spans(text, entities)
        return [
            {
                "entity": s.entity,
                "start": s.start,
                "end": s.end,
                "text": text[s.start : s.end],
                "score": s.score,
            }
            for s in spans
        ]

    def redact_entities(text: Any, entities: Any = None, template: str = "<{entity}>") -> Any:
        text, spans = _spans(text, entities)
        return _rewrite(text, spans, lambda s, _orig: template.format(entity=s.entity)) if spans else text

    def label_entities(text: Any, entities: Any = None) -> Any:
        """Tags entities in place; KEEPS the original values (a labelling aid, not a replacement)."""
        text, spans = _spans(text, entities)
        return _rewrite(
            text,
            spans,
            lambda s, orig: f'<entity type="{s.entity}" value="{html.escape(orig, quote=True)}">',
        )

    def hash_entities(text: Any, entities: Any = None, length: int = 9) -> Any:
        text, spans = _spans(text, entities)
        return _rewrite(text, spans, lambda s, orig: pseudo.digest_hex(orig, s.entity, length))

    def fake_entities(text: Any, entities: Any = None, on_error: str = "redact") -> Any:
        """Replace every detected entity with its consistent pseudonym (same as in structured columns)."""
        text, spans = _spans(text, entities)

        def make(span: Any, orig: str) -> str:
            try:
                return str(pseudo.replace_text(span.entity, orig))
            except Exception:  # noqa: BLE001 - on_error decides
                if on_error == "raise":
                    raise
                if on_error == "hash":
                    return pseudo.digest_hex(orig, span.entity, 9)
                if on_error == "label":
                    return f'<entity type="{span.entity}">'
                return f"<{span.entity}>"

        return _rewrite(text, spans, make) if spans else text

    @pass_context
    def pseudonym(ctx: Context, value: Any, entity: str | None = None) -> Any:
        """Format-preserving keyed pseudonym of ``value`` as ``entity`` (default: the column's entity)."""
        if is_na(value):
            return value
        if entity is None:
            column = _column(ctx)
            entity = column.entity if column else None
        return pseudo.replace(entity, to_python(value))

    return {
        "fake": fake,
        "hash": hash_filter,
        "isna": isna,
        "normalize": normalize,
        "partial_mask": partial_mask,
        "date_shift": date_shift,
        "detect_entities": detect_entities,
        "redact_entities": redact_entities,
        "label_entities": label_entities,
        "hash_entities": hash_entities,
        "fake_entities": fake_entities,
        "pseudonym": pseudonym,
    }


def template_context(
    job: JobContext,
    *,
    this: Any,
    column: ColumnInfo | None,
    row: dict[str, Any] | None = None,
    index: Any = None,
    variables: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The names a rule template sees."""
    ctx: dict[str, Any] = {
        "this": this,
        "row": row if row is not None else {},
        "index": index,
        "column": column,
        "vars": variables or {},
        "fake": CellFaker(job, (column.entity or column.name) if column else "-", this),
        "random": job.rng,
        "globals": job.globals_dict,
    }
    if extra:
        ctx.update(extra)
    return ctx
