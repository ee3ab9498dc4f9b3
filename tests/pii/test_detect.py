"""Detection: per-type precision/recall on the labelled fixture, name hints, value recognisers, text scan."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import pandas as pd
import pytest
from pii_helpers import KEY, config

from safe_synthesizer.pii import presidio_backend, replace_pii
from safe_synthesizer.pii.detect import (
    TextScanner,
    card_issuer_known,
    classify_columns,
    column_type,
    luhn_valid,
    name_hint,
)


def structured_scores(
    df: pd.DataFrame, labels: dict[str, Any], predicted: dict[str, str | None]
) -> dict[str, tuple[float, float, int]]:
    """Cell-level precision and recall per entity over the structured columns."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for column, truth in labels["columns"].items():
        if column in labels["text_columns"]:
            continue
        cells = int(df[column].notna().sum())
        guess = predicted.get(column)
        if truth and guess == truth:
            tp[truth] += cells
        else:
            if truth:
                fn[truth] += cells
            if guess:
                fp[guess] += cells
    out = {}
    for entity in sorted(set(tp) | set(fp) | set(fn)):
        precision = tp[entity] / (tp[entity] + fp[entity]) if tp[entity] + fp[entity] else 0.0
        recall = tp[entity] / (tp[entity] + fn[entity]) if tp[entity] + fn[entity] else 0.0
        out[entity] = (precision, recall, tp[entity] + fn[entity])
    return out


def test_fixture_has_enough_entity_types(labels: dict[str, Any]) -> None:
    structured = {e for c, e in labels["columns"].items() if e}
    in_text = {span[3] for spans in labels["spans"].values() for span in spans}
    assert len(structured | in_text) >= 12
    assert len(structured) >= 12
    assert {"notes", "feedback"} == set(labels["text_columns"])


def test_structured_precision_and_recall_per_type(labelled_df: pd.DataFrame, labels: dict[str, Any]) -> None:
    detections = classify_columns(labelled_df, config().globals)
    predicted = {c: d.entity for c, d in detections.items()}
    scores = structured_scores(labelled_df, labels, predicted)
    failing = {e: s for e, s in scores.items() if s[0] < 0.9 or s[1] < 0.95}
    assert not failing, f"per-type (precision, recall, cells) below 0.9/0.95: {failing}"
    assert len([e for e, s in scores.items() if s[2]]) >= 12


def test_scoring_can_fail(labelled_df: pd.DataFrame, labels: dict[str, Any]) -> None:
    """The metric above is not vacuous: a wrong prediction lowers precision and recall."""
    predicted = {c: e for c, e in labels["columns"].items()}
    predicted["order_id"] = "phone_number"  # a decoy wrongly flagged
    predicted["contact"] = None  # a PII column missed
    scores = structured_scores(labelled_df, labels, predicted)
    assert scores["phone_number"][0] < 0.9
    assert scores["email"][1] < 0.95


def test_detection_methods(labelled_df: pd.DataFrame) -> None:
    detections = classify_columns(labelled_df, config().globals)
    assert detections["email"].method == "column_name+values"
    assert detections["contact"].method == "values"  # no hint in the name
    assert detections["payer"].entity == "name"
    assert detections["ref_code"].entity == "credit_debit_card"  # integer column, Luhn + issuer
    assert detections["notes"].free_text and detections["notes"].entity is None
    for decoy in ("order_id", "account_state", "company", "product", "created_at", "status", "amount", "age"):
        assert detections[decoy].entity is None, decoy
    # mostly unique codes, not words: an identifier (fail closed)
    assert detections["sku"].entity == "unique_identifier" and detections["sku"].method == "identifier"


@pytest.mark.parametrize(
    ("column", "entity"),
    [
        ("email", "email"),
        ("customerEmail", "email"),
        ("email_address", "email"),
        ("ip_address", "ip_address"),
        ("mobile_phone", "phone_number"),
        ("fax", "fax_number"),
        ("SSN", "ssn"),
        ("date_of_birth", "date_of_birth"),
        ("DOB", "date_of_birth"),
        ("zip", "postcode"),
        ("postal_code", "postcode"),
        ("first_name", "first_name"),
        ("surname", "last_name"),
        ("patient_name", "name"),
        ("name", "name"),
        ("street_address", "street_address"),
        ("mailing_address", "address"),
        ("city", "city"),
        ("state", "state"),
        ("credit_card_number", "credit_debit_card"),
        ("iban", "iban"),
        ("website", "url"),
        ("tax_id", "tax_id"),
        ("passport_number", "passport_number"),
        ("product_name", None),
        ("company_name", None),
        ("username", "user_name"),
        ("status", None),
        ("amount", None),
        ("order_id", None),
    ],
)
def test_name_hints(column: str, entity: str | None) -> None:
    assert name_hint(column) == entity


def test_value_checks() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert card_issuer_known("2221000000000009")  # Mastercard 2-series, missed by presidio's pattern
    assert not card_issuer_known("9999999999999995")
    assert column_type(pd.Series(["a b c d e", "f g h i j", "k l m n o"])) == "text"
    assert column_type(pd.Series([1.5, 2.5, 3.5])) == "numeric"
    assert column_type(pd.Series([None, None])) == "empty"


def test_hint_alone_is_not_enough() -> None:
    df = pd.DataFrame(
        {
            "state": ["active", "inactive", "pending", "active", "closed"] * 4,
            "phone": ["n/a", "unknown", "call me", "later", "-"] * 4,
            "order_number": [str(5_000_000_000 + i * 7919) for i in range(20)],
        }
    )
    detections = classify_columns(df, config().globals)
    assert {c: d.entity for c, d in detections.items()} == {
        "state": None,  # a weak hint: "state" is also an account state
        "phone": None,  # no digits: nothing here can be a phone number
        "order_number": "unique_identifier",  # distinct codes: an identifier, whatever the name says
    }


def test_classify_entities_and_disable() -> None:
    df = pd.DataFrame(
        {"email": ["a.b@example.com", "c.d@example.org"] * 5, "ip": ["10.0.0.1", "8.8.8.8"] * 5}
    )
    only_ip = classify_columns(df, config({"globals": {"classify": {"entities": ["ip_address"]}}}).globals)
    assert only_ip["email"].entity is None and only_ip["ip"].entity == "ip_address"
    off = classify_columns(df, config({"globals": {"classify": {"enable_classify": False}}}).globals)
    assert all(d.entity is None for d in off.values())


TEXT = (
    "Call Maria Gonzalez at (415) 555-0132 or maria.g@example.com; card 4111 1111 1111 1111, IP 203.0.113.9."
)


def test_text_scan_with_spacy_or_patterns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="safe_synthesizer.pii")
    scanner = TextScanner(config().globals)
    found = {(s.entity, TEXT[s.start : s.end]) for s in scanner.scan(TEXT)}
    assert ("email", "maria.g@example.com") in found
    assert ("phone_number", "(415) 555-0132") in found
    assert ("credit_debit_card", "4111 1111 1111 1111") in found
    assert ("ip_address", "203.0.113.9") in found
    assert ("name", "Maria Gonzalez") in found
    assert "free-text scan" in caplog.text
    assert "maria" not in caplog.text.lower()  # no values in logs


def test_text_scan_patterns_only(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="safe_synthesizer.pii")
    monkeypatch.setattr(presidio_backend, "spacy_model_available", lambda: False)
    scanner = TextScanner(config().globals)
    assert scanner.backend == "presidio:patterns"
    assert "pattern recognisers only" in caplog.text
    found = {(s.entity, TEXT[s.start : s.end]) for s in scanner.scan(TEXT)}
    assert {("email", "maria.g@example.com"), ("credit_debit_card", "4111 1111 1111 1111")} <= found
    assert ("name", "Maria Gonzalez") in found  # name lexicon


def test_gliner_skipped_when_unavailable(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="safe_synthesizer.pii")
    scanner = TextScanner(config({"globals": {"ner": {"gliner": {"enable_gliner": True}}}}).globals)
    assert scanner.gliner_status.startswith(("skipped", "enabled"))
    if scanner.gliner_status.startswith("skipped"):
        assert "GLiNER skipped" in caplog.text
    disabled = TextScanner(config({"globals": {"ner": {"enable_gliner": False}}}).globals)
    assert disabled.gliner_status == "disabled"


def test_ner_entities_and_threshold() -> None:
    only_email = TextScanner(config({"globals": {"ner": {"ner_entities": ["email"]}}}).globals)
    assert {s.entity for s in only_email.scan(TEXT)} == {"email"}
    strict = TextScanner(config({"globals": {"ner": {"ner_threshold": 0.95}}}).globals)
    entities = {s.entity for s in strict.scan(TEXT)}
    assert "name" not in entities  # model and lexicon spans score below 0.95
    assert "email" in entities  # validated patterns are not model spans


def test_gliner_used_when_available(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a (stub) gliner package and local model, its spans join the others, chunked."""
    import sys
    import types

    calls: list[tuple[str, list[str], float]] = []

    class StubModel:
        def predict_entities(self, text: str, labels: list[str], threshold: float) -> list[dict[str, Any]]:
            calls.append((text, labels, threshold))
            at = text.find("Zorblax")
            return [{"start": at, "end": at + 7, "label": "last_name", "score": 0.9}] if at >= 0 else []

    class StubGLiNER:
        @staticmethod
        def from_pretrained(name: str, local_files_only: bool) -> StubModel:
            assert local_files_only and name == "nvidia/gliner-PII"
            return StubModel()

    monkeypatch.setitem(sys.modules, "gliner", types.SimpleNamespace(GLiNER=StubGLiNER))
    scanner = TextScanner(
        config({"globals": {"ner": {"ner_threshold": 0.5, "gliner": {"chunk_length": 200}}}}).globals
    )
    assert scanner.gliner_status == "enabled: nvidia/gliner-PII"
    text = "x " * 150 + "Agent Zorblax called."
    spans = scanner.scan(text)
    assert any(s.source == "gliner" and text[s.start : s.end] == "Zorblax" for s in spans)
    assert len(calls) == 3 and calls[0][2] == 0.5  # 200-char chunks with 128 overlap


def test_repeated_texts_are_still_scanned() -> None:
    notes = ["Call Jane Doe at jane.doe@example.com tomorrow", "No news on the order yet today", "Ok"] * 20
    df = pd.DataFrame({"note": notes, "contact": ["mail: a.b@example.com", "none"] * 30})
    detections = classify_columns(df, config().globals)
    assert detections["note"].column_type == "categorical" and detections["note"].free_text
    assert detections["contact"].free_text  # short values with emails inside
    out = replace_pii(df, config(), key=KEY).data
    assert not out["note"].str.contains("jane.doe@example.com").any()
    assert not out["contact"].str.contains("a.b@example.com").any()


def test_postcodes_in_text() -> None:
    text = "Ship to 12 Oak Street, Springfield, IL 62704 before order 55512 closes."
    default = {(s.entity, text[s.start : s.end]) for s in TextScanner(config().globals).scan(text)}
    assert ("postcode", "62704") in default and ("postcode", "55512") not in default
    assert ("street_address", "12 Oak Street") in default
    regexps = TextScanner(config({"globals": {"ner": {"enable_regexps": True}}}).globals).scan(text)
    assert ("postcode", "55512") in {(s.entity, text[s.start : s.end]) for s in regexps}
