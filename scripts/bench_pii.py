#!/usr/bin/env python3
"""PII benchmark: detection precision/recall per entity on the labelled fixture, and throughput.

1. Structured columns (cell level): a cell counts for entity E when its column is classified as E.
2. Free text (span level): a planted span is found when a detected span overlaps it with a compatible
   entity (person: name/first_name/last_name; place: street_address/address/city/state); precision is
   the share of detected spans that overlap a planted one. Printed for the spaCy backend (when
   installed) and for pattern recognisers only.
3. Throughput of the default plan on freshly generated structured columns (distinct values; import
   and model loading excluded), rows per second; plus the seed rule ``column.entity | fake``.
4. The held-out set of ``scripts/make_pii_holdout.py`` (built apart from the detector: 14 locales,
   mixed naming styles and languages, damaged values, hand-written pools), default config:
   structured cells: per class the share of PII cells whose value changed (recall) and the column
   classification's precision; the share of non-PII cells changed; free text: per class the share of
   labelled spans no longer present after replacement, detection recall and span precision. Printed
   for the development seed and, with ``--final``, for the final-check seed too.

Faker data is easier than real data: the fixture figures are figures on this fixture, not on real
tables; the held-out figures are the closer estimate.

    python scripts/bench_pii.py [--rows 20000] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "pii" / "fixtures"
KEY = b"bench-key-0123456789abcdef-00001"
GROUPS = [{"name", "first_name", "last_name"}, {"street_address", "address", "city", "state"}]
#: Compatible detections in the held-out free text (a postcode found inside an address span counts).
HOLDOUT_GROUPS = [
    {"name", "first_name", "last_name"},
    {"street_address", "address", "city", "state", "postcode"},
    {"phone_number", "fax_number"},
    {"date_of_birth", "date"},
    {
        "ssn",
        "national_id",
        "tax_id",
        "passport_number",
        "drivers_license",
        "license_plate",
        "vehicle_identifier",
        "account_number",
        "unique_identifier",
    },
]
HOLDOUT_PLACEHOLDERS = {"n/a", "unknown"}


def _load_script(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_generator() -> Any:
    return _load_script("make_pii_fixture")


def _compatible(a: str, b: str) -> bool:
    return a == b or any(a in g and b in g for g in GROUPS)


def structured_scores(df: pd.DataFrame, labels: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per-entity cell-level precision/recall of column classification."""
    from safe_synthesizer.config.replace_pii import PiiReplacerConfig
    from safe_synthesizer.pii.detect import classify_columns

    detections = classify_columns(df, PiiReplacerConfig().globals)
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for column, truth in labels["columns"].items():
        if column in labels["text_columns"]:
            continue
        cells = int(df[column].notna().sum())
        guess = detections[column].entity
        if truth and guess == truth:
            tp[truth] += cells
        else:
            if truth:
                fn[truth] += cells
            if guess:
                fp[guess] += cells
    return _scores(tp, fp, fn)


def _scores(tp: Counter[str], fp: Counter[str], fn: Counter[str]) -> dict[str, dict[str, float]]:
    out = {}
    for entity in sorted(set(tp) | set(fp) | set(fn)):
        p = tp[entity] / (tp[entity] + fp[entity]) if tp[entity] + fp[entity] else 0.0
        r = tp[entity] / (tp[entity] + fn[entity]) if tp[entity] + fn[entity] else 0.0
        out[entity] = {"precision": round(p, 4), "recall": round(r, 4), "support": tp[entity] + fn[entity]}
    return out


def text_scores(df: pd.DataFrame, labels: dict[str, Any], use_spacy: bool) -> tuple[dict, float, str]:
    """Span-level recall per planted entity and precision of detected spans; texts per second."""
    from safe_synthesizer.config.replace_pii import PiiReplacerConfig
    from safe_synthesizer.pii import detect, presidio_backend

    g = PiiReplacerConfig().globals
    if not use_spacy:
        original = presidio_backend.spacy_model_available
        presidio_backend.spacy_model_available = lambda: False  # type: ignore[assignment]
    try:
        detections = detect.classify_columns(df, g)
        scanner = detect.TextScanner(g)
        scanner.known = detect.build_known_values(df, detections)
        texts = [str(t) for c in labels["text_columns"] for t in df[c]]
        scanner.scan_many(texts[:20])  # warm the model
        scanner._cache.clear()
        started = time.perf_counter()
        scanner.scan_many(texts)
        seconds = time.perf_counter() - started
    finally:
        if not use_spacy:
            presidio_backend.spacy_model_available = original  # type: ignore[assignment]
    planted: dict[tuple[str, int], list[tuple[int, int, str]]] = {}
    for column, spans in labels["spans"].items():
        for row, start, end, entity in spans:
            planted.setdefault((column, row), []).append((start, end, entity))
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    det_hits = det_total = 0
    for column in labels["text_columns"]:
        for row, text in enumerate(df[column]):
            spans = scanner.scan(str(text))
            gold = planted.get((column, row), [])
            for start, end, entity in gold:
                total[entity] += 1
                if any(s.start < end and start < s.end and _compatible(s.entity, entity) for s in spans):
                    found[entity] += 1
            for s in spans:
                det_total += 1
                det_hits += any(s.start < end and start < s.end for start, end, _ in gold)
    per_entity = {e: {"recall": round(found[e] / total[e], 4), "support": total[e]} for e in sorted(total)}
    per_entity["_all"] = {
        "recall": round(sum(found.values()) / max(1, sum(total.values())), 4),
        "precision": round(det_hits / max(1, det_total), 4),
        "support": sum(total.values()),
    }
    return per_entity, len(texts) / seconds, scanner.backend


TYPICAL_COLUMNS = [
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "street_address",
    "city",
    "state",
    "zip",
    "dob",
    "order_id",
    "amount",
    "status",
    "account_state",
    "company",
    "product",
    "created_at",
    "sku",
    "age",
]


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the forked pseudonym workers)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def throughput(rows: int) -> dict[str, Any]:
    """Rows per second of the default plan (and a seed rule) on distinct structured values."""
    from safe_synthesizer.config.replace_pii import PiiReplacerConfig
    from safe_synthesizer.pii import replace_pii

    generator = _load_generator()
    started = time.perf_counter()
    records, labels = generator.generate(rows, 7)
    generated = time.perf_counter() - started
    full = pd.DataFrame.from_records(records).drop(columns=labels["text_columns"])
    replace_pii(full.head(300), PiiReplacerConfig(), key=KEY)  # imports, lexicons, Faker pools
    seed_rule = PiiReplacerConfig.model_validate(
        {
            "steps": [
                {"rows": {"update": [{"entity": ["email", "phone_number"], "value": "column.entity | fake"}]}}
            ]
        }
    )
    results: dict[str, Any] = {"rows": rows, "generation_seconds": round(generated, 1)}
    for table, df in (("all_structured", full), ("customer_table", full[TYPICAL_COLUMNS])):
        pii_columns = sum(1 for c in df.columns if labels["columns"][c])
        entry: dict[str, Any] = {"columns": df.shape[1], "pii_columns": pii_columns}
        for label, cfg in (
            ("default_plan", PiiReplacerConfig()),
            ("seed_rule_column_entity_fake", seed_rule),
        ):
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            cpu_before = _cpu_seconds()
            started = time.perf_counter()
            result = replace_pii(df, cfg, key=KEY)
            seconds = time.perf_counter() - started
            cpu = _cpu_seconds() - cpu_before
            cells = result.summary()["cells_replaced"]
            entry[label] = {
                "seconds": round(seconds, 3),
                "rows_per_second": round(rows / seconds),
                "cells_replaced": cells,
                "cells_replaced_per_second": round(cells / seconds),
                "cpu_seconds": round(cpu, 2),
                "rows_per_cpu_second": round(rows / cpu) if cpu > 0 else None,
                "load_average_before": round(load, 2),
            }
        results[table] = entry
    return results


def _holdout_compatible(a: str, b: str) -> bool:
    return a == b or any(a in g and b in g for g in HOLDOUT_GROUPS)


def holdout_table_scores(
    df: pd.DataFrame, labels: dict[str, str | None], out: pd.DataFrame, detected: dict
) -> dict:
    """Cell-level replacement recall per class, classification precision, non-PII cells changed."""
    cells: Counter[str] = Counter()
    replaced: Counter[str] = Counter()
    classified_ok: Counter[str] = Counter()
    claimed: Counter[str] = Counter()
    claimed_ok: Counter[str] = Counter()
    missed_columns: dict[str, list[str]] = {}
    non_pii = non_pii_changed = 0
    for column, truth in labels.items():
        before, after = df[column], out[column]
        present = before.notna() & ~before.astype(str).str.strip().str.lower().isin(HOLDOUT_PLACEHOLDERS)
        changed = present & (before.astype(str) != after.astype(str))
        n, k = int(present.sum()), int(changed.sum())
        guess = detected.get(column)
        if guess:
            claimed[guess] += n
            claimed_ok[guess] += n if truth and _holdout_compatible(guess, truth) else 0
        if truth:
            cells[truth] += n
            replaced[truth] += k
            classified_ok[truth] += n if guess and _holdout_compatible(guess, truth) else 0
            if k < n:
                missed_columns.setdefault(truth, []).append(f"{column} {k}/{n}")
        else:
            non_pii += n
            non_pii_changed += k
    per_class = {
        e: {
            "cells": cells[e],
            "replaced": round(replaced[e] / cells[e], 4) if cells[e] else 0.0,
            "classified": round(classified_ok[e] / cells[e], 4) if cells[e] else 0.0,
        }
        for e in sorted(cells)
    }
    precision = {e: round(claimed_ok[e] / claimed[e], 4) for e in sorted(claimed) if claimed[e]}
    total = sum(cells.values())
    return {
        "per_class": per_class,
        "classification_precision": precision,
        "pii_cells": total,
        "pii_cells_replaced": round(sum(replaced.values()) / total, 4) if total else 0.0,
        "non_pii_cells": non_pii,
        "non_pii_cells_changed": round(non_pii_changed / non_pii, 5) if non_pii else 0.0,
        "columns_not_fully_replaced": missed_columns,
    }


def holdout_text_scores(
    texts: list[str], spans: list[list[Any]], out: list[str], found: list[list[Any]]
) -> dict:
    """Span-level: replaced (original text gone), detected (compatible overlap), precision."""
    import re

    total: Counter[str] = Counter()
    gone: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    detected = detected_true = 0
    clean = clean_changed = 0
    for text, gold, new, spans_found in zip(texts, spans, out, found, strict=True):
        if not gold:
            clean += 1
            clean_changed += text != new
        for start, end, entity in gold:
            value = text[start:end]
            total[entity] += 1
            if not re.search(r"(?<!\w)" + re.escape(value) + r"(?!\w)", new):
                gone[entity] += 1
            if any(
                s.start < end and start < s.end and _holdout_compatible(s.entity, entity) for s in spans_found
            ):
                hit[entity] += 1
        for s in spans_found:
            detected += 1
            detected_true += any(s.start < end and start < s.end for start, end, _ in gold)
    per_class = {
        e: {
            "spans": total[e],
            "replaced": round(gone[e] / total[e], 4),
            "detected": round(hit[e] / total[e], 4),
        }
        for e in sorted(total)
    }
    n = sum(total.values())
    return {
        "per_class": per_class,
        "spans": n,
        "replaced": round(sum(gone.values()) / n, 4) if n else 0.0,
        "detected": round(sum(hit.values()) / n, 4) if n else 0.0,
        "precision": round(detected_true / detected, 4) if detected else 0.0,
        "pii_free_texts_changed": f"{clean_changed}/{clean}",
    }


def holdout(seed: int) -> dict[str, Any]:
    """The default config on the held-out table and texts of ``seed``."""
    from safe_synthesizer.config.replace_pii import PiiReplacerConfig
    from safe_synthesizer.pii import detect, replace_pii

    generator = _load_script("make_pii_holdout")
    df, labels = generator.table(seed)
    started = time.perf_counter()
    result = replace_pii(df, PiiReplacerConfig(), key=KEY)
    seconds = time.perf_counter() - started
    detected = {c: s.entity for c, s in result.column_stats.items()}
    report = holdout_table_scores(df, labels, result.data, detected)
    report["seconds"] = round(seconds, 2)
    report["warnings"] = len(result.warnings)
    scanner = detect.TextScanner(PiiReplacerConfig().globals)
    for name, make in (("text", generator.texts), ("text_v2", generator.texts_v2)):
        texts, spans = make(seed)
        frame = pd.DataFrame({"note": texts})
        out = replace_pii(frame, PiiReplacerConfig(), key=KEY).data["note"].astype(str).tolist()
        found = scanner.scan_many(texts)
        report[name] = holdout_text_scores(texts, spans, out, found)
        report[name]["backend"] = scanner.backend
    return report


def print_holdout(seed: int, report: dict[str, Any]) -> None:
    """Print one held-out report."""
    print(
        f"\nHeld-out identity table (scripts/make_pii_holdout.py, seed {seed}; default config, {report['seconds']} s): "
        f"{report['pii_cells_replaced']:.3f} of {report['pii_cells']} PII cells replaced; "
        f"non-PII cells changed {report['non_pii_cells_changed']:.4f} of {report['non_pii_cells']}"
    )
    print(f"  {'class':20} {'replaced':>8} {'classif.':>8} {'precision':>9} {'cells':>6}")
    for entity, s in report["per_class"].items():
        precision = report["classification_precision"].get(entity)
        shown = f"{precision:9.3f}" if precision is not None else f"{'-':>9}"
        print(f"  {entity:20} {s['replaced']:8.3f} {s['classified']:8.3f} {shown} {s['cells']:6d}")
    wrong = {e: p for e, p in report["classification_precision"].items() if e not in report["per_class"]}
    for entity, precision in wrong.items():
        print(f"  {entity:20} {'-':>8} {'-':>8} {precision:9.3f} (a class not in the table)")
    for name, title in (("text", "free text"), ("text_v2", "free text, second template set")):
        t = report[name]
        print(
            f"  {title} ({t['backend']}): {t['spans']} labelled spans, replaced {t['replaced']:.3f}, "
            f"detected {t['detected']:.3f}, span precision {t['precision']:.3f}; "
            f"PII-free texts changed {t['pii_free_texts_changed']}"
        )
        for entity, s in t["per_class"].items():
            print(
                f"    {entity:20} replaced {s['replaced']:.3f}  detected {s['detected']:.3f}  ({s['spans']})"
            )


def fixture_scores(df: pd.DataFrame, labels: dict[str, Any], report: dict[str, Any]) -> None:
    """Print (and add to ``report``) the fixture's structured and free-text scores."""
    report["structured"] = structured_scores(df, labels)
    print(f"Structured columns, cell level ({len(df)} rows, {os.cpu_count()} cores)")
    print(f"  {'entity':20} {'precision':>9} {'recall':>7} {'cells':>6}")
    for entity, s in report["structured"].items():
        print(f"  {entity:20} {s['precision']:9.3f} {s['recall']:7.3f} {s['support']:6d}")

    from safe_synthesizer.pii.detect import spacy_model_available

    modes = [True, False] if spacy_model_available() else [False]
    for use_spacy in modes:
        scores, texts_per_second, backend = text_scores(df, labels, use_spacy)
        report[f"text[{backend}]"] = {"scores": scores, "texts_per_second": round(texts_per_second, 1)}
        overall = scores.pop("_all")
        print(f"\nFree text, span level, backend {backend}: {texts_per_second:.0f} texts/s")
        print(
            f"  all planted spans: recall {overall['recall']:.3f} ({overall['support']}), precision {overall['precision']:.3f}"
        )
        for entity, s in scores.items():
            print(f"  {entity:20} recall {s['recall']:.3f} ({s['support']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000, help="rows for the throughput run")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument(
        "--final", action="store_true", help="also score the final-check seed of the held-out set"
    )
    parser.add_argument(
        "--holdout-only", action="store_true", help="only the held-out set (no fixture, no throughput)"
    )
    parser.add_argument(
        "--throughput-only",
        action="store_true",
        help="only the throughput tables (no fixture, no held-out set)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("safe_synthesizer.pii").setLevel(logging.ERROR)  # fail-closed warnings: counted below
    sys.path.insert(0, str(ROOT / "runner"))
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

    df = pd.read_csv(FIXTURES / "pii_labelled.csv")
    labels = json.loads((FIXTURES / "pii_labels.json").read_text(encoding="utf-8"))
    report: dict[str, Any] = {"cores": os.cpu_count(), "fixture_rows": len(df)}
    generator = _load_script("make_pii_holdout")
    seeds = [generator.DEV_SEED] + ([generator.FINAL_SEED, generator.FRESH_SEED] if args.final else [])
    if args.holdout_only:
        for seed in seeds:
            report[f"holdout[{seed}]"] = holdout(seed)
            print_holdout(seed, report[f"holdout[{seed}]"])
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        return 0

    if args.throughput_only:
        seeds = []
    else:
        fixture_scores(df, labels, report)

    for seed in seeds:
        report[f"holdout[{seed}]"] = holdout(seed)
        print_holdout(seed, report[f"holdout[{seed}]"])

    tp = throughput(args.rows)
    report["throughput"] = tp
    for table in ("all_structured", "customer_table"):
        entry = tp[table]
        print(
            f"\nThroughput, {table} ({tp['rows']} rows x {entry['columns']} columns, {entry['pii_columns']} PII), "
            "import and model loading excluded"
        )
        for label in ("default_plan", "seed_rule_column_entity_fake"):
            s = entry[label]
            print(
                f"  {label:30} {s['rows_per_second']:>7} rows/s  {s['cells_replaced_per_second']:>7} cells/s  "
                f"({s['seconds']} s, {s['cells_replaced']} cells replaced; {s['cpu_seconds']} CPU s, "
                f"{s['rows_per_cpu_second']} rows per CPU s; load average before {s['load_average_before']})"
            )
        goal = entry["default_plan"]["rows_per_second"] >= 5000
        print(f"  goal >= 5000 rows/s (default plan): {'met' if goal else 'NOT met'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
