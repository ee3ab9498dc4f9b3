"""The PII stage: validate the config, detect, run the rule steps (or the default plan), collect stats."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection

import numpy as np
import pandas as pd

from safe_synthesizer.config.replace_pii import PiiReplacerConfig
from safe_synthesizer.progress import NullProgress, Progress

from .columns import ColumnDetection, classify_columns
from .entities import DETECTED_BY_DEFAULT
from .errors import PiiConfigError
from .parallel import prefill_pseudonyms
from .plan import default_steps, fast_paths
from .pseudonym import Pseudonymizer, tokens_of_name
from .row_context import register_row_context
from .rules.context import ColumnInfo, JobContext
from .rules.engine import ColumnMeta, RuleEngine
from .rules.sandbox import job_environment
from .rules.validate import validate_config
from .stats import ColumnPiiStats, PiiResult, ReplayInput
from .text import TextScanner, build_known_values

logger = logging.getLogger("safe_synthesizer.pii")

STAGE = "replace_pii"


def validate_pii_config(config: PiiReplacerConfig) -> list[str]:
    """Check a ``replace_pii`` config without data.

    Returns warnings; raises :class:`PiiConfigError` (a ``ValueError``) listing every error with its
    path, e.g. ``replace_pii.steps[0].rows.update[1].value: unknown filter 'fakee'; did you mean 'fake'?``
    for a malformed template, an unknown filter or test, an unknown Faker method or an unknown locale.
    """
    return validate_config(config)


def _register_persons(
    df: pd.DataFrame, detections: dict[str, ColumnDetection], pseudo: Pseudonymizer
) -> None:
    """Tell the pseudonymizer which names sit next to each email (first occurrence), for coherence."""
    by_entity: dict[str, list[str]] = {}
    for column, det in detections.items():
        if det.entity:
            by_entity.setdefault(det.entity, []).append(column)
    emails = by_entity.get("email", [])
    if not emails or not ({"first_name", "last_name", "name"} & by_entity.keys()):
        return

    def first_col(entity: str) -> np.ndarray | None:
        cols = by_entity.get(entity)
        return df[cols[0]].to_numpy(dtype=object) if cols else None

    firsts, lasts, fulls = first_col("first_name"), first_col("last_name"), first_col("name")
    for email_col in emails:
        for pos, email in enumerate(df[email_col].to_numpy(dtype=object)):
            if not isinstance(email, str):
                continue
            first = firsts[pos] if firsts is not None else None
            last = lasts[pos] if lasts is not None else None
            if fulls is not None and isinstance(fulls[pos], str) and (first is None or last is None):
                tokens = list(tokens_of_name(fulls[pos]))
                if len(tokens) >= 2:
                    first = first if isinstance(first, str) else tokens[0]
                    last = last if isinstance(last, str) else tokens[-1]
            pseudo.register_person(
                email, first if isinstance(first, str) else None, last if isinstance(last, str) else None
            )


def _detection_warnings(detections: dict[str, ColumnDetection], protected: set[str]) -> list[str]:
    """Warnings about classification (never values): fail-closed columns, identifier columns."""
    out = [d.warning for c, d in detections.items() if d.warning and c not in protected]
    identifiers = [c for c, d in detections.items() if d.method == "identifier" and c not in protected]
    if identifiers:
        out.append(
            f"{len(identifiers)} column(s) of mostly unique codes treated as identifiers and replaced: "
            + ", ".join(identifiers)
            + " (lock_columns keeps a column as it is)"
        )
    return out


def _untouched_pii(
    detections: dict[str, ColumnDetection], engine: RuleEngine, protected: set[str]
) -> dict[str, str]:
    """Detected PII columns (not protected, not dropped) whose every value the custom steps kept."""
    by_origin = {m.origin: m for m in engine.meta.values() if m.origin is not None}
    untouched: dict[str, str] = {}
    for column, det in detections.items():
        meta = by_origin.get(column)
        if not det.entity or column in protected or column in engine.dropped or meta is None:
            continue
        if meta.cells_replaced == 0:
            untouched[column] = det.entity
    return untouched


def replace_pii(
    df: pd.DataFrame,
    config: PiiReplacerConfig,
    *,
    key: bytes,
    protected_columns: Collection[str] = (),
    progress: Progress | None = None,
) -> PiiResult:
    """Detect and replace PII in ``df`` (a new frame is returned; ``df`` is not modified).

    ``key`` is the per-job secret (at least 16 bytes) that keys every pseudonym: the same value gets the
    same replacement everywhere in the job and in every job given the same key. ``protected_columns``
    (and ``config.globals.lock_columns``) are never rewritten unless a rule names them in ``name``.
    Raises :class:`PiiConfigError` for configuration errors (including a rule that fails on a value
    without ``fallback_value``).
    """
    started = time.perf_counter()
    progress = progress or NullProgress()
    if not isinstance(key, bytes | bytearray) or len(key) < 16:
        raise ValueError("replace_pii needs a secret key of at least 16 bytes")
    if df.columns.duplicated().any():
        raise PiiConfigError("replace_pii: the table has duplicate column names")
    warnings = validate_pii_config(config)
    g = config.globals
    seed = g.seed if g.seed is not None else 0
    work = df.copy(deep=True)
    work.columns = [str(c) for c in work.columns]
    protected = {str(c) for c in protected_columns} | set(g.lock_columns)
    for column in sorted(set(g.lock_columns) - set(work.columns)):
        warnings.append(f"replace_pii.globals.lock_columns: no column named '{column}'")
    for message in warnings:
        logger.warning("replace_pii: %s", message)

    total_steps = 4
    progress.update(STAGE, step=0, total=total_steps, message="classifying columns")
    detections = classify_columns(work, g, seed=seed)
    pii_columns = {c: d.entity for c, d in detections.items() if d.entity}
    text_columns = [c for c, d in detections.items() if d.free_text]
    for message in _detection_warnings(detections, protected):
        warnings.append(message)
        logger.warning("replace_pii: %s", message)
    logger.info(
        "replace_pii: %d PII columns (%s), %d free-text columns",
        len(pii_columns),
        ", ".join(f"{c}={e}" for c, e in pii_columns.items()) or "none",
        len(text_columns),
    )

    progress.update(
        STAGE, step=1, total=total_steps, message="scanning free text", pii_columns=len(pii_columns)
    )
    scanner = TextScanner(g)
    if text_columns or config.steps:  # known values only help the free-text scan (and custom rules)
        scanner.known = build_known_values(work, detections)
    text_values: dict[str, set[str]] = {}
    entity_counts: dict[str, dict[str, int]] = {}
    cells_with_spans: dict[str, int] = {}
    for column in text_columns:
        values = work[column].dropna()
        values = values[values.map(lambda v: isinstance(v, str))]
        counts = values.value_counts()
        spans_per_text = scanner.scan_many(list(counts.index))
        per_entity: dict[str, int] = {}
        with_spans = 0
        for text, multiplicity, spans in zip(counts.index, counts.to_numpy(), spans_per_text, strict=True):
            if spans:
                with_spans += int(multiplicity)
            for span in spans:
                per_entity[span.entity] = per_entity.get(span.entity, 0) + int(multiplicity)
                text_values.setdefault(span.entity, set()).add(text[span.start : span.end])
        entity_counts[column] = dict(sorted(per_entity.items()))
        cells_with_spans[column] = with_spans
    progress.update(
        STAGE,
        step=2,
        total=total_steps,
        message="replacing",
        text_spans=sum(sum(c.values()) for c in entity_counts.values()),
    )

    pseudo = Pseudonymizer(bytes(key), g.locales)
    _register_persons(work, detections, pseudo)
    context = register_row_context(work, detections, pseudo)
    if context.sex is not None or context.country is not None:
        logger.info(
            "replace_pii: row context: given names follow column %s, names and places the locale of column %s",
            context.sex or "(none)",
            context.country or "(none)",
        )
    if not config.steps:  # the default plan pseudonymises exactly these values: use every core for them
        prefilled = prefill_pseudonyms(work, detections, pseudo)
        if prefilled:
            logger.info("replace_pii: %d distinct values pseudonymised in parallel", prefilled)
    job = JobContext(pseudo, scanner, seed, tuple(g.locales), globals_dict=g.model_dump())
    env = job_environment(job)
    meta: dict[str, ColumnMeta] = {}
    for position, column in enumerate(work.columns):
        det = detections[column]
        info = ColumnInfo(
            name=column,
            entity=det.entity,
            type=det.column_type,
            position=position,
            dtype=str(work[column].dtype),
            free_text=det.free_text,
        )
        meta[column] = ColumnMeta(info=info, origin=column, protected=column in protected)
    if config.steps:
        steps, plan = list(config.steps), "custom"
    else:
        steps, plan = default_steps(set(g.classify.entities or DETECTED_BY_DEFAULT)), "default"
    engine = RuleEngine(job, env, meta, fast_paths=fast_paths(job, env), warn_unused_rules=plan == "custom")
    input_columns = list(work.columns)
    out = engine.run(work, steps)
    warnings.extend(engine.warnings)
    if plan == "custom":
        untouched = _untouched_pii(detections, engine, protected)
        if untouched:
            message = (
                f"the custom steps leave {len(untouched)} detected PII column(s) unchanged: "
                + ", ".join(f"{c} ({e})" for c, e in untouched.items())
                + "; add rules for them or omit steps to use the default plan"
            )
            warnings.insert(0, message)
            logger.warning("replace_pii: %s", message)
    progress.update(STAGE, step=3, total=total_steps, message="collecting statistics")

    column_stats: dict[str, ColumnPiiStats] = {}
    renames: dict[str, str] = {}
    by_origin = {m.origin: (name, m) for name, m in engine.meta.items() if m.origin is not None}
    for column in input_columns:
        det = detections[column]
        current_name, column_meta = by_origin[column]
        non_missing = int(df.iloc[:, input_columns.index(column)].notna().sum())
        stats = ColumnPiiStats(
            column=column,
            column_type=det.column_type,
            entity=det.entity,
            detection_method=det.method,
            match_share=det.share,
            sampled_values=det.sampled,
            free_text=det.free_text,
            protected=column in protected,
            cells=non_missing,
            cells_detected=non_missing if det.entity else cells_with_spans.get(column, 0),
            cells_replaced=column_meta.cells_replaced,
            entity_counts=entity_counts.get(column, {}),
            transforms=[t for t in column_meta.transforms if t != "drop"],
            renamed_to=current_name if current_name != column and current_name in out.columns else None,
            dropped=column in engine.dropped,
        )
        if stats.renamed_to:
            renames[column] = stats.renamed_to
        column_stats[column] = stats
    added = [name for name, m in engine.meta.items() if m.origin is None and name in out.columns]
    replay = ReplayInput(
        column_entities={c: e for c, e in pii_columns.items() if e},
        text_values=text_values,
        column_renames=renames,
    )
    result = PiiResult(
        data=out,
        column_stats=column_stats,
        warnings=warnings,
        plan=plan,
        ner_backend=scanner.backend,
        gliner=scanner.gliner_status,
        rows_in=len(df),
        rows_out=len(out),
        columns_added=added,
        seconds=time.perf_counter() - started,
        _replay=replay,
    )
    replaced = sum(s.cells_replaced for s in column_stats.values())
    logger.info(
        "replace_pii: %d cells replaced in %d rows (%s plan, %.2fs)", replaced, len(out), plan, result.seconds
    )
    progress.update(STAGE, step=total_steps, total=total_steps, message="done", cells_replaced=replaced)
    return result
