"""Executes NeMo-style rule steps on a DataFrame.

Per step: ``vars`` (string values rendered as templates with ``data`` = the frame, then read as Python
literals when they are), then ``columns`` (``add``, ``drop``, ``rename``), then ``rows`` (``update``,
``drop``). Selectors combine with AND; a row rule without ``name``/``entity``/``type`` looks at every
column. Protected columns (pipeline structure columns and ``globals.lock_columns``) are skipped unless
the rule names them in ``name``. Missing cells stay missing unless the rule has a ``condition``.

Templates that read only ``this``/``column``/``vars``/``fake``/``globals`` are evaluated once per
distinct value of a column (the result is a function of the value: ``fake`` is seeded by the keyed hash
of the cell value), which is what makes large frames fast.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from jinja2.runtime import Undefined

from safe_synthesizer.config.replace_pii import ColumnRule, RowRule, StepDefinition

from ..errors import PiiConfigError
from .context import ColumnInfo, JobContext, is_na, to_python
from .sandbox import PiiSandbox, is_full_template, referenced_names, template_context, used_functions

logger = logging.getLogger("safe_synthesizer.pii")

_ROW_NAMES = frozenset({"row", "index", "random", "item", "items"})
_NOT_MISSING_FORMS = frozenset({"not (this | isna)", "not this | isna"})


@dataclass
class ColumnMeta:
    """What the engine knows about a current column."""

    info: ColumnInfo
    origin: str | None  # input column name; None for added columns
    protected: bool = False
    transforms: list[str] = field(default_factory=list)
    cells_replaced: int = 0


@dataclass
class CompiledTemplate:
    """A rule template ready to evaluate."""

    source: str
    per_value: bool  # result depends only on the cell value (and column, vars)
    functions: list[str]
    evaluate: Callable[..., Any]
    column_guard: Callable[[ColumnInfo], bool] | None = None  # False: the template is false for every cell
    #: The same function over a column's distinct values at once (``evaluate`` of each, in order).
    batch: Callable[[np.ndarray, ColumnInfo | None], list[Any]] | None = None


def _as_list(value: Any) -> list[Any] | None:
    if value is None:
        return None
    return list(value) if isinstance(value, list | tuple) else [value]


def _same(a: Any, b: Any) -> bool:
    if is_na(a) and is_na(b):
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


class RuleEngine:
    """Runs rule steps for one job."""

    def __init__(
        self,
        job: JobContext,
        env: PiiSandbox,
        meta: dict[str, ColumnMeta],
        fast_paths: dict[str, Callable[[Any, ColumnInfo], Any]] | None = None,
        warn_unused_rules: bool = True,
    ) -> None:
        self.job = job
        self.warn_unused_rules = warn_unused_rules
        self.env = env
        self.meta = meta
        self.fast_paths = fast_paths or {}
        self.warnings: list[str] = []
        self.rows_dropped = 0
        self.dropped: list[str] = []
        self._compiled: dict[str, CompiledTemplate] = {}
        self.variables: dict[str, Any] = {}

    # ------------------------------------------------------------------ templates
    def compile(self, source: str) -> CompiledTemplate:
        """Compile (cached) a rule value or condition."""
        hit = self._compiled.get(source)
        if hit is not None:
            return hit
        names = referenced_names(source)
        per_value = not (names & _ROW_NAMES)
        functions = used_functions(source)
        normalised = " ".join(source.split())
        fast = self.fast_paths.get(normalised)
        if fast is not None:

            def evaluate(this: Any, column: ColumnInfo | None, **_: Any) -> Any:
                return fast(this, column)  # type: ignore[arg-type]

        elif is_full_template(source):
            template = self.env.from_string(source)

            def evaluate(this: Any, column: ColumnInfo | None, **kw: Any) -> Any:
                return template.render(template_context(self.job, this=this, column=column, **kw))

        else:
            expression = self.env.compile_expression(source, undefined_to_none=False)

            def evaluate(this: Any, column: ColumnInfo | None, **kw: Any) -> Any:
                result = expression(**template_context(self.job, this=this, column=column, **kw))
                if isinstance(result, Undefined):
                    result._fail_with_undefined_error()
                return result

        guard = getattr(fast, "column_guard", None) if fast is not None else None
        batch = getattr(fast, "batch", None) if fast is not None else None
        compiled = CompiledTemplate(source, per_value, functions, evaluate, guard, batch)
        self._compiled[source] = compiled
        return compiled

    # ------------------------------------------------------------------ steps
    def run(
        self, df: pd.DataFrame, steps: Sequence[StepDefinition], path: str = "replace_pii.steps"
    ) -> pd.DataFrame:
        """Apply ``steps`` to ``df`` (a copy the caller owns) and return the result."""
        for i, step in enumerate(steps):
            spath = f"{path}[{i}]"
            self._vars(df, step, spath)
            if step.columns is not None:
                for j, rule in enumerate(step.columns.add):
                    df = self._add_column(df, rule, f"{spath}.columns.add[{j}]")
                for j, rule in enumerate(step.columns.drop):
                    df = self._drop_columns(df, rule, f"{spath}.columns.drop[{j}]")
                for j, rule in enumerate(step.columns.rename):
                    df = self._rename_columns(df, rule, f"{spath}.columns.rename[{j}]")
            if step.rows is not None:
                for j, rule in enumerate(step.rows.update):
                    df = self._update(df, rule, f"{spath}.rows.update[{j}]")
                for j, rule in enumerate(step.rows.drop):
                    df = self._drop_rows(df, rule, f"{spath}.rows.drop[{j}]")
        return df

    def _warn(self, message: str) -> None:
        if not self.warn_unused_rules and message.endswith(("selects no column", "selects no cell")):
            return
        self.warnings.append(message)
        logger.warning("replace_pii: %s", message)

    def _vars(self, df: pd.DataFrame, step: StepDefinition, path: str) -> None:
        for name, value in step.vars.items():
            if isinstance(value, str) and is_full_template(value):
                try:
                    rendered = self.env.from_string(value).render(
                        data=df, vars=self.variables, globals=self.job.globals_dict, random=self.job.rng
                    )
                except Exception as exc:  # noqa: BLE001 - reported with its path, without values
                    raise PiiConfigError(
                        f"{path}.vars.{name}: template failed ({type(exc).__name__})"
                    ) from None
                try:
                    value = ast.literal_eval(rendered.strip())
                except (ValueError, SyntaxError):
                    value = rendered
            self.variables[name] = value

    # ------------------------------------------------------------------ selection
    def _select(self, df: pd.DataFrame, rule: ColumnRule | RowRule, path: str) -> list[str]:
        names = _as_list(rule.name)
        entities = _as_list(rule.entity)
        types = _as_list(rule.type)
        positions = _as_list(getattr(rule, "position", None))
        explicit = {str(n) for n in names} if names else set()
        selected: list[str] = []
        for pos, column in enumerate(df.columns):
            meta = self.meta[column]
            if names is not None and column not in explicit:
                continue
            if entities is not None and meta.info.entity not in entities:
                continue
            if types is not None and meta.info.type not in types:
                continue
            if positions is not None and pos not in positions:
                continue
            if meta.protected and column not in explicit:
                continue
            if meta.protected:
                self._warn(f"{path}: rewrites protected column '{column}' because the rule names it")
            selected.append(column)
        return selected

    def _column_condition(
        self, df: pd.DataFrame, columns: list[str], rule: ColumnRule, path: str
    ) -> list[str]:
        if rule.condition is None:
            return columns
        compiled = self.compile(rule.condition)
        kept = []
        for column in columns:
            try:
                ok = compiled.evaluate(None, self._info(df, column), variables=self.variables)
            except Exception as exc:  # noqa: BLE001
                raise PiiConfigError(
                    f"{path}.condition: failed on column '{column}' ({type(exc).__name__})"
                ) from None
            if ok:
                kept.append(column)
        return kept

    def _info(self, df: pd.DataFrame, column: str) -> ColumnInfo:
        info = self.meta[column].info
        position = list(df.columns).index(column)
        if info.position != position or info.name != column:
            info = replace(info, position=position, name=column)
            self.meta[column].info = info
        return info

    # ------------------------------------------------------------------ columns
    def _add_column(self, df: pd.DataFrame, rule: ColumnRule, path: str) -> pd.DataFrame:
        names = _as_list(rule.name)
        if not names:
            raise PiiConfigError(f"{path}.name: columns.add needs the new column's name")
        positions = _as_list(rule.position) or []
        for k, name in enumerate(names):
            name = str(name)
            if name in df.columns:
                raise PiiConfigError(f"{path}.name: column '{name}' already exists")
            position = positions[k] if k < len(positions) else len(df.columns)
            position = max(0, min(int(position), len(df.columns)))
            info = ColumnInfo(name=name, entity=None, type="other", position=position, dtype="object")
            self.meta[name] = ColumnMeta(info=info, origin=None)
            if rule.value is None:
                values: list[Any] = [None] * len(df)
            else:
                compiled = self.compile(rule.value)
                self.meta[name].transforms.extend(compiled.functions)
                records = df.to_dict("records") if not compiled.per_value else None
                values = []
                for r, index in enumerate(df.index):
                    try:
                        values.append(
                            to_python(
                                compiled.evaluate(
                                    None,
                                    info,
                                    row=records[r] if records else {},
                                    index=index,
                                    variables=self.variables,
                                )
                            )
                        )
                    except Exception as exc:  # noqa: BLE001
                        raise PiiConfigError(
                            f"{path}.value: template failed ({type(exc).__name__})"
                        ) from None
            df.insert(position, name, pd.Series(values, index=df.index, dtype=object).infer_objects())
        return df

    def _drop_columns(self, df: pd.DataFrame, rule: ColumnRule, path: str) -> pd.DataFrame:
        columns = self._column_condition(df, self._select(df, rule, path), rule, path)
        if not columns:
            self._warn(f"{path}: selects no column")
            return df
        for column in columns:
            self.meta[column].transforms.append("drop")
        self.dropped.extend(origin for c in columns if (origin := self.meta[c].origin))
        return df.drop(columns=columns)

    def _rename_columns(self, df: pd.DataFrame, rule: ColumnRule, path: str) -> pd.DataFrame:
        columns = self._column_condition(df, self._select(df, rule, path), rule, path)
        if not columns:
            self._warn(f"{path}: selects no column")
            return df
        if rule.value is None:
            raise PiiConfigError(f"{path}.value: columns.rename needs the new name in value")
        mapping: dict[str, str] = {}
        for column in columns:
            if is_full_template(rule.value):
                new = str(
                    self.compile(rule.value).evaluate(None, self._info(df, column), variables=self.variables)
                )
            else:
                new = rule.value
            mapping[column] = new
        targets = list(mapping.values())
        if len(set(targets)) != len(targets) or any(t in df.columns and t not in mapping for t in targets):
            raise PiiConfigError(f"{path}.value: renaming would give two columns the same name")
        for old, new in mapping.items():
            meta = self.meta.pop(old)
            meta.info = replace(meta.info, name=new)
            self.meta[new] = meta
        return df.rename(columns=mapping)

    # ------------------------------------------------------------------ rows
    def _update(self, df: pd.DataFrame, rule: RowRule, path: str) -> pd.DataFrame:
        if rule.value is None:
            raise PiiConfigError(f"{path}.value: rows.update needs a value")
        columns = self._select(df, rule, path)
        if not columns:
            self._warn(f"{path}: selects no column")
            return df
        value = self.compile(rule.value)
        condition = self.compile(rule.condition) if rule.condition else None
        if condition is not None and " ".join(condition.source.split()) in _NOT_MISSING_FORMS:
            condition = None  # same as the default (missing cells are skipped) and much cheaper
        foreach = self.compile(rule.foreach) if rule.foreach else None
        needs_rows = (not value.per_value) or (condition is not None and not condition.per_value) or foreach
        records = df.to_dict("records") if needs_rows else None
        touched = 0
        for column in columns:
            info = self._info(df, column)
            if (
                condition is not None
                and condition.column_guard is not None
                and not condition.column_guard(info)
            ):
                continue
            series = df[column]
            current = series.to_numpy(dtype=object, copy=True)
            candidates = (
                np.arange(len(current)) if condition is not None else np.flatnonzero(~_missing(series))
            )
            if not len(candidates):
                continue
            if records is None:
                changed, candidates = self._update_per_value(
                    value, condition, current, candidates, info, path, column, rule.fallback_value
                )
            else:
                changed, candidates = self._update_per_row(
                    value,
                    condition,
                    foreach,
                    current,
                    candidates,
                    info,
                    records,
                    df.index,
                    path,
                    rule,
                    column,
                )
            if not len(candidates):
                continue
            touched += len(candidates)
            df[column] = _rebuild(series, current)
            meta = self.meta[column]
            meta.cells_replaced += changed
            for fn in value.functions:
                if fn not in meta.transforms:
                    meta.transforms.append(fn)
            if records is not None:
                for pos in candidates:
                    records[pos][column] = current[pos]
        if touched == 0:
            self._warn(f"{path}: selects no cell")
        return df

    def _update_per_value(
        self,
        value: CompiledTemplate,
        condition: CompiledTemplate | None,
        current: np.ndarray,
        candidates: np.ndarray,
        info: ColumnInfo,
        path: str,
        column: str,
        fallback: Any,
    ) -> tuple[int, np.ndarray]:
        """Evaluate once per distinct value; write results back in place. Returns (changed, positions)."""
        try:
            codes, uniques = pd.factorize(pd.Series(current[candidates], dtype=object), use_na_sentinel=False)
        except TypeError:  # unhashable cells: fall back to one evaluation per cell
            codes, uniques = np.arange(len(candidates)), current[candidates]
        uniques = np.asarray(uniques, dtype=object)  # element access on a pandas Index is slow
        n = len(uniques)
        if condition is None and value.batch is not None:
            batched = self._batch(value, uniques, info)
            if batched is not None:
                results, changed = batched
                positions = candidates
                current[positions] = results[codes]
                return int(changed[codes].sum()), positions
        keep = np.ones(n, dtype=bool)
        results = np.empty(n, dtype=object)
        changed = np.zeros(n, dtype=bool)
        variables = self.variables
        for k in range(n):
            this = uniques[k]
            if type(this) is not str:  # strings (most PII) are already Python values
                this = to_python(this)
            if condition is not None:
                try:
                    keep[k] = bool(condition.evaluate(this, info, variables=variables))
                except Exception as exc:  # noqa: BLE001 - reported with its path, without values
                    raise _cell_error(f"{path}.condition", column, exc) from None
                if not keep[k]:
                    continue
            try:
                result = value.evaluate(this, info, variables=variables)
                if type(result) is not str:
                    result = to_python(result)
            except Exception as exc:  # noqa: BLE001
                if fallback is None:
                    raise _cell_error(f"{path}.value", column, exc) from None
                result = fallback
            results[k] = result
            changed[k] = (
                result != this if type(result) is str and type(this) is str else not _same(result, this)
            )
        selected = keep[codes]
        positions = candidates[selected]
        current[positions] = results[codes[selected]]
        return int(changed[codes[selected]].sum()), positions

    def _batch(
        self, value: CompiledTemplate, uniques: np.ndarray, info: ColumnInfo
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``value`` over all distinct values at once: (results, changed), or ``None`` when a value
        fails (the caller then evaluates value by value, which reports the failure or uses the
        rule's ``fallback_value``)."""
        assert value.batch is not None
        try:
            produced = value.batch(uniques, info)
        except Exception:  # noqa: BLE001 - re-run value by value, which reports it without values
            return None
        n = len(uniques)
        results = np.empty(n, dtype=object)
        changed = np.zeros(n, dtype=bool)
        for k, (result, this) in enumerate(zip(produced, uniques, strict=True)):
            if type(result) is str:
                changed[k] = result != this if type(this) is str else not _same(result, to_python(this))
            else:
                result = to_python(result)
                changed[k] = not _same(result, this if type(this) is str else to_python(this))
            results[k] = result
        return results, changed

    def _update_per_row(
        self,
        value: CompiledTemplate,
        condition: CompiledTemplate | None,
        foreach: CompiledTemplate | None,
        current: np.ndarray,
        candidates: np.ndarray,
        info: ColumnInfo,
        records: list[dict[str, Any]],
        index: pd.Index,
        path: str,
        rule: RowRule,
        column: str,
    ) -> tuple[int, np.ndarray]:
        """Evaluate cell by cell (templates reading ``row``, ``index``, ``random`` or ``foreach``)."""
        if condition is not None:
            keep = self._evaluate(
                condition, current, candidates, info, records, index, f"{path}.condition", column
            )
            candidates = candidates[np.fromiter((bool(k) for k in keep), dtype=bool, count=len(keep))]
        if not len(candidates):
            return 0, candidates
        if foreach is not None:
            results = self._foreach(
                foreach, value, current, candidates, info, records, index, path, rule, column
            )
        else:
            results = self._evaluate(
                value, current, candidates, info, records, index, f"{path}.value", column, rule.fallback_value
            )
        changed = 0
        for pos, result in zip(candidates, results, strict=True):
            result = to_python(result)
            if not _same(result, current[pos]):
                changed += 1
            current[pos] = result
        return changed, candidates

    def _evaluate(
        self,
        compiled: CompiledTemplate,
        current: np.ndarray,
        positions: np.ndarray,
        info: ColumnInfo,
        records: list[dict[str, Any]] | None,
        index: pd.Index,
        path: str,
        column: str,
        fallback: Any = None,
    ) -> list[Any]:
        def one(this: Any, pos: int) -> Any:
            try:
                return compiled.evaluate(
                    to_python(this),
                    info,
                    row=records[pos] if records is not None else {},
                    index=index[pos],
                    variables=self.variables,
                )
            except Exception as exc:  # noqa: BLE001 - reported with its path, without values
                if fallback is not None:
                    return fallback
                raise PiiConfigError(
                    f"{path}: failed on a value of column '{column}' ({type(exc).__name__}); "
                    "set fallback_value to use a constant instead"
                ) from None

        if compiled.per_value:
            try:
                codes, uniques = pd.factorize(
                    pd.Series(current[positions], dtype=object), use_na_sentinel=False
                )
            except TypeError:  # unhashable cell values
                return [one(current[p], p) for p in positions]
            first_pos = {}
            for k, code in enumerate(codes):
                first_pos.setdefault(code, positions[k])
            mapped = [one(uniques[c], first_pos[c]) for c in range(len(uniques))]
            return [mapped[c] for c in codes]
        return [one(current[p], p) for p in positions]

    def _foreach(
        self,
        foreach: CompiledTemplate,
        value: CompiledTemplate,
        current: np.ndarray,
        positions: np.ndarray,
        info: ColumnInfo,
        records: list[dict[str, Any]] | None,
        index: pd.Index,
        path: str,
        rule: RowRule,
        column: str,
    ) -> list[Any]:
        """``foreach`` yields items; ``value`` is applied per item, each time to the running result."""
        out = []
        for pos in positions:
            row = records[pos] if records is not None else {}
            try:
                items = list(
                    foreach.evaluate(
                        to_python(current[pos]), info, row=row, index=index[pos], variables=self.variables
                    )
                )
                result = to_python(current[pos])
                for item in items:
                    result = value.evaluate(
                        result,
                        info,
                        row=row,
                        index=index[pos],
                        variables=self.variables,
                        extra={"item": item, "items": items},
                    )
            except Exception as exc:  # noqa: BLE001
                if rule.fallback_value is not None:
                    result = rule.fallback_value
                else:
                    raise PiiConfigError(
                        f"{path}.foreach: failed on a value of column '{column}' ({type(exc).__name__})"
                    ) from None
            out.append(result)
        return out

    def _drop_rows(self, df: pd.DataFrame, rule: RowRule, path: str) -> pd.DataFrame:
        condition = self.compile(rule.condition) if rule.condition else None
        has_selector = any(v is not None for v in (rule.name, rule.entity, rule.type))
        drop = np.zeros(len(df), dtype=bool)
        records = df.to_dict("records") if condition is not None and not condition.per_value else None
        if not has_selector:
            if condition is None:
                drop[:] = True
            else:
                for pos, index in enumerate(df.index):
                    try:
                        drop[pos] = bool(
                            condition.evaluate(
                                None,
                                None,
                                row=records[pos] if records else {},
                                index=index,
                                variables=self.variables,
                            )
                        )
                    except Exception as exc:  # noqa: BLE001
                        raise PiiConfigError(f"{path}.condition: failed ({type(exc).__name__})") from None
        else:
            columns = self._select(df, rule, path)
            if not columns:
                self._warn(f"{path}: selects no column")
                return df
            for column in columns:
                current = df[column].to_numpy(dtype=object)
                if condition is None:
                    drop |= np.fromiter((not is_na(v) for v in current), dtype=bool, count=len(current))
                    continue
                positions = np.arange(len(current))
                keep = self._evaluate(
                    condition,
                    current,
                    positions,
                    self._info(df, column),
                    records,
                    df.index,
                    f"{path}.condition",
                    column,
                )
                drop |= np.fromiter((bool(k) for k in keep), dtype=bool, count=len(keep))
        if not drop.any():
            self._warn(f"{path}: selects no row")
            return df
        self.rows_dropped += int(drop.sum())
        return df.loc[~drop]


def _missing(series: pd.Series) -> np.ndarray:
    """Missing cells: NA/NaN/NaT and blank strings."""
    missing = series.isna().to_numpy()
    if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
        blank = np.array(
            [isinstance(v, str) and not v.strip() for v in series.to_numpy(dtype=object)], dtype=bool
        ).reshape(len(series))
        missing = missing | blank
    return missing


def _cell_error(path: str, column: str, exc: Exception) -> PiiConfigError:
    return PiiConfigError(
        f"{path}: failed on a value of column '{column}' ({type(exc).__name__}); "
        "set fallback_value to use a constant instead"
    )


def _rebuild(original: pd.Series, values: np.ndarray) -> pd.Series:
    """A column from object ``values``, back in the original dtype when the values allow it."""
    new = pd.Series(values, index=original.index, name=original.name, dtype=object)
    inferred = new.infer_objects()
    if inferred.dtype == original.dtype:
        return inferred
    string_dtype = pd.api.types.is_string_dtype(original.dtype) and not pd.api.types.is_object_dtype(
        original.dtype
    )
    if string_dtype and all(isinstance(v, str) or is_na(v) for v in values):
        return new.astype(original.dtype)
    if pd.api.types.is_float_dtype(original.dtype) and pd.api.types.is_integer_dtype(inferred.dtype):
        return inferred.astype(original.dtype)
    if pd.api.types.is_datetime64_any_dtype(original.dtype):
        try:
            return pd.to_datetime(new).astype(original.dtype)
        except (TypeError, ValueError):
            return inferred
    return inferred
