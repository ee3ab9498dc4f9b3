#!/usr/bin/env python3
"""Write the labelled PII fixture: ``tests/pii/fixtures/pii_labelled.csv`` + ``pii_labels.json``.

Seeded Faker (en_US) data with 18 entity types: structured columns whose names say what they hold,
structured PII columns with uninformative names (detected from values only), identifier-like codes
(unique SKUs: treated as identifiers), decoy columns that look PII-like but are not (10-digit order
ids, ``account_state``, company names, timestamps), and two
free-text columns with planted spans (the row's own person and unrelated people, cards, SSNs, IBANs,
IPs, URLs, addresses). The labels JSON maps each column to its entity (``null`` for non-PII) and lists
every planted text span as ``[row, start, end, entity]``.

Note: Faker values are easier than real data (presidio's notes say so too); the bench prints recall
on this fixture, not on real data.

    python scripts/make_pii_fixture.py [--rows 600] [--seed 20261123] [--out tests/pii/fixtures]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from datetime import date, datetime
from pathlib import Path

import faker
from faker import Faker

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tests" / "pii" / "fixtures"
CSV_NAME = "pii_labelled.csv"
LABELS_NAME = "pii_labels.json"

COLUMNS: dict[str, str | None] = {
    "customer_id": None,
    "first_name": "first_name",
    "last_name": "last_name",
    "full_name": "name",
    "email": "email",
    "phone": "phone_number",
    "fax": "fax_number",
    "ssn": "ssn",
    "street_address": "street_address",
    "city": "city",
    "state": "state",
    "zip": "postcode",
    "mailing_address": "address",
    "dob": "date_of_birth",
    "credit_card": "credit_debit_card",
    "iban": "iban",
    "ip": "ip_address",
    "website": "url",
    "tax_id": "tax_id",
    "passport_number": "passport_number",
    # PII under names that say nothing: found from values only
    "contact": "email",
    "col_7": "phone_number",
    "payer": "name",
    "ref_code": "credit_debit_card",
    "node": "ip_address",
    # decoys (integer order ids: a number column is not an identifier by its values) and codes
    "order_id": None,
    "amount": None,
    "status": None,
    "account_state": None,
    "company": None,
    "product": None,
    "created_at": None,
    "sku": "unique_identifier",  # mostly unique codes, not words: replaced as identifiers
    "age": None,
    # free text
    "notes": None,
    "feedback": None,
}
TEXT_COLUMNS = ("notes", "feedback")
MISSING_SHARE = 0.03
MISSING_IN = ("email", "phone", "ssn", "dob", "iban", "contact", "fax")


def _email_for(fake: Faker, rng: random.Random, first: str, last: str) -> str:
    f, lname = first.lower(), last.lower().replace(" ", "")
    layout = rng.randrange(4)
    if layout == 0:
        local = f"{f}.{lname}"
    elif layout == 1:
        local = f"{f[0]}{lname}"
    elif layout == 2:
        local = f"{f}.{lname}{rng.randrange(10, 99)}"
    else:
        local = f"{f}{rng.randrange(1, 999)}"
    domain = rng.choice([fake.free_email_domain(), fake.domain_name()])
    return f"{local}@{domain}"


def _card(fake: Faker, rng: random.Random) -> str:
    number = fake.credit_card_number(rng.choice(["visa16", "mastercard", "amex", "discover"]))
    if rng.random() < 0.4 and len(number) == 16:
        number = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    return number


class _Text:
    """Builds a text cell while recording the planted spans."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[tuple[int, int, str]] = []
        self.length = 0

    def add(self, text: str, entity: str | None = None) -> _Text:
        if entity:
            self.spans.append((self.length, self.length + len(text), entity))
        self.parts.append(text)
        self.length += len(text)
        return self

    def value(self) -> str:
        return "".join(self.parts)


def _notes(fake: Faker, rng: random.Random, row: dict[str, object]) -> _Text:
    t = _Text()
    choice = rng.randrange(8)
    if choice == 0:
        t.add("Customer ").add(str(row["full_name"]), "name").add(" called from ")
        t.add(fake.phone_number(), "phone_number").add(f" about order {rng.randrange(10**5, 10**6)}.")
    elif choice == 1:
        t.add("Please send the invoice to ").add(str(row["email"] or fake.email()), "email")
        t.add(" and copy ").add(fake.email(), "email").add(".")
    elif choice == 2:
        t.add(str(row["full_name"]), "name").add(" asked to replace the card on file with ")
        t.add(_card(fake, rng), "credit_debit_card").add(".")
    elif choice == 3:
        t.add("Identity verified with SSN ").add(fake.ssn(), "ssn").add("; new address ")
        t.add(fake.street_address(), "street_address").add(".")
    elif choice == 4:
        t.add("Login from ").add(fake.ipv4_public(), "ip_address").add(" was flagged, details at ")
        t.add(fake.url(), "url").add(" for review.")
    elif choice == 5:
        t.add("Spoke with ").add(fake.name_nonbinary() if rng.random() < 0.2 else fake.name(), "name")
        t.add(", who referred ").add(str(row["first_name"]), "first_name").add(" last week.")
    elif choice == 6:
        t.add("Wire transfer to ").add(fake.iban(), "iban").add(" approved by ")
        t.add(f"{fake.first_name()} {fake.last_name()}", "name").add(".")
    else:
        t.add("Follow-up scheduled, no changes to the account.")
    return t


def _feedback(fake: Faker, rng: random.Random, row: dict[str, object]) -> _Text:
    t = _Text()
    choice = rng.randrange(5)
    if choice == 0:
        t.add("Great service, the delivery was quick and the support team helpful.")
    elif choice == 1:
        t.add("The agent ").add(f"{fake.first_name()} {fake.last_name()}", "name")
        t.add(" was very helpful with my question.")
    elif choice == 2:
        t.add("Please contact me at ").add(fake.email(), "email").add(" or ")
        t.add(fake.phone_number(), "phone_number").add(" after five.")
    elif choice == 3:
        t.add("My package for ").add(str(row["street_address"]), "street_address").add(
            " arrived two days late."
        )
    else:
        t.add("Thanks ").add(f"{fake.first_name()} {fake.last_name()}", "name")
        t.add(", my new number is ").add(fake.numerify("(###) ###-####"), "phone_number").add(".")
    return t


def generate(rows: int, seed: int) -> tuple[list[dict[str, object]], dict[str, object]]:
    """Rows and labels."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    records: list[dict[str, object]] = []
    spans: dict[str, list[list[object]]] = {c: [] for c in TEXT_COLUMNS}
    for i in range(rows):
        first, last = fake.first_name(), fake.last_name()
        street, city, state = fake.street_address(), fake.city(), fake.state_abbr(include_territories=False)
        postcode = fake.postcode() if rng.random() < 0.85 else fake.zipcode_plus4()
        row: dict[str, object] = {
            "customer_id": 100000 + i,
            "first_name": first,
            "last_name": last,
            "full_name": f"{first} {last}",
            "email": _email_for(fake, rng, first, last),
            "phone": fake.phone_number(),
            "fax": fake.numerify(rng.choice(["###-###-####", "(###) ###-####", "+1-###-###-####"])),
            "ssn": fake.ssn(),
            "street_address": street,
            "city": city,
            "state": state,
            "zip": postcode,
            "mailing_address": f"{street}, {city}, {state} {postcode}",
            "dob": fake.date_between_dates(date(1935, 1, 1), date(2007, 12, 31)).isoformat(),
            "credit_card": _card(fake, rng),
            "iban": fake.iban(),
            "ip": fake.ipv4_public()
            if rng.random() < 0.7
            else (fake.ipv4_private() if rng.random() < 0.6 else fake.ipv6()),
            "website": fake.url(),
            "tax_id": fake.ein(),
            "passport_number": fake.passport_number(),
            "contact": fake.email(),
            "col_7": fake.numerify(rng.choice(["(###) ###-####", "###-###-####", "###.###.####"])).replace(
                "(0", "(2"
            ),
            "payer": fake.name() if rng.random() < 0.5 else f"{fake.first_name()} {fake.last_name()}",
            "ref_code": fake.credit_card_number(rng.choice(["visa16", "mastercard", "discover"])),
            "node": fake.ipv4(),
            "order_id": rng.randrange(10**9, 10**10),
            "amount": round(rng.uniform(5, 2500), 2),
            "status": rng.choice(["active", "inactive", "pending"]),
            "account_state": rng.choice(["open", "closed", "frozen", "review"]),
            "company": fake.company(),
            "product": f"{fake.color_name()} {fake.word().title()}",
            "created_at": fake.date_time_between_dates(datetime(2024, 1, 1), datetime(2026, 6, 30)).isoformat(
                sep=" ", timespec="seconds"
            ),
            "sku": fake.bothify("??-#####").upper(),
            "age": rng.randrange(18, 91),
        }
        for column in MISSING_IN:
            if rng.random() < MISSING_SHARE:
                row[column] = None
        for column, make in (("notes", _notes), ("feedback", _feedback)):
            text = make(fake, rng, row)
            row[column] = text.value()
            spans[column].extend([i, s, e, ent] for s, e, ent in text.spans)
        records.append(row)
    labels = {
        "generator": {
            "script": "scripts/make_pii_fixture.py",
            "rows": rows,
            "seed": seed,
            "faker_version": faker.VERSION,
            "locale": "en_US",
        },
        "columns": COLUMNS,
        "text_columns": list(TEXT_COLUMNS),
        "spans": spans,
    }
    return records, labels


def write(out: Path, rows: int, seed: int) -> tuple[Path, Path]:
    """Generate and write both files; returns their paths."""
    records, labels = generate(rows, seed)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, labels_path = out / CSV_NAME, out / LABELS_NAME
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({k: ("" if v is None else v) for k, v in record.items()})
    labels_path.write_text(json.dumps(labels, indent=1) + "\n", encoding="utf-8")
    return csv_path, labels_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=600)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    csv_path, labels_path = write(args.out, args.rows, args.seed)
    print(f"wrote {csv_path} and {labels_path} ({args.rows} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
